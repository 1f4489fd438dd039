"""CNI detection, IPPool/inventory comparison and the per-node migration marker."""

from __future__ import annotations

import json

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils import cni

# An IPPool as the operator creates it from our Installation (API shape).
LIVE_POOL = {
    "apiVersion": "crd.projectcalico.org/v1",
    "kind": "IPPool",
    "metadata": {"name": "default-ipv4-ippool"},
    "spec": {
        "cidr": "10.42.0.0/16",
        "blockSize": 26,
        "ipipMode": "Never",
        "vxlanMode": "CrossSubnet",
        "natOutgoing": True,
        "nodeSelector": "all()",
    },
}


@pytest.mark.parametrize(
    ("encap", "mtu", "bgp"),
    [
        ("VXLANCrossSubnet", 1450, "Disabled"),
        ("VXLAN", 1450, "Disabled"),
        ("IPIP", 1480, "Enabled"),
        ("IPIPCrossSubnet", 1480, "Enabled"),
        ("None", 1500, "Enabled"),
    ],
)
def test_mtu_and_bgp_follow_the_encapsulation(encap: str, mtu: int, bgp: str) -> None:
    assert cni.calico_mtu(encap) == mtu
    assert cni.calico_mtu(encap, 9000) == mtu + 7500
    assert cni.calico_bgp(encap) == bgp


def test_unknown_encapsulation_and_tiny_mtu_are_refused() -> None:
    with pytest.raises(cni.CniError, match="calico_encapsulation='GRE'"):
        cni.calico_mtu("GRE")
    with pytest.raises(cni.CniError, match="below the 1280"):
        cni.calico_mtu("VXLAN", 1300)


@pytest.mark.parametrize(
    ("ipip", "vxlan", "name"),
    [
        ("Never", "Always", "VXLAN"),
        ("Never", "CrossSubnet", "VXLANCrossSubnet"),
        ("Always", "Never", "IPIP"),
        ("CrossSubnet", None, "IPIPCrossSubnet"),
        (None, None, "None"),
    ],
)
def test_ippool_encapsulation_names(ipip: str | None, vxlan: str | None, name: str) -> None:
    assert cni.ippool_encapsulation({"ipipMode": ipip, "vxlanMode": vxlan}) == name


def test_ippool_with_two_encapsulations_is_an_error() -> None:
    with pytest.raises(cni.CniError, match="both"):
        cni.ippool_encapsulation({"cidr": "10.0.0.0/8", "ipipMode": "Always", "vxlanMode": "Always"})


def test_matching_pool_has_no_drift_and_no_pool_is_a_first_install() -> None:
    assert cni.ippool_drift([LIVE_POOL], "10.42.0.0/16", 26, "VXLANCrossSubnet") == []
    assert cni.ippool_drift([], "10.42.0.0/16", 26, "VXLANCrossSubnet") == []


def test_each_kind_of_drift_is_reported_with_its_fix() -> None:
    problems = cni.ippool_drift([LIVE_POOL], "10.52.0.0/16", 24, "IPIP")
    assert len(problems) == 3
    assert "set k3s_cluster_cidr: 10.42.0.0/16" in problems[0]
    assert "set calico_block_size: 26" in problems[1]
    assert "set calico_encapsulation: VXLANCrossSubnet" in problems[2]


def test_ipv6_pools_are_ignored_when_comparing_the_ipv4_pool() -> None:
    v6 = {"metadata": {"name": "default-ipv6-ippool"}, "spec": {"cidr": "fd00::/48", "blockSize": 122}}
    assert cni.ippool_drift([v6, LIVE_POOL], "10.42.0.0/16", 26, "VXLANCrossSubnet") == []


def test_flannel_network_is_read_from_net_conf() -> None:
    text = json.dumps({"Network": "10.42.0.0/16", "EnableIPv6": False, "Backend": {"Type": "vxlan"}})
    assert cni.flannel_network(text) == "10.42.0.0/16"
    with pytest.raises(cni.CniError, match="no Network"):
        cni.flannel_network("{}")
    with pytest.raises(cni.CniError, match="not JSON"):
        cni.flannel_network("Network=10.42.0.0/16")


def test_pod_cidr_change_is_rejected_with_the_fix() -> None:
    assert cni.pod_cidr_problems("10.42.0.0/16", {"s1": "10.42.0.0/16", "a1": None}) == []
    problems = cni.pod_cidr_problems("10.52.0.0/16", {"s1": "10.42.0.0/16", "a1": "10.42.0.0/16"})
    assert [p.split(":")[0] for p in problems] == ["a1", "s1"]
    assert "Set k3s_cluster_cidr: 10.42.0.0/16" in problems[0]
    assert cni.pod_cidr_problems("10.42.0.0/16", {}, ["10.43.0.0/16"])[0].startswith("the cluster already")
    with pytest.raises(cni.CniError, match="k3s_cluster_cidr='nope'"):
        cni.pod_cidr_problems("nope", {})


FLANNEL_HOST = {
    "flannel_backend": "vxlan",
    "links": ["lo", "eth0", "flannel.1", "cni0"],
    "flannel_conf": True,
}
CALICO_HOST = {"flannel_backend": "none", "links": ["lo", "eth0", "vxlan.calico"], "calico_conf": True}


def _marker(*steps: str, run: str = "r1") -> dict:
    marker = None
    for step in steps:
        marker = cni.record_step(marker, step, run, "2026-11-26T19:00:00Z")
    return marker


def test_host_detection() -> None:
    assert cni.host_cni(FLANNEL_HOST) == {
        "cni": "flannel",
        "leftovers": ["flannel.1", "cni0", "flannel CNI conflist"],
        "next_step": "drained",
    }
    assert cni.host_cni({"links": ["eth0"]})["cni"] == "flannel"  # k3s default backend is vxlan
    assert cni.host_cni(CALICO_HOST) == {"cni": "calico", "leftovers": [], "next_step": None}
    # Config switched but Flannel links still there: unfinished, not Calico.
    half = dict(FLANNEL_HOST, flannel_backend="none")
    assert cni.host_cni(half)["cni"] == "migrating"
    # A marker in the middle wins over anything else.
    mid = dict(CALICO_HOST, marker=_marker("drained", "configured", "stopped"))
    assert cni.host_cni(mid) == {"cni": "migrating", "leftovers": [], "next_step": "cleaned"}
    done = dict(CALICO_HOST, marker=_marker(*cni.MIGRATION_STEPS))
    assert cni.host_cni(done)["cni"] == "calico"


def test_cluster_detection() -> None:
    flannel = {"s1": cni.host_cni(FLANNEL_HOST), "a1": cni.host_cni(FLANNEL_HOST)}
    calico = {"s1": cni.host_cni(CALICO_HOST), "a1": cni.host_cni(CALICO_HOST)}
    assert cni.cluster_cni(flannel)["cni"] == "flannel"
    assert cni.cluster_cni(calico) == {
        "cni": "calico",
        "pending": [],
        "hosts": {"s1": "calico", "a1": "calico"},
    }
    mixed = {"s1": cni.host_cni(CALICO_HOST), "a1": cni.host_cni(FLANNEL_HOST)}
    assert cni.cluster_cni(mixed) == {
        "cni": "migrating",
        "pending": ["a1"],
        "hosts": {"s1": "calico", "a1": "flannel"},
    }
    # Hosts look migrated but calico-node is not ready everywhere: not done.
    assert cni.cluster_cni(calico, calico_node_ready=False)["cni"] == "migrating"
    with pytest.raises(cni.CniError, match="no k3s nodes"):
        cni.cluster_cni({})


def test_marker_records_steps_in_order_and_resumes() -> None:
    marker = _marker("drained", "configured")
    assert cni.next_step(marker) == "stopped"
    assert cni.step_done(marker, "configured") and not cni.step_done(marker, "stopped")
    assert cni.record_step(marker, "configured", "r2", "later") == marker  # already there: unchanged
    with pytest.raises(cni.CniError, match="'cleaned' recorded before 'stopped'"):
        cni.record_step(marker, "cleaned", "r1", "now")
    with pytest.raises(cni.CniError, match="unknown migration step"):
        cni.step_done(marker, "rebooted")
    resumed = cni.record_step(marker, "stopped", "r2", "2026-11-26T20:00:00Z", mode="render")
    assert resumed["steps"]["stopped"] == {"at": "2026-11-26T20:00:00Z", "run": "r2", "mode": "render"}
    assert resumed["steps"]["drained"]["run"] == "r1"
    assert marker["steps"].keys() == {"drained", "configured"}  # input not mutated
    assert cni.next_step(_marker(*cni.MIGRATION_STEPS)) is None


def test_marker_round_trip_and_bad_markers() -> None:
    marker = _marker(*cni.MIGRATION_STEPS[:3])
    assert cni.parse_marker(json.dumps(marker), "s1") == marker
    assert cni.parse_marker("", "s1") is None
    assert cni.parse_marker(None, "s1") is None
    with pytest.raises(cni.CniError, match="s1: the migration marker is not JSON"):
        cni.parse_marker("{", "s1")
    with pytest.raises(cni.CniError, match="unknown format"):
        cni.parse_marker('{"version": 9, "steps": {}}', "s1")
    with pytest.raises(cni.CniError, match="unknown steps"):
        cni.parse_marker('{"version": 1, "steps": {"rebooted": {}}}', "s1")


def test_nodes_finished_in_a_run_drive_the_test_only_fail_injection() -> None:
    markers = {
        "s1": _marker(*cni.MIGRATION_STEPS, run="old"),
        "s2": _marker(*cni.MIGRATION_STEPS, run="now"),
        "s3": _marker("drained", run="now"),
        "a1": None,
    }
    assert cni.completed_in_run(markers, "now") == ["s2"]


def test_pool_inputs() -> None:
    assert cni.pool_input_problems("10.42.0.0/16", "192.168.1.0/24", 26) == []
    problems = cni.pool_input_problems("10.42.0.1/16", "192.168.1.0/24", 8)
    assert len(problems) == 1 and problems[0].startswith("k3s_cluster_cidr='10.42.0.1/16'")
    assert "between the pool prefix /16" in cni.pool_input_problems("10.42.0.0/16", "192.168.1.0/24", 12)[0]
    assert "overlaps" in cni.pool_input_problems("10.0.0.0/8", "10.1.0.0/24", 26)[0]


def _pod(
    name: str,
    node: str,
    start: str,
    *,
    ns: str = "financial-ml",
    host_net: bool = False,
    owned: bool = True,
    phase: str = "Running",
) -> dict:
    refs = [{"kind": "ReplicaSet", "name": "x", "controller": True}] if owned else []
    return {
        "metadata": {"name": name, "namespace": ns, "ownerReferences": refs},
        "spec": {"nodeName": node, "hostNetwork": host_net},
        "status": {"phase": phase, "startTime": start, "podIP": "10.42.1.5"},
    }


def test_pods_started_before_their_node_switched_are_restarted() -> None:
    markers = {
        "s1": _marker(*cni.MIGRATION_STEPS[:5]),
        "a1": None,
    }
    markers["s1"]["steps"]["started"]["at"] = "2026-11-26T19:00:00+00:00"
    switched = cni.switch_times(markers)
    assert switched == {"s1": "2026-11-26T19:00:00+00:00"}
    pods = [
        _pod("stale", "s1", "2026-11-26T18:00:00Z"),
        _pod("fresh", "s1", "2026-11-26T19:05:00Z"),
        _pod("hostnet", "s1", "2026-11-26T18:00:00Z", host_net=True),
        _pod("done", "s1", "2026-11-26T18:00:00Z", phase="Succeeded"),
        _pod("bare", "s1", "2026-11-26T18:00:00Z", owned=False),
        _pod("other-ns", "s1", "2026-11-26T18:00:00Z", ns="kube-system"),
        _pod("not-migrated-node", "a1", "2026-11-26T18:00:00Z"),
    ]
    result = cni.pods_to_restart(pods, switched, ["financial-ml"])
    assert result == {
        "restart": [{"namespace": "financial-ml", "name": "stale", "node": "s1"}],
        "unmanaged": [{"namespace": "financial-ml", "name": "bare", "node": "s1"}],
    }
    # No namespace filter: every namespace counts.
    assert len(cni.pods_to_restart(pods, switched, [])["restart"]) == 2
    assert len(cni.pods_to_restart(pods, switched, [], exclude=["kube-system"])["restart"]) == 1
