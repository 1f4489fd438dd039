"""MetalLB pool and reservation checks, webhook readiness, NodePort -> LoadBalancer patches."""

from __future__ import annotations

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils import metallb

POOLS = [{"name": "platform", "addresses": ["192.168.1.200-192.168.1.220"]}]
OTHER = {"k3s_cluster_cidr": "10.42.0.0/16", "k3s_service_cidr": "10.43.0.0/16"}


def test_sample_inventory_pools_and_reservations_are_valid() -> None:
    assert metallb.pool_problems(POOLS, "layer2", "192.168.1.0/24", OTHER) == []
    reservations = {"mlflow": "192.168.1.200", "minio": "192.168.1.201"}
    assert metallb.reservation_problems(POOLS, reservations) == []


def test_pool_mistakes_are_reported() -> None:
    pools = [
        {"name": "a", "addresses": ["10.42.0.0/28"]},
        {"name": "a", "addresses": ["192.168.1.10-192.168.1.20", "192.168.1.15/32"]},
        {"name": "b", "addresses": []},
    ]
    assert "metallb_mode='layer3'" in metallb.pool_problems(POOLS, "layer3", "192.168.1.0/24")[0]
    problems = metallb.pool_problems(pools, "layer2", "192.168.1.0/24", OTHER)
    text = "\n".join(problems)
    assert "'a' is empty or used twice" in text
    assert "metallb_address_pools[b]: no addresses" in text
    assert "outside k3s_node_cidr" in text  # layer2 check is skipped only for bgp
    assert "overlaps k3s_cluster_cidr" in text
    assert "a (192.168.1.10-192.168.1.20) overlaps a (192.168.1.15-192.168.1.15)" in text
    # BGP pools need not sit in the node network.
    assert (
        metallb.pool_problems([{"name": "bgp", "addresses": ["172.20.0.0/24"]}], "bgp", "192.168.1.0/24")
        == []
    )


def test_bad_address_entries() -> None:
    assert (
        "neither an IPv4 range"
        in metallb.pool_problems([{"name": "x", "addresses": ["nope"]}], "bgp", "10.0.0.0/8")[0]
    )
    with pytest.raises(metallb.MetallbError, match="ends before it starts"):
        metallb.parse_address("192.168.1.20-192.168.1.10", "p")


def test_reservation_mistakes() -> None:
    problems = metallb.reservation_problems(
        POOLS, {"mlflow": "192.168.1.250", "minio": "192.168.1.201", "argo": "192.168.1.201", "x": "n/a"}
    )
    text = "\n".join(problems)
    assert "metallb_ip_reservations[mlflow]: 192.168.1.250 is in no metallb_address_pools range" in text
    assert "192.168.1.201 is reserved for both argo and minio" in text
    assert "metallb_ip_reservations[x]: 'n/a' is not an IPv4 address" in text
    assert len(problems) == 3


def test_webhook_endpoints_readiness() -> None:
    assert not metallb.endpoints_ready([])
    assert not metallb.endpoints_ready([{"endpoints": None}])
    not_ready = {"endpoints": [{"addresses": ["10.42.1.5"], "conditions": {"ready": False}}]}
    ready = {"endpoints": [{"addresses": ["10.42.1.6"], "conditions": {"ready": True}}]}
    assert not metallb.endpoints_ready([not_ready])
    assert metallb.endpoints_ready([not_ready, ready])


NODEPORT = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "mlflow", "namespace": "mlflow", "resourceVersion": "42"},
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.43.0.10",
        "selector": {"app": "mlflow"},
        "ports": [{"name": "http", "port": 80, "targetPort": 5000, "nodePort": 30500, "protocol": "TCP"}],
    },
}


def test_nodeport_service_becomes_loadbalancer_keeping_ports() -> None:
    patch = metallb.to_loadbalancer(NODEPORT, "192.168.1.200")
    assert patch["spec"]["type"] == "LoadBalancer"
    assert patch["spec"]["ports"] == NODEPORT["spec"]["ports"]
    assert patch["metadata"] == {
        "name": "mlflow",
        "namespace": "mlflow",
        "annotations": {"metallb.io/loadBalancerIPs": "192.168.1.200"},
    }
    assert "annotations" not in metallb.to_loadbalancer(NODEPORT, None)["metadata"]
    with pytest.raises(metallb.MetallbError, match="mlflow/mlflow is ClusterIP"):
        metallb.to_loadbalancer({**NODEPORT, "spec": {"ports": []}}, None)


def test_only_nodeport_services_are_converted_with_their_reservations() -> None:
    cluster_ip = {
        "metadata": {"name": "db", "namespace": "mlflow"},
        "spec": {"type": "ClusterIP", "ports": []},
    }
    other = {**NODEPORT, "metadata": {"name": "ui", "namespace": "mlflow"}}
    patches = metallb.services_to_loadbalancer([NODEPORT, cluster_ip, other], {"mlflow": "192.168.1.200"})
    assert [p["metadata"]["name"] for p in patches] == ["mlflow", "ui"]
    assert patches[0]["metadata"]["annotations"] == {"metallb.io/loadBalancerIPs": "192.168.1.200"}
    assert "annotations" not in patches[1]["metadata"]
    assert metallb.services_to_loadbalancer([], None) == []
