"""Merging the cluster's kubeconfig into ~/.kube/config (module_utils/kubeconfig_merge.py)."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.kubeconfig_merge import (
    KubeconfigMergeError,
    merge_kubeconfig,
)


def kubeconfig(name: str, server: str, key: str = "key-1") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": "ca"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
        "preferences": {},
        "users": [{"name": f"{name}-admin", "user": {"client-key-data": key}}],
    }


OURS = kubeconfig("financial-mlops", "https://192.168.1.10:6443")
OTHER = kubeconfig("lab", "https://10.0.0.5:6443")


def test_empty_file_gets_the_cluster_as_current_context() -> None:
    merged = merge_kubeconfig({}, OURS)
    assert merged["current-context"] == "financial-mlops"
    assert merged["clusters"] == OURS["clusters"] and merged["users"] == OURS["users"]


def test_other_clusters_and_the_current_context_are_kept() -> None:
    merged = merge_kubeconfig(copy.deepcopy(OTHER), OURS)
    assert [c["name"] for c in merged["clusters"]] == ["lab", "financial-mlops"]
    assert [c["name"] for c in merged["contexts"]] == ["lab", "financial-mlops"]
    assert merged["current-context"] == "lab"
    assert merged["clusters"][0] == OTHER["clusters"][0] and merged["users"][0] == OTHER["users"][0]


def test_our_own_entries_are_updated_and_a_rerun_is_unchanged() -> None:
    first = merge_kubeconfig(copy.deepcopy(OTHER), OURS)
    rotated = kubeconfig("financial-mlops", "https://192.168.1.10:6443", key="key-2")
    second = merge_kubeconfig(first, rotated)
    assert second["users"][1]["user"]["client-key-data"] == "key-2"
    assert merge_kubeconfig(second, rotated) == second


def test_another_clusters_entry_of_the_same_name_is_never_overwritten() -> None:
    clash = kubeconfig("financial-mlops", "https://10.9.9.9:6443")
    with pytest.raises(
        KubeconfigMergeError, match=r"belongs to another cluster .*10\.9\.9\.9.*Fix: set k3s_cluster_name"
    ):
        merge_kubeconfig(clash, OURS, "/home/me/.kube/config")
