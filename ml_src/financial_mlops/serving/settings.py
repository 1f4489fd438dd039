"""model-settings.json for one model version, and the runtime knobs it carries.

The knobs live under ``parameters.extra`` (MLServer passes that dict to the
runtime untouched), so an operator tunes a deployed model by editing its
model-settings, not the code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from financial_mlops.features import RAW_COLUMNS
from financial_mlops.serving import CAPABILITY, RUNTIME_IMPLEMENTATION
from financial_mlops.spec import FeatureSpec

MODEL_SETTINGS_FILE = "model-settings.json"

# MLServer's parallel_workers (MLSERVER_PARALLEL_WORKERS) for the dedicated
# Server and the local demo, chosen by `benchmarks/serving_latency.py` (see
# docs/serving.md "Worker setting" for the measurement). 0 runs inference in
# the server process: no request/response hop to a worker process. The
# ServerConfig template and the demo's environment carry the same value
# (a test keeps them equal).
SERVER_PARALLEL_WORKERS = 0


@dataclass(frozen=True)
class RuntimeConfig:
    # Most windows one request may carry; larger batches get a 400.
    max_batch_size: int = 64
    # Most raw bars per series; only the last warm-up + window bars matter.
    max_bars: int = 4096
    # P(up) at or above this is reported as direction "up".
    threshold: float = 0.5
    # Intra-op torch threads per MLServer worker. One thread per worker is
    # fastest for batch-1 LSTM inference and leaves cores to other workers.
    torch_threads: int = 1

    def __post_init__(self) -> None:
        problems = []
        if self.max_batch_size < 1:
            problems.append(f"max_batch_size={self.max_batch_size} must be >= 1")
        if self.max_bars < 1:
            problems.append(f"max_bars={self.max_bars} must be >= 1")
        if not 0.0 < self.threshold < 1.0:
            problems.append(f"threshold={self.threshold} must be strictly between 0 and 1")
        if self.torch_threads < 1:
            problems.append(f"torch_threads={self.torch_threads} must be >= 1")
        if problems:
            raise ValueError("invalid serving parameters: " + "; ".join(problems))

    @classmethod
    def from_extra(cls, extra: dict[str, Any] | None) -> RuntimeConfig:
        """Read the knobs from model-settings ``parameters.extra``; unknown keys are ignored."""
        extra = extra or {}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in extra:
                caster = float if f.name == "threshold" else int
                try:
                    kwargs[f.name] = caster(extra[f.name])
                except (TypeError, ValueError):
                    raise ValueError(
                        f"model-settings parameters.extra.{f.name}={extra[f.name]!r} is not a number"
                    ) from None
        return cls(**kwargs)


def build_model_settings(
    name: str,
    version: str | None,
    spec: FeatureSpec,
    config: RuntimeConfig | None = None,
    provenance: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The model-settings.json document for a model folder holding the bundle files.

    ``provenance`` (registered model, version, run id...) goes to
    ``parameters.extra.provenance`` so a served model can be traced back to
    its registry entry from ``GET /v2/models/<name>``'s settings file.
    """
    config = config or RuntimeConfig()
    n_feat = len(spec.feature_names)
    extra: dict[str, Any] = asdict(config)
    extra["capability"] = CAPABILITY
    if provenance:
        extra["provenance"] = dict(provenance)
    parameters: dict[str, Any] = {"uri": "./", "extra": extra}
    if version is not None:
        parameters["version"] = str(version)
    raw_inputs = [{"name": c, "datatype": "FP64", "shape": [-1, -1]} for c in RAW_COLUMNS]
    return {
        "name": name,
        "implementation": RUNTIME_IMPLEMENTATION,
        "parameters": parameters,
        "inputs": [
            {"name": "features", "datatype": "FP32", "shape": [-1, spec.window, n_feat]},
            {"name": "ohlcv", "datatype": "FP64", "shape": [-1, -1, len(RAW_COLUMNS)]},
            *raw_inputs,
        ],
        "outputs": [
            {"name": "probability", "datatype": "FP64", "shape": [-1]},
            {"name": "direction", "datatype": "BYTES", "shape": [-1]},
        ],
    }


def write_model_settings(model_dir: str | Path, settings: dict[str, Any]) -> Path:
    path = Path(model_dir) / MODEL_SETTINGS_FILE
    path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
    return path
