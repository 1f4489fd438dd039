"""Helpers of the serving tests: throwaway MLflow registries, bundles, a real MLServer process."""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from financial_mlops.bundle import save_bundle
from financial_mlops.features import FEATURE_NAMES, WARMUP_BARS
from financial_mlops.models import build_model
from financial_mlops.serving import BUNDLE_ARTIFACT_PATH
from financial_mlops.spec import FeatureSpec
from financial_mlops.tracking import DEFAULT_EXPERIMENT, SANITY_TAG, registered_model_name
from mlflow.tracking import MlflowClient

BASELINE_ACCURACY = {"majority": 0.51, "logistic_regression": 0.53}


def walk_forward_evidence(accuracy: float, windows: int = 1200, tickers: int = 4) -> dict[str, Any]:
    """Walk-forward windows on which the model is right on a fraction ``accuracy`` (and each baseline
    on its BASELINE_ACCURACY). One shared uniform draw per window decides who is right (right when
    it is below one's accuracy), so a better model is right on a superset of a worse one's windows:
    the paired gate sees an accuracy gap of 0.02 on 1,200 windows as clear evidence, as intended."""
    rng = np.random.default_rng(42)
    y = rng.integers(0, 2, windows)
    u = rng.random(windows)

    def proba(acc: float) -> list[float]:
        return np.where((u < acc) == (y == 1), 0.7, 0.3).tolist()

    per = windows // tickers
    return {
        "k": 4,
        "block_length": 12,
        "windows": {
            "ticker": np.repeat([f"T{i}" for i in range(tickers)], per).tolist(),
            "date": [
                f"2021-{1 + d // 28:02d}-{1 + d % 28:02d}T00:00:00Z" for d in np.tile(np.arange(per), tickers)
            ],
            "fold": np.tile(np.arange(per) * 4 // per, tickers).tolist(),
            "y": y.tolist(),
            "model": proba(accuracy),
            "baselines": {name: proba(acc) for name, acc in BASELINE_ACCURACY.items()},
        },
    }


GOOD_METRICS: dict[str, Any] = {
    "model": {"variant": "baseline"},
    "test": {"accuracy": 0.56, "n": 1200, "up_share": 0.52},
    "baselines": {name: {"accuracy": acc} for name, acc in BASELINE_ACCURACY.items()},
    "checks": {"constant_predictor": False},
    "sanity": {"random_walk": {"accuracy": 0.5, "passed": True}},
    "walk_forward": walk_forward_evidence(0.56),
}


def make_bundle(path: Path, variant: str, metrics: dict[str, Any], seed: int = 0, window: int = 12) -> Path:
    """A loadable bundle with random weights and the given training report."""
    torch.manual_seed(seed)
    model = build_model(variant, len(FEATURE_NAMES)).eval()
    spec = FeatureSpec(
        list(FEATURE_NAMES), window, WARMUP_BARS, [0.0] * len(FEATURE_NAMES), [1.0] * len(FEATURE_NAMES)
    )
    return save_bundle(path, model, variant, spec, metrics)


@dataclass
class Registry:
    """A SQLite MLflow registry in a temp folder, with helpers that register versions like training does."""

    uri: str
    root: Path
    client: MlflowClient
    experiment_id: str

    def register(self, variant: str = "baseline", **run_options: Any) -> str:
        """A new run (options as for ``run``) registered as financial-lstm-<variant>; returns the version."""
        # Registered from bundle/ directly: no model/ is logged (some registries here point at S3).
        run_id = self.run(variant, log_model=False, **run_options)
        name = registered_model_name(variant)
        if not self.client.search_registered_models(filter_string=f"name = '{name}'"):
            self.client.create_registered_model(name)
        artifact_uri = self.client.get_run(run_id).info.artifact_uri
        mv = self.client.create_model_version(name, f"{artifact_uri}/bundle", run_id=run_id)
        return str(mv.version)

    def run(
        self,
        variant: str = "baseline",
        accuracy: float = 0.56,
        sanity: bool = True,
        sanity_tag: str | None = "true",
        upload_bundle: bool = True,
        metrics: dict[str, Any] | None = None,
        log_model: bool = True,
    ) -> str:
        """A finished training run (bundle/ and a logged model "model"), not registered; returns its id."""
        report = copy.deepcopy(metrics if metrics is not None else GOOD_METRICS)
        if metrics is None:
            report["model"]["variant"] = variant
            report["test"]["accuracy"] = accuracy
            report["walk_forward"] = walk_forward_evidence(accuracy)
            report["sanity"]["random_walk"]["passed"] = sanity
        run_id = self.client.create_run(self.experiment_id).info.run_id
        if sanity_tag is not None:
            self.client.set_tag(run_id, SANITY_TAG, sanity_tag)
        if upload_bundle:
            bundle = make_bundle(self.root / "bundles" / run_id, variant, report)
            self.client.log_artifacts(run_id, str(bundle), BUNDLE_ARTIFACT_PATH)
        if log_model:
            # The logged model register finds by its source run (the trainer logs a full pytorch model).
            self.client.create_logged_model(self.experiment_id, name="model", source_run_id=run_id)
        self.client.set_terminated(run_id)
        return run_id


def empty_database(path: Path) -> Path:
    """An MLflow SQLite database with the schema migrated (slow: done once, then copied)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


def new_registry(root: Path, artifact_location: str | None = None, template: Path | None = None) -> Registry:
    root.mkdir(parents=True, exist_ok=True)
    if template is not None:
        shutil.copyfile(template, root / "mlruns.db")
    uri = f"sqlite:///{root / 'mlruns.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp_id = client.create_experiment(
        DEFAULT_EXPERIMENT, artifact_location=artifact_location or (root / "artifacts").as_uri()
    )
    return Registry(uri=uri, root=root, client=client, experiment_id=exp_id)
