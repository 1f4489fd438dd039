"""Small, explicit reads and writes of the MLflow model registry used by serving and lifecycle code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from financial_mlops.serving import BUNDLE_ARTIFACT_PATH, CHAMPION_ALIAS
from financial_mlops.tracking import resolve_tracking_uri

# Registered-model tag holding the champion versions, oldest first (JSON list
# of version strings). Rollback walks it back; promotion appends to it.
CHAMPION_HISTORY_TAG = "champion_history"
# MLflow caps tag values at 5000 characters; 50 versions fit comfortably.
CHAMPION_HISTORY_LIMIT = 50


class RegistryError(RuntimeError):
    """The registry does not hold what the operation needs; the message says what and how to fix it."""


def client_for(tracking_uri: str | None) -> MlflowClient:
    uri = resolve_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def resolve_version(
    client: MlflowClient, name: str, alias: str | None = None, version: str | int | None = None
) -> ModelVersion:
    """The model version named by ``version`` or, failing that, by ``alias``."""
    if version is not None and str(version) != "":
        try:
            return client.get_model_version(name, str(version))
        except MlflowException as exc:
            raise RegistryError(
                f"registered model {name!r} has no version {version} in {client.tracking_uri}: {exc.message}"
            ) from None
    if not alias:
        raise RegistryError(f"name a version or an alias of registered model {name!r}")
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise RegistryError(
            f"registered model {name!r} has no alias {alias!r} in {client.tracking_uri} ({exc.message}). "
            f"Train one (`python -m financial_mlops train ...` sets 'challenger') or pass a version."
        ) from None


def register_logged_model(client: MlflowClient, name: str, run_id: str) -> ModelVersion:
    """A new version of ``name`` from the model the run logged under ``model`` (created if needed)."""
    # MLflow 3 keeps logged models apart from the run's artifacts: find the
    # run's by its source run. Only this client is used: mlflow.register_model
    # would go through (and need changes to) the process-wide tracking URIs.
    try:
        experiment_id = client.get_run(run_id).info.experiment_id
        found = client.search_logged_models([experiment_id], filter_string=f"source_run_id = '{run_id}'")
    except MlflowException as exc:
        raise RegistryError(f"cannot read run {run_id} in {client.tracking_uri}: {exc.message}") from None
    logged = [m for m in found if m.name == "model"]
    if not logged:
        raise RegistryError(
            f"run {run_id} logged no model named 'model'; "
            "was it written by `python -m financial_mlops train`?"
        )
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    model = logged[0]
    return client.create_model_version(
        name, source=model.artifact_location, run_id=run_id, model_id=model.model_id
    )


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version behind ``alias`` or None when the alias (or the model) does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def champion(client: MlflowClient, name: str) -> ModelVersion | None:
    return alias_version(client, name, CHAMPION_ALIAS)


def list_artifact_paths(client: MlflowClient, run_id: str, path: str) -> set[str]:
    """Relative paths of the files directly under ``path`` in a run's artifacts."""
    return {info.path for info in client.list_artifacts(run_id, path) if not info.is_dir}


def download_bundle(client: MlflowClient, run_id: str, dst: str | Path) -> Path:
    """Download the run's ``bundle/`` artifacts; returns the local bundle folder."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    try:
        local = client.download_artifacts(run_id, BUNDLE_ARTIFACT_PATH, str(dst))
    except MlflowException as exc:
        raise RegistryError(
            f"run {run_id} has no downloadable '{BUNDLE_ARTIFACT_PATH}/' artifacts: {exc.message}"
        ) from None
    return Path(local)


def read_json_artifact(client: MlflowClient, run_id: str, path: str, dst: str | Path) -> dict[str, Any]:
    local = client.download_artifacts(run_id, path, str(dst))
    return json.loads(Path(local).read_text())


def champion_history(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags or {}
    raw = tags.get(CHAMPION_HISTORY_TAG)
    if not raw:
        return []
    try:
        history = json.loads(raw)
    except json.JSONDecodeError:
        raise RegistryError(
            f"registered model {name!r} tag {CHAMPION_HISTORY_TAG!r} is not JSON ({raw[:80]!r}); "
            "fix or delete the tag in the MLflow UI"
        ) from None
    if not isinstance(history, list):
        raise RegistryError(f"registered model {name!r} tag {CHAMPION_HISTORY_TAG!r} must be a JSON list")
    return [str(v) for v in history]


def set_champion_history(client: MlflowClient, name: str, history: list[str]) -> None:
    client.set_registered_model_tag(name, CHAMPION_HISTORY_TAG, json.dumps(history[-CHAMPION_HISTORY_LIMIT:]))
