"""Decide whether a destructive runbook may empty a node without losing volume data.

reset.yml and remove-node.yml delete /var/lib/rancher/k3s, where k3s's
local-path provisioner keeps its volumes (PostgreSQL, MinIO). A volume of
that kind is a PersistentVolume pinned to one node by a required node
affinity on ``kubernetes.io/hostname``. The runbooks read the PVs from the
cluster API and refuse, unless the operator passes ``force_data_loss=yes``:

* when a targeted node holds a Bound or Released local volume (Released
  volumes with a Retain policy still hold their data);
* when the PVs cannot be read at all (no kubeconfig, API down, a node that
  never joined): "could not check" is not "nothing to lose".

Pure functions over the recorded objects, so pytest tests the decision on
real PV shapes without a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

HOSTNAME_KEY = "kubernetes.io/hostname"
DATA_PHASES = ("Bound", "Released")
OVERRIDE = "-e force_data_loss=yes"


def pinned_nodes(pv: dict[str, Any]) -> set[str]:
    """Node names a PV's required node affinity pins it to (empty: not a node-local volume)."""
    terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get(
        "nodeSelectorTerms"
    ) or []
    nodes: set[str] = set()
    for term in terms:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == HOSTNAME_KEY and expression.get("operator") == "In":
                nodes.update(str(v) for v in expression.get("values") or [])
    return nodes


def volume_path(pv: dict[str, Any]) -> str:
    spec = pv.get("spec") or {}
    return str((spec.get("hostPath") or spec.get("local") or {}).get("path") or "")


def node_local_volumes(pvs: Iterable[dict[str, Any]], nodes: Iterable[str]) -> list[dict[str, str]]:
    """The data-holding PVs pinned to one of ``nodes``, sorted by node and name."""
    wanted = set(nodes)
    found = []
    for pv in pvs:
        phase = (pv.get("status") or {}).get("phase", "")
        holders = pinned_nodes(pv) & wanted
        if not holders or phase not in DATA_PHASES:
            continue
        claim = (pv.get("spec") or {}).get("claimRef") or {}
        found.append(
            {
                "node": sorted(holders)[0],
                "name": str((pv.get("metadata") or {}).get("name", "")),
                "phase": phase,
                "claim": f"{claim.get('namespace', '?')}/{claim.get('name', '?')}" if claim else "-",
                "path": volume_path(pv),
            }
        )
    return sorted(found, key=lambda v: (v["node"], v["name"]))


def decide(pv_result: dict[str, Any], nodes: Iterable[str], force: Any = "") -> dict[str, Any]:
    """The verdict on a ``kubernetes.core.k8s_info`` result for kind PersistentVolume.

    Returns ``proceed`` (bool), ``api_reachable``, ``volumes`` (see
    node_local_volumes) and ``message`` (what was found and how to go on).
    Only the exact string ``yes`` overrides.
    """
    nodes = sorted(set(nodes))
    forced = force == "yes"
    where = ", ".join(nodes) or "(no node)"
    if pv_result.get("failed") or "resources" not in pv_result:
        reason = " ".join(str(pv_result.get("msg") or "no answer").split())[:300]
        message = (
            f"Cannot read the PersistentVolumes from the cluster API ({reason}), so whether {where} "
            "holds local volumes (PostgreSQL, MinIO data under /var/lib/rancher/k3s/storage) is unknown. "
            "Nothing was changed. Fix the kubeconfig (platform_kubeconfig) or the API, or, if the cluster "
            f"is gone or the node never joined and you accept losing what is on it, pass {OVERRIDE} "
            "(the storage folder is still archived to the controller first)."
        )
        return {"proceed": forced, "api_reachable": False, "volumes": [], "message": message}
    volumes = node_local_volumes(pv_result.get("resources") or [], nodes)
    if not volumes:
        return {
            "proceed": True,
            "api_reachable": True,
            "volumes": [],
            "message": f"No bound local volumes on {where}.",
        }
    listed = "; ".join(
        f"{v['node']}: {v['name']} ({v['phase']}, claim {v['claim']}, {v['path']})" for v in volumes
    )
    message = (
        f"Local volumes would be deleted with the node data: {listed}. Nothing was changed. "
        "Move the workloads off first (or restore them elsewhere from the backup this runbook takes), "
        "or pass "
        f"{OVERRIDE} to accept losing them (backups are still taken first)."
    )
    return {"proceed": forced, "api_reachable": True, "volumes": volumes, "message": message}
