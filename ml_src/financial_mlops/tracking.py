"""MLflow tracking URI resolution (the logging itself lives in mlflow_logging.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
DEFAULT_EXPERIMENT = "financial-lstm"
CHALLENGER_ALIAS = "challenger"
SANITY_TAG = "sanity_random_walk_passed"
# Run artifact of `evaluate --train-report`: the logged model re-evaluated.
EVALUATION_ARTIFACT = "evaluation/report.json"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """Explicit argument, then $MLFLOW_TRACKING_URI, then the local SQLite default."""
    if uri:
        return uri
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return env or DEFAULT_TRACKING_URI


def registered_model_name(variant: str) -> str:
    return f"financial-lstm-{variant}"


def train_run_id(train_report: str | Path) -> str:
    """The MLflow run id a `train` report names (the handle the pipeline's later steps pass on)."""
    try:
        report = json.loads(Path(train_report).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the train report {train_report}: {exc}") from None
    run_id = report.get("mlflow", {}).get("run_id")
    if not run_id:
        raise ValueError(
            f"train report {train_report} names no MLflow run (was train run with --no-tracking?)"
        )
    return str(run_id)
