"""The snapshot model: Kubernetes objects as the API returns them, indexed.

A snapshot document is ``{captured_at, source, context, objects, requests}``:
``objects`` are full API objects (with status), ``context`` carries the
inventory expectations at capture time (MetalLB pools and reservations, k3s
version, node roles), ``requests`` optional recorded inference requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

# Where the platform's pieces live (names fixed by the platform roles).
SELDON_SYSTEM_NS = "seldon-system"
SERVING_NS = "financial-ml"
TRAINING_NS = "financial-mlops-pytorch"
ARGO_NS = "argo"
MLFLOW_NS = "mlflow"
CALICO_NS = "calico-system"
METALLB_NS = "metallb-system"


class SnapshotError(ValueError):
    """The snapshot document is unusable; the message says what and where."""


def _ref(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def ref(obj: dict[str, Any]) -> str:
    """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped)."""
    meta = obj.get("metadata") or {}
    return _ref(str(obj.get("kind", "?")), meta.get("namespace"), str(meta.get("name", "?")))


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def condition_true(obj: dict[str, Any], ctype: str) -> bool:
    cond = condition(obj, ctype)
    return cond is not None and str(cond.get("status")) == "True"


def describe_condition(obj: dict[str, Any], ctype: str) -> str:
    """``Kind/ns/name condition X=Status (reason: message)`` for evidence lists."""
    cond = condition(obj, ctype)
    if cond is None:
        return f"{ref(obj)} has no {ctype} condition"
    detail = " ".join(str(cond.get(k)) for k in ("reason", "message") if cond.get(k))
    text = f"{ref(obj)} condition {ctype}={cond.get('status')}"
    return f"{text} ({detail})" if detail else text


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def name_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def namespace_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


@dataclass
class Snapshot:
    objects: list[dict[str, Any]]
    captured_at: str = ""
    source: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, str, str], dict[str, Any]] = {}
        for position, obj in enumerate(self.objects):
            if not isinstance(obj, dict) or not obj.get("kind") or not name_of(obj):
                raise SnapshotError(
                    f"snapshot object #{position} has no kind or metadata.name; objects must be "
                    "Kubernetes objects as the API returns them (kubectl get -o json items)"
                )
            self._index[(obj["kind"], namespace_of(obj), name_of(obj))] = obj

    @classmethod
    def from_document(cls, doc: Any, where: str = "snapshot") -> Snapshot:
        if not isinstance(doc, dict) or not isinstance(doc.get("objects"), list):
            raise SnapshotError(
                f"{where}: expected a mapping with an 'objects' list "
                "({captured_at, source, objects: [...]}); save one with playbooks/day2/snapshot.yml"
            )
        return cls(
            objects=doc["objects"],
            captured_at=str(doc.get("captured_at", "")),
            source=str(doc.get("source", "")),
            context=dict(doc.get("context") or {}),
            requests=list(doc.get("requests") or []),
        )

    @classmethod
    def load(cls, path: str) -> Snapshot:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise SnapshotError(f"cannot read snapshot file {path}: {exc.strerror}") from exc
        try:
            doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise SnapshotError(f"snapshot file {path} is neither JSON nor YAML: {exc}") from exc
        return cls.from_document(doc, where=path)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._index.get((kind, namespace or "", name))

    def of_kind(self, kind: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        for obj in self.objects:
            if obj.get("kind") == kind and (namespace is None or namespace_of(obj) == namespace):
                yield obj

    def kinds(self) -> set[str]:
        return {str(obj.get("kind")) for obj in self.objects}

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        """Labels of a Namespace; the API always sets kubernetes.io/metadata.name."""
        obj = self.get("Namespace", None, namespace)
        found = dict(labels_of(obj)) if obj else {}
        found.setdefault("kubernetes.io/metadata.name", namespace)
        return found

    def pods_on(self, nodes: Iterable[str]) -> Iterator[dict[str, Any]]:
        wanted = set(nodes)
        for pod in self.of_kind("Pod"):
            if (pod.get("spec") or {}).get("nodeName") in wanted:
                yield pod


def pod_ready(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and condition_true(pod, "Ready")


def pod_ip(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


def node_of(pod: dict[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")
