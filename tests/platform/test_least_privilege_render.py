"""Least privilege in the rendered cluster: default-deny per namespace, tokens only where the API is used."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

# Pods that talk to the Kubernetes API and so keep their ServiceAccount token.
API_CLIENTS = {
    ("tigera-operator", "tigera-operator"),  # Calico's operator
    ("metallb-system", "metallb-controller"),  # assigns LoadBalancer addresses
    ("metallb-system", "metallb-speaker"),  # watches Services and nodes
    ("argo", "argo-server"),  # the Argo UI and API read workflows
    ("argo", "argo-workflow-controller"),
    ("seldon-system", "seldon-v2-controller-manager"),
    # Argo's executor in every workflow pod reports results through the API,
    # and the pipeline's deploy step publishes Seldon Models.
    ("financial-mlops-pytorch", "financial-data-ingestion-template"),
    ("financial-mlops-pytorch", "financial-training-pipeline-template"),
    ("financial-mlops-pytorch", "financial-retraining"),
    ("financial-mlops-pytorch", "platform-smoke"),
}


def _denies(policy: dict, direction: str) -> bool:
    spec = policy["spec"]
    return (
        spec.get("podSelector") == {}
        and direction in spec.get("policyTypes", [])
        and not spec.get(direction.lower())
    )


def test_every_owned_namespace_denies_by_default_both_ways(platform_render) -> None:
    namespaces = {n["metadata"]["name"] for n in platform_render.find("Namespace")}
    # Every namespace the platform creates: the application ones, MLflow, and those of the
    # upstream controllers (Calico's operator, MetalLB, Argo, Seldon).
    assert {
        "mlflow",
        "financial-ml",
        "financial-mlops-pytorch",
        "tigera-operator",
        "metallb-system",
        "argo",
        "seldon-system",
    } <= namespaces
    lacking = set()
    for namespace in namespaces:
        policies = platform_render.find("NetworkPolicy", namespace=namespace)
        if not (any(_denies(p, "Ingress") for p in policies) and any(_denies(p, "Egress") for p in policies)):
            lacking.add(namespace)
    assert not lacking, f"owned namespaces without a default-deny ingress and egress: {sorted(lacking)}"


def _pods(render):
    for doc in render.documents:
        spec = doc.get("spec") or {}
        namespace = doc["metadata"].get("namespace")
        template = spec.get("template") or (spec.get("jobTemplate") or {}).get("spec", {}).get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            yield namespace, doc["metadata"]["name"], template["spec"]
        workflow = (
            spec.get("workflowSpec", spec) if doc["kind"] in ("WorkflowTemplate", "CronWorkflow") else None
        )
        if workflow is not None:
            yield namespace, doc["metadata"]["name"], workflow


def test_only_api_clients_mount_a_service_account_token(platform_render) -> None:
    accounts = {
        (a["metadata"].get("namespace"), a["metadata"]["name"]): a.get("automountServiceAccountToken", True)
        for a in platform_render.find("ServiceAccount")
    }
    mounting = set()
    for namespace, name, pod in _pods(platform_render):
        account = pod.get("serviceAccountName", "default")
        # The pod's own setting wins; else its ServiceAccount's; Kubernetes' default is to mount.
        effective = pod.get("automountServiceAccountToken", accounts.get((namespace, account), True))
        if effective is not False:
            mounting.add((namespace, name))
    assert mounting == API_CLIENTS
