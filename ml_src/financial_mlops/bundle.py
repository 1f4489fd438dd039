"""What serving needs to reproduce training inputs exactly: weights, variant, feature spec.

A bundle directory holds ``model.pt`` (state_dict), ``model_config.json``,
``feature_spec.json`` and ``metrics.json`` (the training report). Training
logs the same files to MLflow under ``bundle/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from financial_mlops.models import LSTMClassifier, count_parameters

MODEL_FILE = "model.pt"
MODEL_CONFIG_FILE = "model_config.json"
FEATURE_SPEC_FILE = "feature_spec.json"
METRICS_FILE = "metrics.json"
BUNDLE_FILES = (MODEL_FILE, MODEL_CONFIG_FILE, FEATURE_SPEC_FILE, METRICS_FILE)


@dataclass
class FeatureSpec:
    feature_names: list[str]
    window: int
    warmup_bars: int
    scaler_mean: list[float]
    scaler_scale: list[float]

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        if len(self.scaler_mean) != n or len(self.scaler_scale) != n:
            raise ValueError(
                f"feature spec is inconsistent: {n} feature names but {len(self.scaler_mean)} means "
                f"and {len(self.scaler_scale)} scales"
            )
        if any(s <= 0 for s in self.scaler_scale):
            raise ValueError("feature spec scaler_scale must be strictly positive")

    @property
    def min_bars(self) -> int:
        """Raw bars needed to build one window of complete feature rows."""
        return self.warmup_bars + self.window

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-1] != len(self.feature_names):
            raise ValueError(
                f"expected {len(self.feature_names)} features in the last axis "
                f"({', '.join(self.feature_names)}), got shape {x.shape}"
            )
        mean = np.asarray(self.scaler_mean)
        scale = np.asarray(self.scaler_scale)
        return ((x - mean) / scale).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        return cls(
            feature_names=list(d["feature_names"]),
            window=int(d["window"]),
            warmup_bars=int(d["warmup_bars"]),
            scaler_mean=[float(v) for v in d["scaler_mean"]],
            scaler_scale=[float(v) for v in d["scaler_scale"]],
        )


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
