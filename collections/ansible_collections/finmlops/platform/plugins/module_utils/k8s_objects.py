"""Pure helpers over Kubernetes objects as the API returns them (plain dicts)."""

from __future__ import annotations

import copy
from typing import Any

REDACTED = "REDACTED-rendered-secrets-carry-no-values"

# Workload kinds whose readiness is their rollout status, not a condition.
_ROLLOUT_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}


def redact_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``obj`` with every Secret value replaced by a marker.

    Rendered manifests are written to disk and shown in logs; a Secret keeps
    its keys (so reviewers and validation see its shape) but never a value.
    Objects of other kinds are returned unchanged.
    """
    if not isinstance(obj, dict) or obj.get("kind") != "Secret":
        return obj
    redacted = copy.deepcopy(obj)
    for field in ("data", "stringData"):
        values = redacted.get(field)
        if isinstance(values, dict):
            redacted[field] = dict.fromkeys(values, REDACTED)
    if "data" in redacted:
        # data must be base64; the marker is moved to stringData so the
        # redacted object still validates.
        redacted.setdefault("stringData", {}).update(redacted.pop("data") or {})
    return redacted


def condition_status(obj: dict[str, Any], condition: str) -> str | None:
    """Status ("True"/"False"/"Unknown") of a status condition, None if absent."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == condition:
            return str(cond.get("status"))
    return None


def rollout_complete(obj: dict[str, Any]) -> bool:
    """True when a Deployment, StatefulSet or DaemonSet has fully rolled out."""
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        return (
            desired > 0
            and status.get("updatedNumberScheduled", 0) == desired
            and status.get("numberAvailable", 0) == desired
        )
    wanted = (obj.get("spec") or {}).get("replicas", 1)
    ready_field = "availableReplicas" if kind == "Deployment" else "readyReplicas"
    return status.get("updatedReplicas", 0) >= wanted and status.get(ready_field, 0) >= wanted


def resource_ready(obj: dict[str, Any], condition: str = "Ready", status: str = "True") -> bool:
    """Readiness used by the k8s_apply waits.

    ``condition == "rollout"`` checks workload rollout status; any other value
    is a status condition type that must have ``status``.
    """
    if condition == "rollout":
        if obj.get("kind") not in _ROLLOUT_KINDS:
            raise ValueError(
                f"rollout readiness needs one of {sorted(_ROLLOUT_KINDS)}, got {obj.get('kind')}"
            )
        return rollout_complete(obj)
    return condition_status(obj, condition) == str(status)


def object_ref(obj: dict[str, Any]) -> str:
    """kind/namespace/name (namespace omitted for cluster-scoped objects)."""
    meta = obj.get("metadata") or {}
    parts = [str(obj.get("kind", "?"))]
    if meta.get("namespace"):
        parts.append(str(meta["namespace"]))
    parts.append(str(meta.get("name", "?")))
    return "/".join(parts)


def poll_retries(timeout: int | str, delay: int | str) -> int:
    """Number of polls of ``delay`` seconds that cover ``timeout`` seconds."""
    step = max(int(delay), 1)
    return max(int(timeout), 0) // step + 1
