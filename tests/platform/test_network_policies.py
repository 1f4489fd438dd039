"""Rendered NetworkPolicies against the table of required and forbidden flows.

Endpoints carry the labels the real pods have (Argo workflow pods, the Seldon
v2.9.1 runtime, our MLflow/MinIO/PostgreSQL, CoreDNS). The same table is in
docs/network-policies.md.
"""

from __future__ import annotations

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.netpol import flow_allowed, selector_matches


def pod(namespace: str, ip: str, **labels: str) -> dict:
    return {"namespace": namespace, "labels": labels, "ip": ip}


def external(ip: str) -> dict:
    return {"namespace": None, "labels": {}, "ip": ip}


TRAINING = pod("financial-mlops-pytorch", "10.42.1.10", **{"workflows.argoproj.io/workflow": "train-x7k2p"})
DNS = pod("kube-system", "10.42.0.5", **{"k8s-app": "kube-dns"})
API = external("192.168.1.11")
MLFLOW = pod("mlflow", "10.42.2.10", **{"app.kubernetes.io/name": "mlflow"})
MINIO = pod("mlflow", "10.42.2.11", **{"app.kubernetes.io/name": "minio"})
POSTGRES = pod("mlflow", "10.42.2.12", **{"app.kubernetes.io/name": "postgresql"})
MLFLOW_USERS = pod("mlflow", "10.42.2.13", **{"app.kubernetes.io/name": "mlflow-users"})
MINIO_USERS = pod("mlflow", "10.42.2.14", **{"app.kubernetes.io/name": "minio-users"})
MINIO_BUCKETS = pod("mlflow", "10.42.2.15", **{"app.kubernetes.io/name": "minio-buckets"})
ENVOY = pod("financial-ml", "10.42.3.10", app="seldon-envoy")
SCHEDULER = pod("financial-ml", "10.42.3.11", app="seldon-scheduler")
MODELGATEWAY = pod("financial-ml", "10.42.3.12", app="seldon-modelgateway")
SERVER = pod("financial-ml", "10.42.3.13", **{"seldon-server-name": "financial-mlserver"})
CONTROLLER = pod("seldon-system", "10.42.4.10", **{"control-plane": "v2-controller-manager"})
LB_CLIENT = external("192.168.1.50")
INTERNET = external("203.0.113.9")
INTRUDER = pod("default", "10.42.5.10", app="intruder")
METALLB_CONTROLLER = pod(
    "metallb-system",
    "10.42.6.10",
    **{"app.kubernetes.io/name": "metallb", "app.kubernetes.io/component": "controller"},
)
ARGO_CONTROLLER = pod(
    "argo", "10.42.7.10", **{"app.kubernetes.io/name": "argo-workflows-workflow-controller"}
)
ARGO_SERVER = pod("argo", "10.42.7.11", **{"app.kubernetes.io/name": "argo-workflows-server"})
TIGERA_POD = pod("tigera-operator", "10.42.8.10", app="anything")

REQUIRED = [
    ("training -> DNS (udp)", TRAINING, DNS, 53, "UDP"),
    ("training -> DNS (tcp)", TRAINING, DNS, 53, "TCP"),
    ("training executor -> Kubernetes API", TRAINING, API, 6443, "TCP"),
    ("training -> MLflow tracking", TRAINING, MLFLOW, 5000, "TCP"),
    ("training executor -> MinIO artifacts", TRAINING, MINIO, 9000, "TCP"),
    ("serving -> DNS", SERVER, DNS, 53, "UDP"),
    ("Seldon agent -> Kubernetes API", SERVER, API, 6443, "TCP"),
    ("Seldon scheduler -> Kubernetes API", SCHEDULER, API, 6443, "TCP"),
    ("Seldon model gateway -> Kubernetes API", MODELGATEWAY, API, 6443, "TCP"),
    ("Seldon agent -> scheduler (agent API)", SERVER, SCHEDULER, 9005, "TCP"),
    ("envoy -> scheduler (xDS)", ENVOY, SCHEDULER, 9002, "TCP"),
    ("envoy -> agent reverse proxy (http)", ENVOY, SERVER, 9001, "TCP"),
    ("envoy -> agent reverse proxy (grpc)", ENVOY, SERVER, 9501, "TCP"),
    ("model gateway -> scheduler", MODELGATEWAY, SCHEDULER, 9004, "TCP"),
    ("model gateway -> envoy", MODELGATEWAY, ENVOY, 9000, "TCP"),
    ("controller (seldon-system) -> scheduler", CONTROLLER, SCHEDULER, 9004, "TCP"),
    ("LoadBalancer client -> envoy inference port", LB_CLIENT, ENVOY, 9000, "TCP"),
    ("rclone -> MinIO model artifacts", SERVER, MINIO, 9000, "TCP"),
    ("MLflow -> PostgreSQL", MLFLOW, POSTGRES, 5432, "TCP"),
    ("LoadBalancer client -> MLflow", LB_CLIENT, MLFLOW, 5000, "TCP"),
    ("MLflow -> MinIO artifacts", MLFLOW, MINIO, 9000, "TCP"),
    ("MLflow -> DNS", MLFLOW, DNS, 53, "UDP"),
    ("MLflow accounts Job -> MLflow", MLFLOW_USERS, MLFLOW, 5000, "TCP"),
    ("MinIO users Job -> MinIO", MINIO_USERS, MINIO, 9000, "TCP"),
    ("MinIO buckets Job -> MinIO", MINIO_BUCKETS, MINIO, 9000, "TCP"),
    ("MetalLB controller -> Kubernetes API", METALLB_CONTROLLER, API, 6443, "TCP"),
    ("API server -> MetalLB webhook", API, METALLB_CONTROLLER, 9443, "TCP"),
    ("Argo controller -> Kubernetes API", ARGO_CONTROLLER, API, 6443, "TCP"),
    ("argo-server -> Kubernetes API", ARGO_SERVER, API, 6443, "TCP"),
    ("argo-server -> MinIO artifacts", ARGO_SERVER, MINIO, 9000, "TCP"),
    ("argo-server -> DNS", ARGO_SERVER, DNS, 53, "UDP"),
    ("LoadBalancer client -> argo-server", LB_CLIENT, ARGO_SERVER, 2746, "TCP"),
    ("Seldon controller -> Kubernetes API", CONTROLLER, API, 6443, "TCP"),
    ("Seldon controller -> DNS", CONTROLLER, DNS, 53, "UDP"),
]

FORBIDDEN = [
    ("training -> PostgreSQL (bypassing MLflow)", TRAINING, POSTGRES, 5432, "TCP"),
    ("training -> internet", TRAINING, INTERNET, 443, "TCP"),
    ("training -> kubelet", TRAINING, API, 10250, "TCP"),
    ("training -> envoy", TRAINING, ENVOY, 9000, "TCP"),
    ("serving -> internet", SERVER, INTERNET, 443, "TCP"),
    ("envoy (behind the LoadBalancer) -> Kubernetes API", ENVOY, API, 6443, "TCP"),
    ("serving -> MLflow", SERVER, MLFLOW, 5000, "TCP"),
    ("serving -> PostgreSQL", SERVER, POSTGRES, 5432, "TCP"),
    ("other namespace -> scheduler", INTRUDER, SCHEDULER, 9004, "TCP"),
    ("other namespace -> training pod", INTRUDER, TRAINING, 8080, "TCP"),
    ("other namespace -> MinIO", INTRUDER, MINIO, 9000, "TCP"),
    ("other namespace -> PostgreSQL", INTRUDER, POSTGRES, 5432, "TCP"),
    ("LoadBalancer client -> scheduler", LB_CLIENT, SCHEDULER, 9004, "TCP"),
    ("LoadBalancer client -> envoy admin", LB_CLIENT, ENVOY, 9003, "TCP"),
    ("internet -> envoy", INTERNET, ENVOY, 9000, "TCP"),
    ("controller -> agent", CONTROLLER, SERVER, 9001, "TCP"),
    ("MLflow -> internet", MLFLOW, INTERNET, 443, "TCP"),
    ("MLflow -> Kubernetes API", MLFLOW, API, 6443, "TCP"),
    ("MinIO -> internet", MINIO, INTERNET, 443, "TCP"),
    ("PostgreSQL -> internet", POSTGRES, INTERNET, 443, "TCP"),
    ("MLflow accounts Job -> PostgreSQL", MLFLOW_USERS, POSTGRES, 5432, "TCP"),
    ("MLflow accounts Job -> MinIO", MLFLOW_USERS, MINIO, 9000, "TCP"),
    ("MinIO users Job -> MLflow", MINIO_USERS, MLFLOW, 5000, "TCP"),
    ("internet -> MLflow (outside mlflow_allowed_source_ranges)", INTERNET, MLFLOW, 5000, "TCP"),
    ("other namespace -> MLflow", INTRUDER, MLFLOW, 5000, "TCP"),
    ("Seldon controller -> MLflow", CONTROLLER, MLFLOW, 5000, "TCP"),
    ("MetalLB controller -> internet", METALLB_CONTROLLER, INTERNET, 443, "TCP"),
    ("MetalLB controller metrics from the LAN", LB_CLIENT, METALLB_CONTROLLER, 7472, "TCP"),
    ("other namespace -> MetalLB webhook", INTRUDER, METALLB_CONTROLLER, 9443, "TCP"),
    ("Argo controller -> internet", ARGO_CONTROLLER, INTERNET, 443, "TCP"),
    ("Argo controller -> MinIO", ARGO_CONTROLLER, MINIO, 9000, "TCP"),
    ("Argo controller metrics from the LAN", LB_CLIENT, ARGO_CONTROLLER, 9090, "TCP"),
    ("argo-server -> internet", ARGO_SERVER, INTERNET, 443, "TCP"),
    ("argo-server -> MLflow", ARGO_SERVER, MLFLOW, 5000, "TCP"),
    ("internet -> argo-server", INTERNET, ARGO_SERVER, 2746, "TCP"),
    ("other namespace -> argo-server", INTRUDER, ARGO_SERVER, 2746, "TCP"),
    ("Seldon controller -> internet", CONTROLLER, INTERNET, 443, "TCP"),
    ("Seldon controller -> MinIO", CONTROLLER, MINIO, 9000, "TCP"),
    ("LoadBalancer client -> Seldon controller", LB_CLIENT, CONTROLLER, 9443, "TCP"),
    ("pod-networked pod in tigera-operator -> internet", TIGERA_POD, INTERNET, 443, "TCP"),
    ("LAN -> pod-networked pod in tigera-operator", LB_CLIENT, TIGERA_POD, 8080, "TCP"),
]


@pytest.fixture(scope="module")
def policies(platform_render):
    found = platform_render.find("NetworkPolicy")
    assert found, "no NetworkPolicy rendered"
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("label", "src", "dst", "port", "protocol"), REQUIRED, ids=[r[0] for r in REQUIRED])
def test_required_flow_is_allowed(policies, label, src, dst, port, protocol) -> None:
    allowed, reasons = flow_allowed(policies, src, dst, port, protocol)
    assert allowed, f"{label} must be allowed: {reasons}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("label", "src", "dst", "port", "protocol"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN]
)
def test_forbidden_flow_is_denied(policies, label, src, dst, port, protocol) -> None:
    allowed, reasons = flow_allowed(policies, src, dst, port, protocol)
    assert not allowed, f"{label} must be denied: {reasons}"


@pytest.mark.slow
def test_every_owned_namespace_default_denies_both_directions(policies) -> None:
    owned = (
        "financial-ml",
        "financial-mlops-pytorch",
        "tigera-operator",
        "metallb-system",
        "argo",
        "seldon-system",
    )
    for namespace in owned:
        deny = [
            p
            for p in policies
            if p["metadata"]["namespace"] == namespace
            and p["spec"]["podSelector"] == {}
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress")
            and not p["spec"].get("egress")
        ]
        assert deny, f"{namespace} has no default-deny policy"


# Evaluator semantics on hand-written policies (no render needed).

_DENY_ALL = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny", "namespace": "a"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
}


def _allow_ingress(peer: dict, ports: list | None = None) -> dict:
    rule: dict = {"from": [peer]}
    if ports is not None:
        rule["ports"] = ports
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow", "namespace": "a"},
        "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [rule]},
    }


def test_unselected_pods_are_not_isolated() -> None:
    allowed, reasons = flow_allowed([], pod("a", "10.0.0.1"), pod("b", "10.0.0.2"), 80)
    assert allowed
    assert all("not isolated" in r for r in reasons)


def test_default_deny_blocks_and_names_the_policy() -> None:
    allowed, reasons = flow_allowed([_DENY_ALL], pod("a", "10.0.0.1"), pod("b", "10.0.0.2"), 80)
    assert not allowed
    assert any("a/deny" in r for r in reasons)


def test_pod_selector_peer_is_scoped_to_the_policy_namespace() -> None:
    policy = _allow_ingress({"podSelector": {"matchLabels": {"app": "web"}}})
    db = pod("a", "10.0.0.2", app="db")
    assert flow_allowed([policy], pod("a", "10.0.0.1", app="web"), db, 5432)[0]
    assert not flow_allowed([policy], pod("b", "10.0.0.1", app="web"), db, 5432)[0]


def test_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    peer = {
        "namespaceSelector": {"matchLabels": {"team": "x"}},
        "podSelector": {"matchLabels": {"app": "web"}},
    }
    policy = _allow_ingress(peer)
    db = pod("a", "10.0.0.2", app="db")
    good = {"namespace": "b", "labels": {"app": "web"}, "namespace_labels": {"team": "x"}}
    wrong_pod = {"namespace": "b", "labels": {"app": "batch"}, "namespace_labels": {"team": "x"}}
    assert flow_allowed([policy], good, db, 1)[0]
    assert not flow_allowed([policy], wrong_pod, db, 1)[0]


def test_ip_block_except_and_port_ranges_and_named_ports() -> None:
    peer = {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.9.0/24"]}}
    policy = _allow_ingress(peer, [{"port": 9000, "endPort": 9011}, {"port": "metrics"}])
    db = pod("a", "10.0.0.2", app="db")
    db["ports"] = {"metrics": 9100}
    assert flow_allowed([policy], external("192.168.1.1"), db, 9005)[0]
    assert flow_allowed([policy], external("192.168.1.1"), db, 9100)[0]
    assert not flow_allowed([policy], external("192.168.1.1"), db, 9012)[0]
    assert not flow_allowed([policy], external("192.168.9.1"), db, 9005)[0]
    assert not flow_allowed([policy], external("192.168.1.1"), db, 9005, "UDP")[0]


def test_selector_expressions() -> None:
    selector = {
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "legacy", "operator": "DoesNotExist"},
        ]
    }
    assert selector_matches(selector, {"tier": "a"})
    assert not selector_matches(selector, {"tier": "c"})
    assert not selector_matches(selector, {"tier": "a", "legacy": "1"})
    with pytest.raises(ValueError, match="unknown label selector operator"):
        selector_matches({"matchExpressions": [{"key": "k", "operator": "Near"}]}, {})
