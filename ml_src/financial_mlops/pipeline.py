"""The train and evaluate pipelines, independent of MLflow (tracking is layered on in mlflow_logging.py)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from financial_mlops import policy
from financial_mlops.bundle import ModelBundle, save_bundle
from financial_mlops.data import load_market
from financial_mlops.dataset import PreparedData, SplitConfig, prepare, windows_for_spec
from financial_mlops.evaluation import evaluate_split
from financial_mlops.feature_files import data_section
from financial_mlops.folds import walk_forward
from financial_mlops.leakage_check import random_walk_check
from financial_mlops.metrics import calibration_table, downsample_curves
from financial_mlops.models import LSTMClassifier, build_model, count_parameters
from financial_mlops.plots import plot_equity, plot_loss_curves, plot_reliability
from financial_mlops.progress import step_note
from financial_mlops.spec import FeatureSpec
from financial_mlops.train import FitResult, TrainConfig, fit, predict_logits, seed_everything


@dataclass
class TrainingOutcome:
    report: dict[str, Any]
    model: LSTMClassifier
    spec: FeatureSpec
    prepared: PreparedData
    fit: FitResult
    bundle_dir: Path
    plot_paths: list[Path]


def _fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()[:16]


def _proba(model: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    return torch.sigmoid(predict_logits(model, torch.from_numpy(X))).numpy().astype(np.float64)


def _finish_report(
    report: dict[str, Any],
    model: LSTMClassifier,
    prepared: PreparedData,
    out_dir: Path,
    seed: int,
    cost_bps: float = policy.COST_BPS,
) -> list[Path]:
    """Test metrics, baselines, calibration, backtest, sanity check, plots (shared by train and evaluate)."""
    step_note("report", "scoring the test split against the naive baselines")
    test = prepared.splits["test"]
    proba = _proba(model, test.X)
    metrics, baselines, backtest, checks, warnings = evaluate_split(proba, prepared, "test", cost_bps)
    curves = backtest.pop("curves")
    report["test"] = metrics
    report["baselines"] = baselines
    report["calibration"] = calibration_table(test.y, proba, policy.CALIBRATION_BINS)
    backtest["equity_curve"] = downsample_curves(curves)
    report["backtest"] = backtest
    step_note("report", "random-walk leakage check")
    sanity = random_walk_check(lambda x: _proba(model, x), prepared.spec, seed)
    report["sanity"] = {"random_walk": sanity}
    checks["sanity_random_walk_passed"] = sanity["passed"]
    if not sanity["passed"]:
        warnings.append(
            f"LEAKAGE SUSPECTED: accuracy on a pure random walk is {sanity['accuracy']:.4f}, outside "
            f"{sanity['band']}; a feature is probably computed from future bars."
        )
    report["checks"] = checks
    report["warnings"] = warnings
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_equity(
            curves,
            plots_dir / "equity_curve.png",
            f"Test split (illustration): long/flat, {cost_bps:g} bps per trade, vs buy and hold",
        ),
        plot_reliability(report["calibration"], plots_dir / "reliability.png", "Test split: reliability"),
    ]
    return paths


def _walk_forward(
    report: dict[str, Any],
    prepared: PreparedData,
    variant: str,
    config: TrainConfig,
    epochs: int,
    folds: int,
) -> None:
    """Per-fold and pooled out-of-sample figures; on too little data, a warning (the gate then rejects)."""
    if folds < 1:
        report["walk_forward"] = {"skipped": "folds = 0"}
        return
    try:
        result = walk_forward(prepared, variant, config, epochs, folds)
    except ValueError as exc:
        report["walk_forward"] = {"error": str(exc)}
        report["warnings"].append(f"NO WALK-FORWARD EVALUATION: {exc}; the gate will reject this run")
        return
    report.update(result)


def run_training(
    data_path: str | Path,
    variant: str,
    train_config: TrainConfig,
    split_config: SplitConfig | None = None,
    out_dir: str | Path = "build/train",
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    folds: int = policy.FOLDS,
    fold_epochs: int | None = None,
    cost_bps: float = policy.COST_BPS,
) -> TrainingOutcome:
    """Load and prepare ``data_path``, then train (the features and train steps in one call)."""
    market = load_market(data_path)
    prepared = prepare(market, split_config or SplitConfig())
    return train_prepared(
        prepared,
        data_section(market, prepared),
        variant,
        train_config,
        out_dir,
        checkpoint_dir,
        resume,
        folds=folds,
        fold_epochs=fold_epochs,
        cost_bps=cost_bps,
    )


def train_prepared(
    prepared: PreparedData,
    data: dict[str, Any],
    variant: str,
    train_config: TrainConfig,
    out_dir: str | Path = "build/train",
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    folds: int = policy.FOLDS,
    fold_epochs: int | None = None,
    cost_bps: float = policy.COST_BPS,
) -> TrainingOutcome:
    """Train ``variant`` on prepared windows (from ``prepare`` or the features step's folder).

    Then ``folds`` walk-forward folds score the same procedure out of sample;
    each fold model trains ``fold_epochs`` epochs (default: the best epoch
    early stopping found for the final model).
    """
    split_config = prepared.config
    out_dir = Path(out_dir)
    seed_everything(train_config.seed)
    train, val = prepared.splits["train"], prepared.splits["val"]

    model = build_model(variant, input_size=len(prepared.spec.feature_names))
    identity = {
        "variant": variant,
        "seed": train_config.seed,
        "window": split_config.window,
        "batch_size": train_config.batch_size,
        "data": _fingerprint(train.X, train.y),
    }
    started = time.perf_counter()
    result = fit(
        model,
        (torch.from_numpy(train.X), torch.from_numpy(train.y)),
        (torch.from_numpy(val.X), torch.from_numpy(val.y)),
        train_config,
        checkpoint_dir=checkpoint_dir if checkpoint_dir is not None else out_dir / "checkpoints",
        resume=resume,
        identity=identity,
    )
    report: dict[str, Any] = {
        "model": {
            "variant": variant,
            "input_size": model.input_size,
            "hidden_size": model.hidden_size,
            "num_layers": model.num_layers,
            "dropout": model.dropout_p,
            "parameters": count_parameters(model),
            "window": split_config.window,
            "feature_names": prepared.spec.feature_names,
        },
        "data": data,
        "training": {
            **train_config.to_dict(),
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "stopped_early": result.stopped_early,
            "resumed_from_epoch": result.resumed_from_epoch,
            "train_seconds": result.train_seconds,
            "train_samples_per_second": result.train_samples_per_second,
            "history": result.history,
        },
        "val": {"accuracy": result.history[result.best_epoch - 1]["val_accuracy"]}
        if result.best_epoch
        else {},
    }
    plot_paths = _finish_report(report, model, prepared, out_dir, train_config.seed, cost_bps)
    wf_started = time.perf_counter()
    _walk_forward(
        report, prepared, variant, train_config, fold_epochs or result.best_epoch or result.epochs_run, folds
    )
    report["training"]["walk_forward_seconds"] = time.perf_counter() - wf_started
    plot_paths.insert(
        0, plot_loss_curves(result.history, result.best_epoch, out_dir / "plots" / "loss_curves.png")
    )
    report["wall_seconds"] = time.perf_counter() - started
    bundle_dir = save_bundle(out_dir / "bundle", model, variant, prepared.spec, report)
    return TrainingOutcome(
        report=report,
        model=model,
        spec=prepared.spec,
        prepared=prepared,
        fit=result,
        bundle_dir=bundle_dir,
        plot_paths=plot_paths,
    )


def run_evaluation(
    data_path: str | Path,
    bundle: ModelBundle,
    out_dir: str | Path,
    seed: int = 0,
    cost_bps: float = policy.COST_BPS,
) -> dict[str, Any]:
    """Evaluate a trained bundle on the test split of ``data_path`` (same split rules as training)."""
    out_dir = Path(out_dir)
    market = load_market(data_path)
    # the split rules the model was trained with, so "test" means the same bars
    trained = bundle.metrics.get("data", {})
    split = SplitConfig(
        window=bundle.feature_spec.window,
        val_fraction=trained.get("val_fraction", SplitConfig.val_fraction),
        test_fraction=trained.get("test_fraction", SplitConfig.test_fraction),
        gap=trained.get("gap"),
    )
    prepared = windows_for_spec(market, bundle.feature_spec, split)
    report: dict[str, Any] = {
        "model": {**bundle.model_config, "parameters": count_parameters(bundle.model)},
        "data": data_section(market, prepared),
        "trained_report_test_accuracy": bundle.metrics.get("test", {}).get("accuracy"),
    }
    _finish_report(report, bundle.model, prepared, out_dir, seed, cost_bps)
    return report
