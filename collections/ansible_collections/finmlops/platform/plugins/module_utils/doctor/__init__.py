"""The cluster doctor: diagnoses known failure modes from a snapshot.

Each family module exposes ``diagnose(snapshot, ...) -> list[Finding]``;
``run`` applies them all. The exit policy of doctor.yml: it fails when a
finding of severity ``error`` exists (see ``has_errors``).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.finmlops.platform.plugins.module_utils.doctor import (
    inference,
    loadbalancer,
    namespaces,
    network,
    scheduling,
    storage,
)
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.finding import Finding, sort_findings
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import Snapshot

FAMILIES = ("scheduling", "network", "storage", "inference", "namespaces", "loadbalancer")


def expectations(snap: Snapshot, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Inventory expectations: the snapshot's context, overridden by explicit values."""
    merged = dict(snap.context)
    for key, value in (overrides or {}).items():
        if value not in (None, "", [], {}):
            merged[key] = value
    return merged


def run(snap: Snapshot, overrides: dict[str, Any] | None = None) -> list[Finding]:
    context = expectations(snap, overrides)
    reservations = {str(k): str(v) for k, v in (context.get("metallb_ip_reservations") or {}).items()}
    pools = list(context.get("metallb_address_pools") or [])
    findings: list[Finding] = []
    findings += scheduling.diagnose(snap)
    findings += network.diagnose(snap)
    storage_findings = storage.diagnose(snap, reservations)
    findings += storage_findings
    findings += inference.diagnose(snap)
    findings += namespaces.diagnose(snap)
    # The storage family already reports MLflow/MinIO IP drift with its consequence.
    covered = {o for f in storage_findings if f.id == "storage-service-ip-not-reserved" for o in f.objects}
    findings += [
        f
        for f in loadbalancer.diagnose(snap, reservations, pools)
        if not (f.id == "loadbalancer-ip-not-reserved" and set(f.objects) <= covered)
    ]
    return sort_findings(findings)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
