"""MLflow tracking URI resolution (the logging itself lives in mlflow_logging.py)."""

from __future__ import annotations

import os

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
