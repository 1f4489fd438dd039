"""The feature contract between training and serving: names, window, warm-up, scaler.

Torch-free on purpose: data preparation (dataset.py), the leakage check
(leakage_check.py) and request decoding (serving/codec.py) need the contract,
not the model, so they import this module and never pull in torch.
bundle.py stores it beside the weights as ``feature_spec.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


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
