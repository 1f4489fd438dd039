"""Log a training outcome to MLflow and register the model (one registered model per variant).

Per run: params, per-epoch metrics, final metrics, the bundle files under
``bundle/``, plots under ``plots/``, ``report.json``, and the model through
``mlflow.pytorch`` (signature + input example) under ``model``. The model is
registered as ``financial-lstm-<variant>`` and the new version gets the alias
``challenger``; promotion to ``champion`` is the validation gate's job.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from financial_mlops.bundle import METRICS_FILE
from financial_mlops.models import ProbabilityModel
from financial_mlops.pipeline import TrainingOutcome
from financial_mlops.tracking import (
    CHALLENGER_ALIAS,
    DEFAULT_EXPERIMENT,
    EVALUATION_ARTIFACT,
    SANITY_TAG,
    registered_model_name,
    resolve_tracking_uri,
)


def _is_local_store(uri: str) -> bool:
    return uri.startswith("sqlite:") or uri.startswith("file:") or "://" not in uri


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """Experiment id; a new experiment on a local store keeps its artifacts in ./mlartifacts."""
    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = (Path.cwd() / "mlartifacts").as_uri() if _is_local_store(tracking_uri) else None
    return client.create_experiment(name, artifact_location=location)


def _finite_metrics(prefix: str, section: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in section.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[f"{prefix}{key}"] = float(value)
    return out


def _params(report: dict[str, Any]) -> dict[str, Any]:
    model, training, data = report["model"], report["training"], report["data"]
    return {
        "variant": model["variant"],
        "hidden_size": model["hidden_size"],
        "num_layers": model["num_layers"],
        "dropout": model["dropout"],
        "parameters": model["parameters"],
        "window": model["window"],
        "n_features": model["input_size"],
        "epochs": training["epochs"],
        "batch_size": training["batch_size"],
        "lr": training["lr"],
        "weight_decay": training["weight_decay"],
        "patience": training["patience"],
        "grad_clip": training["grad_clip"],
        "seed": training["seed"],
        "data_source": data["source"],
        "data_synthetic": data["synthetic"],
        "tickers": ",".join(data["tickers"])[:500],
        "gap": data["gap"],
        "n_train": data["split_sizes"]["train"],
        "n_val": data["split_sizes"]["val"],
        "n_test": data["split_sizes"]["test"],
    }


def log_training(
    outcome: TrainingOutcome,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    register: bool = True,
) -> dict[str, Any]:
    """Log everything about one training run; returns the ``mlflow`` section added to the report."""
    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    report = outcome.report
    variant = report["model"]["variant"]
    experiment_id = ensure_experiment(experiment, uri)
    client = MlflowClient(tracking_uri=uri)
    sanity_passed = bool(report["sanity"]["random_walk"]["passed"])

    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{variant}") as run:
        mlflow.log_params(_params(report))
        mlflow.set_tags(
            {
                SANITY_TAG: str(sanity_passed).lower(),
                "variant": variant,
                "data_synthetic": str(report["data"]["synthetic"]).lower(),
                "constant_predictor": str(report["checks"]["constant_predictor"]).lower(),
                "beats_all_baselines": str(report["checks"]["beats_all_baselines"]).lower(),
            }
        )
        for row in report["training"]["history"]:
            step = int(row["epoch"])
            mlflow.log_metrics(_finite_metrics("", {k: v for k, v in row.items() if k != "epoch"}), step=step)
        final = _finite_metrics("test_", report["test"])
        for name, section in report["baselines"].items():
            final.update(_finite_metrics(f"baseline_{name}_", section))
        final.update(_finite_metrics("backtest_strategy_", report["backtest"]["strategy"]))
        final.update(_finite_metrics("backtest_buy_and_hold_", report["backtest"]["buy_and_hold"]))
        if "strategy_after_costs" in report["backtest"]:
            after = report["backtest"]["strategy_after_costs"]
            final.update(_finite_metrics("backtest_strategy_after_costs_", after))
        if report.get("pooled"):
            final.update(_finite_metrics("walk_forward_pooled_", report["pooled"]["model"]))
        final.update(_finite_metrics("sanity_random_walk_", report["sanity"]["random_walk"]))
        final["best_epoch"] = float(report["training"]["best_epoch"])
        mlflow.log_metrics(final)

        test = outcome.prepared.splits["test"]
        # the logged model takes UNSCALED feature windows (it carries the scaler) and returns P(up)
        spec = outcome.spec
        inference = ProbabilityModel.from_spec(outcome.model, spec)
        example = _unscaled_example(test.X[:2], spec.scaler_mean, spec.scaler_scale)
        with torch.inference_mode():
            example_out = inference(torch.from_numpy(example)).numpy()
        name = registered_model_name(variant)
        info = mlflow.pytorch.log_model(
            inference,
            name="model",
            signature=infer_signature(example, example_out),
            input_example=example,
            registered_model_name=name if register else None,
        )

        section: dict[str, Any] = {
            "tracking_uri": uri,
            "experiment_id": experiment_id,
            "run_id": run.info.run_id,
            "model_uri": info.model_uri,
            "bundle_artifact_path": "bundle",
        }
        if register:
            version = str(info.registered_model_version)
            client.set_registered_model_alias(name, CHALLENGER_ALIAS, version)
            client.set_model_version_tag(name, version, SANITY_TAG, str(sanity_passed).lower())
            client.set_model_version_tag(name, version, "run_id", run.info.run_id)
            client.set_model_version_tag(name, version, "test_accuracy", f"{report['test']['accuracy']:.4f}")
            section.update(
                {
                    "registered_model": name,
                    "version": version,
                    "alias": CHALLENGER_ALIAS,
                    "registry_uri": f"models:/{name}@{CHALLENGER_ALIAS}",
                }
            )
        report["mlflow"] = section
        (outcome.bundle_dir / METRICS_FILE).write_text(
            json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n"
        )
        mlflow.log_artifacts(str(outcome.bundle_dir), artifact_path="bundle")
        for plot in outcome.plot_paths:
            mlflow.log_artifact(str(plot), artifact_path="plots")
        mlflow.log_dict(report, "report.json")
    return section


def _unscaled_example(scaled: np.ndarray, mean: list[float], scale: list[float]) -> np.ndarray:
    return (scaled * np.asarray(scale) + np.asarray(mean)).astype(np.float32)


def download_bundle(model_ref: str, tracking_uri: str | None = None) -> Path:
    """Fetch the ``bundle/`` artifacts of a registered model: ``name@alias`` or ``name/version``."""
    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    if "@" in model_ref:
        name, alias = model_ref.split("@", 1)
        version = client.get_model_version_by_alias(name, alias)
    elif "/" in model_ref:
        name, number = model_ref.rsplit("/", 1)
        version = client.get_model_version(name, number)
    else:
        raise ValueError(f"model reference {model_ref!r} must be NAME@ALIAS or NAME/VERSION")
    return download_run_bundle(version.run_id, uri)


def download_run_bundle(run_id: str, tracking_uri: str | None = None) -> Path:
    """Fetch the ``bundle/`` artifacts of one run (registered or not) into a new temporary folder."""
    uri = resolve_tracking_uri(tracking_uri)
    target = Path(tempfile.mkdtemp(prefix="financial-mlops-bundle-"))
    mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="bundle", dst_path=str(target), tracking_uri=uri
    )
    return target / "bundle"


def log_evaluation(run_id: str, report: dict[str, Any], tracking_uri: str | None = None) -> dict[str, Any]:
    """Attach a re-evaluation to its training run (artifact + eval_* metrics); the gate reads it back."""
    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    client.log_dict(run_id, report, EVALUATION_ARTIFACT)
    for key, value in _finite_metrics("eval_test_", report["test"]).items():
        client.log_metric(run_id, key, value)
    return {"tracking_uri": uri, "run_id": run_id, "artifact": EVALUATION_ARTIFACT}
