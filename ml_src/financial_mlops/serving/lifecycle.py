"""Gate, promote and roll back registered model versions (the MLflow side of the day-2 runbooks).

* ``run_gate`` gathers the evidence of a version (metrics.json, the sanity
  run tag, the artifact listing) and of the current champion, evaluates
  serving.gate, writes the decision record and logs it to the run.
* ``promote`` moves the ``champion`` alias after a ``promote`` decision,
  uploads the MLServer folder as the run's ``serving/`` artifacts (what
  Seldon loads) and appends to the registered model's champion history.
* ``rollback`` moves ``champion`` back to the previous entry of that history.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from financial_mlops.bundle import METRICS_FILE
from financial_mlops.serving import BUNDLE_ARTIFACT_PATH, CHAMPION_ALIAS, SERVING_ARTIFACT_PATH
from financial_mlops.serving.export import build_serving_dir
from financial_mlops.serving.gate import (
    DECISION_SCHEMA,
    Evidence,
    GateDecision,
    GateThresholds,
    evaluate_gate,
)
from financial_mlops.serving.registry import (
    RegistryError,
    alias_version,
    champion,
    champion_history,
    download_bundle,
    list_artifact_paths,
    read_json_artifact,
    register_logged_model,
    resolve_version,
    set_champion_history,
)
from financial_mlops.serving.settings import MODEL_SETTINGS_FILE, RuntimeConfig
from financial_mlops.tracking import CHALLENGER_ALIAS, EVALUATION_ARTIFACT, SANITY_TAG

MODEL_PREFIX = "financial-lstm-"


class PromotionRefused(RuntimeError):
    """The gate said no (or its record does not fit this promotion)."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def variant_of(model_name: str) -> str | None:
    return model_name[len(MODEL_PREFIX) :] if model_name.startswith(MODEL_PREFIX) else None


def collect_evidence(client: MlflowClient, mv: ModelVersion, with_evaluation: bool = False) -> Evidence:
    """Everything the gate looks at for a registered version."""
    return collect_run_evidence(client, mv.name, mv.run_id, str(mv.version), with_evaluation)


def _optional_json(client: MlflowClient, run_id: str, path: str, tmp: str) -> dict[str, Any] | None:
    try:
        return read_json_artifact(client, run_id, path, tmp)
    except (MlflowException, OSError, json.JSONDecodeError):
        return None


def collect_run_evidence(
    client: MlflowClient,
    name: str,
    run_id: str | None,
    version: str | None = None,
    with_evaluation: bool = False,
) -> Evidence:
    """Everything the gate looks at; each piece that cannot be read stays None (= missing).

    The logged re-evaluation is fetched only ``with_evaluation`` (the gate
    reads it only when its thresholds demand one).
    """
    ev = Evidence(model=name, version=version, run_id=run_id, variant=variant_of(name))
    if not run_id:
        return ev
    try:
        ev.sanity_tag = client.get_run(run_id).data.tags.get(SANITY_TAG)
    except MlflowException:
        return ev
    try:
        ev.artifacts = list_artifact_paths(client, run_id, BUNDLE_ARTIFACT_PATH)
    except (MlflowException, OSError):
        ev.artifacts = None
    with tempfile.TemporaryDirectory(prefix="finmlops-gate-") as tmp:
        if ev.artifacts is not None and f"{BUNDLE_ARTIFACT_PATH}/{METRICS_FILE}" in ev.artifacts:
            ev.metrics = _optional_json(client, run_id, f"{BUNDLE_ARTIFACT_PATH}/{METRICS_FILE}", tmp)
        if with_evaluation:
            ev.evaluation = _optional_json(client, run_id, EVALUATION_ARTIFACT, tmp)
    return ev


@dataclass
class GateRun:
    decision: GateDecision
    record: dict[str, Any]
    record_path: Path | None
    # False when nothing was written or logged (same decision already recorded).
    changed: bool = True
    # The candidate already is the champion: there is nothing to decide.
    already_champion: bool = False


FINGERPRINT_TAG = "gate_fingerprint"


def _fingerprint(record: dict[str, Any]) -> str:
    """Hash of everything the decision rests on (not of when it was taken)."""
    stable = {k: v for k, v in record.items() if k not in {"decided_at", "fingerprint"}}
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()[:16]


def _recorded(path: Path | None, fingerprint: str) -> bool:
    if path is None:
        return True
    try:
        return json.loads(path.read_text()).get("fingerprint") == fingerprint
    except (OSError, json.JSONDecodeError):
        return False


def run_gate(
    client: MlflowClient,
    name: str,
    alias: str | None = None,
    version: str | None = None,
    thresholds: GateThresholds | None = None,
    record_path: str | Path | None = None,
    log_to_mlflow: bool = True,
    dry_run: bool = False,
    run_id: str | None = None,
) -> GateRun:
    """Decide on one version, or with ``run_id`` on a training run not registered yet.

    The record goes to ``record_path`` and to MLflow (run artifact, and tags
    on the version or, for a run, on the run). The same decision (same
    evidence, champion and thresholds) is written and logged once: rerunning
    the gate on unchanged inputs changes nothing.
    """
    current = champion(client, name)
    reevaluation = thresholds is not None and thresholds.require_reevaluation
    if run_id is not None:
        mv = None
        candidate = collect_run_evidence(client, name, run_id, with_evaluation=reevaluation)
        tags = client.get_run(run_id).data.tags
        is_champion = current is not None and current.run_id == run_id
    else:
        mv = resolve_version(client, name, alias=alias, version=version)
        candidate = collect_evidence(client, mv, with_evaluation=reevaluation)
        tags = client.get_model_version(name, str(mv.version)).tags or {}
        is_champion = current is not None and str(current.version) == str(mv.version)
    champion_ev = collect_evidence(client, current) if current is not None else None
    decision = evaluate_gate(candidate, champion_ev, thresholds)
    decided_at = _now()
    record = decision.record(decided_at)
    record["fingerprint"] = _fingerprint(record)
    path = Path(record_path) if record_path else None
    if is_champion:
        return GateRun(decision, record, path, changed=False, already_champion=True)
    if tags.get(FINGERPRINT_TAG) == record["fingerprint"] and _recorded(path, record["fingerprint"]):
        return GateRun(decision, record, path, changed=False)
    if dry_run:
        return GateRun(decision, record, path, changed=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    if log_to_mlflow:
        stamp = decided_at.replace(":", "").replace("-", "")
        gate_tags = {
            "gate_decision": record["decision"],
            "gate_decided_at": decided_at,
            FINGERPRINT_TAG: record["fingerprint"],
        }
        if mv is None:
            client.log_dict(str(run_id), record, f"gate/decision-run-{stamp}.json")
            for key, value in gate_tags.items():
                client.set_tag(str(run_id), key, value)
        else:
            if mv.run_id:
                client.log_dict(mv.run_id, record, f"gate/decision-v{mv.version}-{stamp}.json")
            for key, value in gate_tags.items():
                client.set_model_version_tag(name, str(mv.version), key, value)
    return GateRun(decision, record, path, changed=True)


def _subject(record: dict[str, Any]) -> str:
    if record.get("version") is None:
        return f"{record.get('model')} run {record.get('run_id')}"
    return f"{record.get('model')} v{record.get('version')}"


def _check_decision(record: dict[str, Any]) -> None:
    if record.get("schema") != DECISION_SCHEMA:
        raise PromotionRefused(
            f"the decision record is not a gate decision ({DECISION_SCHEMA}); rerun the gate"
        )


def register_run(
    client: MlflowClient, name: str, decision_record: dict[str, Any], alias: str = CHALLENGER_ALIAS
) -> dict[str, Any]:
    """Register the run a ``promote`` decision was about as a version of ``name``; point ``alias`` at it.

    Only runs the gate let through are registered. Registering the same run
    again reuses its version (a retried workflow step creates no duplicate).
    """
    _check_decision(decision_record)
    run_id = decision_record.get("run_id")
    if decision_record.get("model") != name or not run_id or decision_record.get("version") is not None:
        raise PromotionRefused(
            f"the decision record is for {_subject(decision_record)}, not a training run of {name}; "
            "run `gate --train-report REPORT` on the run to register"
        )
    if decision_record.get("decision") != "promote":
        reasons = "; ".join(decision_record.get("reasons") or []) or "no reasons recorded"
        raise PromotionRefused(f"the gate rejected run {run_id}: {reasons}; it is not registered")
    existing = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    if existing:
        mv = sorted(existing, key=lambda v: int(v.version))[0]
        changed = False
    else:
        mv = register_logged_model(client, name, run_id)
        changed = True
    current_alias = alias_version(client, name, alias)
    if current_alias is None or str(current_alias.version) != str(mv.version):
        client.set_registered_model_alias(name, alias, str(mv.version))
        changed = True
    tags = mv.tags or {}
    wanted = {
        "run_id": str(run_id),
        "gate_decision": "promote",
        "gate_decided_at": str(decision_record.get("decided_at")),
        FINGERPRINT_TAG: str(decision_record.get("fingerprint")),
    }
    for key, value in wanted.items():
        if tags.get(key) != value:
            client.set_model_version_tag(name, str(mv.version), key, value)
            changed = True
    return {
        "model": name,
        "version": str(mv.version),
        "run_id": run_id,
        "alias": alias,
        "changed": changed,
        "message": f"{name} v{mv.version} ({alias}) is run {run_id}"
        + ("" if changed else " (already registered)"),
    }


def ensure_serving_artifacts(
    client: MlflowClient, mv: ModelVersion, config: RuntimeConfig | None = None
) -> bool:
    """Upload the MLServer folder as the run's ``serving/`` artifacts unless present; True if uploaded."""
    present = list_artifact_paths(client, mv.run_id, SERVING_ARTIFACT_PATH)
    if f"{SERVING_ARTIFACT_PATH}/{MODEL_SETTINGS_FILE}" in present:
        return False
    provenance = {"registered_model": mv.name, "version": str(mv.version), "run_id": str(mv.run_id)}
    with tempfile.TemporaryDirectory(prefix="finmlops-serving-") as tmp:
        bundle_dir = download_bundle(client, mv.run_id, Path(tmp) / "download")
        out = build_serving_dir(
            bundle_dir, Path(tmp) / SERVING_ARTIFACT_PATH, mv.name, str(mv.version), config, provenance
        )
        client.log_artifacts(mv.run_id, str(out), SERVING_ARTIFACT_PATH)
    return True


def _check_record(record: dict[str, Any], name: str, mv: ModelVersion, current: ModelVersion | None) -> None:
    _check_decision(record)
    # A decision taken on the training run (before registration) fits the version registered from it.
    same_run = record.get("version") is None and record.get("run_id") == mv.run_id
    if record.get("model") != name or not (same_run or str(record.get("version")) == str(mv.version)):
        raise PromotionRefused(
            f"the decision record is for {_subject(record)}, not {name} v{mv.version} "
            f"(run {mv.run_id}); rerun the gate for this version"
        )
    if record.get("decision") != "promote":
        reasons = "; ".join(record.get("reasons") or []) or "no reasons recorded"
        raise PromotionRefused(f"the gate rejected {name} v{mv.version}: {reasons}")
    now_champion = current.version if current else None
    if str(record.get("champion_version")) != str(now_champion):
        raise PromotionRefused(
            f"the champion of {name} changed since the gate ran (gate saw v{record.get('champion_version')}, "
            f"now v{now_champion}); rerun the gate"
        )


def promote(
    client: MlflowClient,
    name: str,
    version: str | None = None,
    alias: str | None = None,
    decision_record: dict[str, Any] | None = None,
    thresholds: GateThresholds | None = None,
    config: RuntimeConfig | None = None,
) -> dict[str, Any]:
    """Make ``version`` (or the version behind ``alias``) the champion, if the gate allows it."""
    mv = resolve_version(client, name, alias=alias, version=version)
    current = champion(client, name)
    if current is not None and str(current.version) == str(mv.version):
        uploaded = ensure_serving_artifacts(client, mv, config)
        return {
            "model": name,
            "champion": str(mv.version),
            "previous_champion": str(mv.version),
            "run_id": mv.run_id,
            "serving_artifacts_uploaded": uploaded,
            "changed": uploaded,
            "message": f"{name} v{mv.version} already is the champion",
        }
    if decision_record is None:
        decision_record = run_gate(client, name, version=str(mv.version), thresholds=thresholds).record
    _check_record(decision_record, name, mv, current)
    uploaded = ensure_serving_artifacts(client, mv, config)
    result: dict[str, Any] = {
        "model": name,
        "champion": str(mv.version),
        "previous_champion": current.version if current else None,
        "run_id": mv.run_id,
        "serving_artifacts_uploaded": uploaded,
    }
    history = champion_history(client, name)
    if current is not None and (not history or history[-1] != str(current.version)):
        # The alias was moved outside this tool; keep that champion as a rollback target.
        history.append(str(current.version))
    history.append(str(mv.version))
    client.set_registered_model_alias(name, CHAMPION_ALIAS, str(mv.version))
    set_champion_history(client, name, history)
    client.set_model_version_tag(name, str(mv.version), "promoted_at", _now())
    return {**result, "changed": True, "message": f"{name} champion is now v{mv.version}", "history": history}


def rollback(client: MlflowClient, name: str, expected_current: str | None = None) -> dict[str, Any]:
    """Move ``champion`` back to the previous recorded champion.

    With ``expected_current``, nothing changes unless the champion still is
    that version: rerunning the same rollback does not walk further back.
    """
    current = champion(client, name)
    if current is None:
        raise RegistryError(
            f"registered model {name!r} has no {CHAMPION_ALIAS!r} alias; nothing to roll back"
        )
    if expected_current and str(expected_current) != str(current.version):
        return {
            "model": name,
            "changed": False,
            "champion": str(current.version),
            "message": f"champion is v{current.version}, not v{expected_current}: rollback already done or "
            "the champion moved since",
        }
    history = champion_history(client, name)
    earlier = list(history)
    while earlier and earlier[-1] == str(current.version):
        earlier.pop()
    if not earlier:
        raise RegistryError(
            f"{name}: no champion before v{current.version} is recorded (tag champion_history={history}); "
            "promote a chosen version instead: python -m financial_mlops promote --model NAME --version N"
        )
    target = earlier[-1]
    resolve_version(client, name, version=target)  # fails clearly when the version was deleted
    client.set_registered_model_alias(name, CHAMPION_ALIAS, target)
    set_champion_history(client, name, earlier)
    client.set_model_version_tag(name, str(current.version), "rolled_back_at", _now())
    return {
        "model": name,
        "changed": True,
        "champion": target,
        "previous_champion": str(current.version),
        "history": earlier,
        "message": f"{name} champion rolled back from v{current.version} to v{target}",
    }
