"""Publish the champions' Seldon Models (and the A/B Experiment) to the cluster, or show them.

The last step of the training pipeline. It generates the manifests from the
registry (serving/seldon.py), then either

* ``apply``: server-side applies each one with the step pod's service
  account (the tenancy role's ``seldon-model-publisher`` Role: get/patch/
  create on models and experiments in the serving namespace) and waits until
  every Model reports Ready, failing with the Model's own condition message;
* ``render``: writes the YAML it would apply and touches no cluster (the
  local demo, reviews). A render is a preview, so local ``file://`` artifact
  stores are accepted there.

The Kubernetes API is reached through a small protocol (``CustomObjects``)
that ``kubernetes.client.CustomObjectsApi`` satisfies; tests pass a double.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from financial_mlops.serving.seldon import ANNOTATION_PREFIX, SELDON_API_VERSION

GROUP, VERSION = SELDON_API_VERSION.split("/")
PLURALS = {"Model": "models", "Experiment": "experiments"}
FIELD_MANAGER = "financial-mlops-publish"
# Ready condition reasons after which waiting longer cannot help.
TERMINAL_REASONS = ("Failed", "FailedScheduling", "ScheduleFailed", "ModelFailed", "LoadFailed")


class PublishFailed(RuntimeError):
    """A Model did not become Ready; the message carries its own condition."""


class CustomObjects(Protocol):
    def patch_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str,
                                       name: str, body: Any, **kwargs: Any) -> Any: ...  # fmt: skip

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str,
                                     name: str) -> Any: ...  # fmt: skip


@dataclass
class Publication:
    mode: str
    namespace: str
    served: dict[str, str] = field(default_factory=dict)
    objects: list[str] = field(default_factory=list)
    ready: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "namespace": self.namespace,
            "served": self.served,
            "objects": self.objects,
            "ready": self.ready,
            "notes": self.notes,
        }


def served_versions(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """{Model name: registry version} of the Models among ``manifests``."""
    return {
        m["metadata"]["name"]: m["metadata"]["annotations"][f"{ANNOTATION_PREFIX}/model-version"]
        for m in manifests
        if m["kind"] == "Model"
    }


def _refused(what: str, exc: Exception) -> PublishFailed | None:
    """A PublishFailed for an API error (kubernetes ApiException: status, reason, body), else None."""
    if not hasattr(exc, "status") or not hasattr(exc, "reason"):
        return None
    hint = " (the step's service account needs the seldon-model-publisher Role)" if exc.status == 403 else ""
    return PublishFailed(f"{what}: HTTP {exc.status} {exc.reason}{hint}: {getattr(exc, 'body', '')}")


def apply_manifests(api: CustomObjects, manifests: list[dict[str, Any]]) -> None:
    """Server-side apply (one field manager, conflicts forced: this step owns these objects)."""
    for m in manifests:
        meta = m["metadata"]
        try:
            api.patch_namespaced_custom_object(
                GROUP, VERSION, meta["namespace"], PLURALS[m["kind"]], meta["name"], m,
                field_manager=FIELD_MANAGER, force=True, _content_type="application/apply-patch+yaml",
            )  # fmt: skip
        except Exception as exc:
            error = _refused(f"applying {m['kind']} {meta['namespace']}/{meta['name']} was refused", exc)
            if error is None:
                raise
            raise error from None


def _ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), None)


def _describe(name: str, obj: dict[str, Any] | None) -> str:
    if obj is None:
        return f"Model {name}: not found after apply"
    conditions = (obj.get("status") or {}).get("conditions") or []
    if not conditions:
        return f"Model {name}: no status yet (is the Seldon scheduler running?)"
    return "; ".join(
        f"Model {name} {c.get('type')}={c.get('status')} ({c.get('reason', '')}): {c.get('message', '')}"
        for c in conditions
    )


def wait_ready(
    api: CustomObjects,
    namespace: str,
    names: list[str],
    timeout: float,
    poll: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until every Model's Ready condition is True; fail early on a terminal reason, or at the timeout."""
    deadline = clock() + timeout
    pending = list(names)
    last: dict[str, dict[str, Any] | None] = {}
    while True:
        for name in list(pending):
            try:
                obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS["Model"], name)
            except Exception as exc:
                error = _refused(f"reading Model {namespace}/{name}", exc)
                if error is None:
                    raise
                raise error from None
            last[name] = obj
            ready = _ready_condition(obj)
            if ready and ready.get("status") == "True":
                pending.remove(name)
            elif ready and ready.get("reason") in TERMINAL_REASONS:
                raise PublishFailed(_describe(name, obj))
        if not pending:
            return
        if clock() >= deadline:
            details = " | ".join(_describe(n, last.get(n)) for n in pending)
            raise PublishFailed(f"not Ready after {timeout:.0f}s: {details}")
        sleep(poll)


def publish(
    manifests: list[dict[str, Any]],
    mode: str,
    namespace: str,
    api: CustomObjects | None = None,
    timeout: float = 600.0,
    poll: float = 5.0,
) -> Publication:
    """Apply (and wait) or only describe ``manifests``; returns what is (or would be) served."""
    if mode not in ("apply", "render"):
        raise ValueError(f"publish mode {mode!r} must be apply or render")
    result = Publication(mode, namespace, served_versions(manifests))
    result.objects = [f"{m['kind']}/{m['metadata']['name']}" for m in manifests]
    if mode == "render":
        return result
    if api is None:
        raise ValueError("apply needs a Kubernetes API client")
    apply_manifests(api, manifests)
    wait_ready(api, namespace, list(result.served), timeout, poll)
    result.ready = True
    return result


def kubernetes_api() -> CustomObjects:
    """The in-cluster service account when run in a pod, else the local kubeconfig."""
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()
