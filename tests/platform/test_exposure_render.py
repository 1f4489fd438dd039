"""Who can reach the LoadBalancers: source ranges on MLflow, the inference endpoint and argo-server."""

from __future__ import annotations

import pytest
from ansible_cli import run_role_alone

# inventory/sample leaves the default: the node network.
SAMPLE_RANGES = ["192.168.1.0/24"]


@pytest.mark.slow
def test_loadbalancer_keeps_client_addresses_and_admits_only_the_ranges(platform_render) -> None:
    services = platform_render.find("Service", "mlflow", "mlflow")
    # The chart's Service and the fields applied onto it (the chart cannot set them).
    exposure = [s for s in services if "loadBalancerSourceRanges" in s["spec"]]
    assert len(exposure) == 1, services
    spec = exposure[0]["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["externalTrafficPolicy"] == "Local"
    assert spec["loadBalancerSourceRanges"] == SAMPLE_RANGES


@pytest.mark.slow
def test_inference_endpoint_keeps_client_addresses_and_admits_only_the_ranges(platform_render) -> None:
    (mesh,) = platform_render.find("Service", "seldon-mesh", "financial-ml")
    spec = mesh["spec"]
    assert spec["externalTrafficPolicy"] == "Local"
    assert spec["loadBalancerSourceRanges"] == SAMPLE_RANGES  # tenancy_inference_client_cidrs
    policy = platform_render.one("NetworkPolicy", "allow-inference-ingress", "financial-ml")
    cidrs = [p["ipBlock"]["cidr"] for rule in policy["spec"]["ingress"] for p in rule["from"]]
    assert cidrs == SAMPLE_RANGES


@pytest.mark.slow
def test_argo_server_admits_only_the_ranges(platform_render) -> None:
    (server,) = platform_render.find("Service", "argo-server", "argo")
    assert server["spec"]["type"] == "LoadBalancer"
    assert server["spec"]["loadBalancerSourceRanges"] == SAMPLE_RANGES  # argo_workflows_server_client_cidrs


@pytest.mark.slow
def test_ingress_policy_names_its_sources(platform_render) -> None:
    policy = platform_render.one("NetworkPolicy", "allow-mlflow-ingress", "mlflow")
    rules = policy["spec"]["ingress"]
    assert all(rule.get("from") for rule in rules), "an ingress rule without `from` admits everyone"
    cidrs = [peer["ipBlock"]["cidr"] for rule in rules for peer in rule["from"] if "ipBlock" in peer]
    assert cidrs == SAMPLE_RANGES


def _check_ranges(tmp_path, ansible_env, ranges, role="mlflow", variable="mlflow_allowed_source_ranges"):
    """Run ``role`` alone with ``variable`` set to ``ranges``: it stops at its first check that fails."""
    proc = run_role_alone(tmp_path, role, {variable: ranges}, env=ansible_env)
    return proc.returncode, proc.stdout + proc.stderr


REFUSAL = "mlflow_allowed_source_ranges must be a non-empty list"


def test_ipv4_cidrs_pass_the_check(tmp_path, ansible_env) -> None:
    # Without platform_secrets the role then stops at its secrets check: the ranges were accepted.
    _, output = _check_ranges(tmp_path, ansible_env, ["10.0.0.0/8", "192.168.1.7/32", "0.0.0.0/0"])
    assert REFUSAL not in output, output[-3000:]
    assert "TASK [mlflow : Check that the generated secrets are available]" in output, output[-3000:]


@pytest.mark.parametrize(
    "ranges",
    [[], ["192.168.1.0/33"], ["192.168.1.0"], ["0.0.0.0/0 "], ["10.0.0.0/8", "any"], ["fd00::/8"]],
    ids=["empty", "prefix-33", "no-prefix", "trailing-space", "one-bad", "ipv6"],
)
def test_anything_but_ipv4_cidrs_is_refused(tmp_path, ansible_env, ranges) -> None:
    returncode, output = _check_ranges(tmp_path, ansible_env, ranges)
    assert returncode != 0, output
    assert REFUSAL in output, output[-3000:]


@pytest.mark.parametrize(
    ("role", "variable"),
    [("seldon", "tenancy_inference_client_cidrs"), ("argo_workflows", "argo_workflows_server_client_cidrs")],
)
def test_the_other_loadbalancers_refuse_bad_ranges_too(tmp_path, ansible_env, role, variable) -> None:
    returncode, output = _check_ranges(
        tmp_path, ansible_env, ["192.168.1.0/24", "192.168.1.0/40"], role, variable
    )
    assert returncode != 0, output
    assert f"{variable}[1]: '192.168.1.0/40' is not an IPv4 CIDR" in output, output[-3000:]
    assert f"{variable} must be a" in output, output[-3000:]
