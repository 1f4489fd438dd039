"""What serving needs to reproduce training inputs exactly: weights, variant, feature spec.

A bundle directory holds ``model.pt`` (state_dict), ``model_config.json``,
``feature_spec.json`` and ``metrics.json`` (the training report). Training
logs the same files to MLflow under ``bundle/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from financial_mlops.models import LSTMClassifier, count_parameters
from financial_mlops.spec import FeatureSpec

MODEL_FILE = "model.pt"
MODEL_CONFIG_FILE = "model_config.json"
FEATURE_SPEC_FILE = "feature_spec.json"
METRICS_FILE = "metrics.json"
BUNDLE_FILES = (MODEL_FILE, MODEL_CONFIG_FILE, FEATURE_SPEC_FILE, METRICS_FILE)


@dataclass
class ModelBundle:
    model: LSTMClassifier
    variant: str
    model_config: dict[str, Any]
    feature_spec: FeatureSpec
    metrics: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        """P(next bar up) for UNSCALED feature windows [B, window, F]."""
        windows = np.asarray(windows)
        if windows.ndim != 3 or windows.shape[1] != self.feature_spec.window:
            raise ValueError(
                f"expected windows of shape [batch, {self.feature_spec.window}, "
                f"{len(self.feature_spec.feature_names)}], got {windows.shape}"
            )
        if not np.isfinite(windows).all():
            raise ValueError("windows contain NaN or inf: provide at least feature_spec.min_bars raw bars")
        x = torch.from_numpy(self.feature_spec.transform(windows))
        with torch.inference_mode():
            return torch.sigmoid(self.model(x)).numpy().astype(np.float64)


def model_config_of(model: LSTMClassifier, variant: str) -> dict[str, Any]:
    return {
        "variant": variant,
        "input_size": model.input_size,
        "hidden_size": model.hidden_size,
        "num_layers": model.num_layers,
        "dropout": model.dropout_p,
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n")


def save_bundle(
    bundle_dir: str | Path,
    model: LSTMClassifier,
    variant: str,
    feature_spec: FeatureSpec,
    metrics: dict[str, Any],
) -> Path:
    bundle_dir = Path(bundle_dir)
    bundle_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, bundle_dir / MODEL_FILE)
    _write_json(bundle_dir / MODEL_CONFIG_FILE, model_config_of(model, variant))
    _write_json(bundle_dir / FEATURE_SPEC_FILE, feature_spec.to_dict())
    _write_json(bundle_dir / METRICS_FILE, metrics)
    return bundle_dir


def load_bundle(bundle_dir: str | Path) -> ModelBundle:
    bundle_dir = Path(bundle_dir)
    missing = [name for name in BUNDLE_FILES if not (bundle_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"model bundle {bundle_dir} is incomplete: missing {missing}. "
            "A bundle is written by `python -m financial_mlops train` (or downloaded from the "
            "MLflow run's `bundle/` artifacts)."
        )
    config = json.loads((bundle_dir / MODEL_CONFIG_FILE).read_text())
    spec = FeatureSpec.from_dict(json.loads((bundle_dir / FEATURE_SPEC_FILE).read_text()))
    metrics = json.loads((bundle_dir / METRICS_FILE).read_text())
    if config["input_size"] != len(spec.feature_names):
        raise ValueError(
            f"{bundle_dir}: model_config input_size={config['input_size']} does not match "
            f"{len(spec.feature_names)} features in feature_spec.json"
        )
    model = LSTMClassifier(
        input_size=int(config["input_size"]),
        hidden_size=int(config["hidden_size"]),
        num_layers=int(config["num_layers"]),
        dropout=float(config["dropout"]),
    )
    state = torch.load(bundle_dir / MODEL_FILE, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    config.setdefault("parameters", count_parameters(model))
    return ModelBundle(
        model=model,
        variant=str(config["variant"]),
        model_config=config,
        feature_spec=spec,
        metrics=metrics,
    )
