"""The local-volume guard of reset.yml / remove-node.yml, on PVs as k3s's local-path provisioner writes them.

The PV objects below have the shape the provisioner (rancher/local-path-provisioner,
bundled with k3s) creates: hostPath under /var/lib/rancher/k3s/storage and a
required node affinity on kubernetes.io/hostname. The cluster API that would
return them is not available here; the decision is the part under test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.data_safety import (
    decide,
    node_local_volumes,
    pinned_nodes,
)


def local_path_pv(name: str, node: str, claim: str, phase: str = "Bound") -> dict[str, Any]:
    namespace, pvc = claim.split("/")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {
                "local.path.provisioner/selected-node": node,
                "pv.kubernetes.io/provisioned-by": "rancher.io/local-path",
            },
            "finalizers": ["kubernetes.io/pv-protection"],
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "capacity": {"storage": "10Gi"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": namespace,
                "name": pvc,
            },
            "hostPath": {
                "path": f"/var/lib/rancher/k3s/storage/{name}_{namespace}_{pvc}",
                "type": "DirectoryOrCreate",
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                }
            },
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "local-path",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": phase},
    }


POSTGRES = local_path_pv("pvc-5b1f", "k3s-agent-1", "mlflow/data-postgresql-0")
MINIO = local_path_pv("pvc-9c2e", "k3s-agent-2", "mlflow/minio")
RELEASED = local_path_pv("pvc-0a0a", "k3s-agent-2", "financial-ml/old-cache", phase="Released")
AVAILABLE = local_path_pv("pvc-7777", "k3s-agent-1", "x/y", phase="Available")
NFS = {
    "metadata": {"name": "nfs-share"},
    "spec": {"nfs": {"server": "nas", "path": "/x"}, "claimRef": {"namespace": "a", "name": "b"}},
    "status": {"phase": "Bound"},
}
PVS = [MINIO, POSTGRES, RELEASED, AVAILABLE, NFS]


def test_pinned_nodes_reads_the_required_hostname_affinity() -> None:
    assert pinned_nodes(POSTGRES) == {"k3s-agent-1"}
    assert pinned_nodes(NFS) == set()
    other_key = copy.deepcopy(POSTGRES)
    other_key["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["key"] = (
        "zone"
    )
    assert pinned_nodes(other_key) == set()


def test_bound_and_released_volumes_of_the_targeted_nodes_only() -> None:
    assert [v["name"] for v in node_local_volumes(PVS, ["k3s-agent-1"])] == ["pvc-5b1f"]
    found = node_local_volumes(PVS, ["k3s-agent-1", "k3s-agent-2", "k3s-server-1"])
    assert [(v["node"], v["name"], v["phase"]) for v in found] == [
        ("k3s-agent-1", "pvc-5b1f", "Bound"),
        ("k3s-agent-2", "pvc-0a0a", "Released"),
        ("k3s-agent-2", "pvc-9c2e", "Bound"),
    ]
    assert found[0]["claim"] == "mlflow/data-postgresql-0"
    assert found[0]["path"] == "/var/lib/rancher/k3s/storage/pvc-5b1f_mlflow_data-postgresql-0"
    assert node_local_volumes(PVS, ["k3s-server-1"]) == []


def test_a_node_with_bound_volumes_is_refused_unless_forced() -> None:
    result = {"changed": False, "api_found": True, "resources": PVS}
    refused = decide(result, ["k3s-agent-1"])
    assert refused["proceed"] is False and refused["api_reachable"] is True
    assert "pvc-5b1f (Bound, claim mlflow/data-postgresql-0" in refused["message"]
    assert "-e force_data_loss=yes" in refused["message"] and "Nothing was changed" in refused["message"]
    assert decide(result, ["k3s-agent-1"], "yes")["proceed"] is True


@pytest.mark.parametrize("force", ["", "no", "YES", "true", True, 1])
def test_only_the_exact_string_yes_overrides(force: object) -> None:
    assert decide({"resources": [POSTGRES]}, ["k3s-agent-1"], force)["proceed"] is False


def test_a_node_without_local_volumes_may_go() -> None:
    verdict = decide({"resources": PVS}, ["k3s-server-2"])
    assert verdict == {
        "proceed": True,
        "api_reachable": True,
        "volumes": [],
        "message": "No bound local volumes on k3s-server-2.",
    }


@pytest.mark.parametrize(
    "result",
    [
        {
            "failed": True,
            "msg": "Failed to load kubeconfig due to Invalid kube-config file. No configuration found.",
        },
        {
            "failed": True,
            "msg": "Max retries exceeded with url: /api/v1/persistentvolumes (Connection refused)",
        },
        {"changed": False},
    ],
    ids=["no-kubeconfig", "api-down", "no-answer"],
)
def test_no_readable_api_is_refused_not_skipped(result: dict[str, Any]) -> None:
    verdict = decide(result, ["k3s-agent-1"])
    assert verdict["proceed"] is False and verdict["api_reachable"] is False
    assert "Cannot read the PersistentVolumes" in verdict["message"]
    assert "-e force_data_loss=yes" in verdict["message"]
    assert decide(result, ["k3s-agent-1"], "yes")["proceed"] is True
