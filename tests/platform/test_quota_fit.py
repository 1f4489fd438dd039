"""Every container of a workflow pod gets requests and limits and the pod fits the quota.

The pod is built the way the Argo v3.6 controller builds it (emissary
executor): an ``init`` container and a ``wait`` container running argoexec
with the controller's executor resources, and the template's main container
with the controller's mainContainer defaults underneath. Then the API
server's LimitRanger defaulting and the ResourceQuota admission are computed
over the rendered LimitRange and ResourceQuota of the training namespace.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils.quota_fit import (
    apply_limit_range,
    check_pod,
    parse_quantity,
    pod_usage,
)

TRAINING_NS = "financial-mlops-pytorch"


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def argo_pod_spec(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The pod spec Argo's controller creates for one container/script template."""
    executor_values = values.get("executor", {})
    executor = {
        "image": "quay.io/argoproj/argoexec",
        "resources": executor_values.get("resources", {}),
        "securityContext": executor_values.get("securityContext", {}),
    }
    main_values = values.get("mainContainer", {})
    main_defaults = {
        "resources": main_values.get("resources", {}),
        "securityContext": main_values.get("securityContext", {}),
    }
    main = _merge(main_defaults, template.get("container") or template.get("script") or {})
    main["name"] = "main"
    workflow_defaults = values.get("controller", {}).get("workflowDefaults", {}).get("spec", {})
    return {
        "securityContext": workflow_defaults.get("securityContext", {}),
        "initContainers": [dict(executor, name="init")],
        "containers": [dict(executor, name="wait"), main],
    }


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    """The checks of the restricted Pod Security Standard that configuration decides."""
    pod_sc = pod_spec.get("securityContext") or {}
    problems = []
    for container in pod_spec.get("initContainers", []) + pod_spec.get("containers", []):
        sc = container.get("securityContext") or {}
        name = container["name"]
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
            problems.append(f"{name}: capabilities must drop ALL")
        if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot must be true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost")
    return problems


def _values(render) -> dict[str, Any]:
    chart = render.one("HelmChart", "argo-workflows", "kube-system")
    return yaml.safe_load(chart["spec"]["valuesContent"])


def _workflow_templates(render) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind in ("WorkflowTemplate", "Workflow", "CronWorkflow"):
        for wf in render.find(kind, namespace=TRAINING_NS):
            spec = wf["spec"].get("workflowSpec", wf["spec"]) if kind == "CronWorkflow" else wf["spec"]
            for template in spec.get("templates", []):
                if "container" in template or "script" in template:
                    found.append((f"{kind}/{wf['metadata']['name']}/{template['name']}", template))
    return found


@pytest.mark.slow
def test_every_rendered_workflow_pod_is_admitted(platform_render) -> None:
    values = _values(platform_render)
    limit_ranges = platform_render.find("LimitRange", namespace=TRAINING_NS)
    quotas = platform_render.find("ResourceQuota", namespace=TRAINING_NS)
    assert limit_ranges and quotas, (
        "tenancy must render a LimitRange and a ResourceQuota for the training namespace"
    )
    templates = _workflow_templates(platform_render)
    assert any(name.startswith("WorkflowTemplate/platform-smoke/") for name, _ in templates)
    for name, template in templates:
        spec = argo_pod_spec(template, values)
        assert check_pod(spec, limit_ranges, quotas) == [], name
        for container in spec["initContainers"] + spec["containers"]:
            resources = apply_limit_range(container, limit_ranges)
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[section]), f"{name}: {container['name']} {section}"


@pytest.mark.slow
def test_workflow_pods_meet_the_enforced_restricted_profile(platform_render) -> None:
    namespace = platform_render.one("Namespace", TRAINING_NS)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    values = _values(platform_render)
    for name, template in _workflow_templates(platform_render):
        assert restricted_violations(argo_pod_spec(template, values)) == [], name


def test_restricted_check_catches_a_root_container() -> None:
    spec = {"containers": [{"name": "main", "securityContext": {"runAsUser": 0}}]}
    assert "main: runAsUser must not be 0" in restricted_violations(spec)
    assert "main: capabilities must drop ALL" in restricted_violations(spec)


@pytest.mark.slow
def test_dedicated_server_pod_fits_the_serving_quota(platform_render) -> None:
    config = platform_render.one("ServerConfig", "mlserver", "financial-ml")["spec"]["podSpec"]
    server = platform_render.one("Server", "financial-mlserver", "financial-ml")["spec"]["podSpec"]
    # The operator merges the Server's podSpec into the ServerConfig's, container by name.
    overrides = {c["name"]: c for c in server["containers"]}
    pod_spec = dict(
        config, containers=[_merge(c, overrides.get(c["name"], {})) for c in config["containers"]]
    )
    problems = check_pod(
        pod_spec,
        platform_render.find("LimitRange", namespace="financial-ml"),
        platform_render.find("ResourceQuota", namespace="financial-ml"),
    )
    assert problems == []
    assert restricted_violations(pod_spec) == []


@pytest.mark.slow
def test_executor_resources_are_set_by_the_controller_config(platform_render) -> None:
    resources = _values(platform_render)["executor"]["resources"]
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[section])


@pytest.mark.slow
def test_quota_values_are_the_contract(platform_render) -> None:
    for namespace in ("financial-ml", TRAINING_NS):
        hard = platform_render.one("ResourceQuota", "compute", namespace)["spec"]["hard"]
        assert parse_quantity(hard["requests.cpu"]) == 50
        assert parse_quantity(hard["requests.memory"]) == 100 * 2**30
        assert parse_quantity(hard["limits.memory"]) == 200 * 2**30


# The computation itself, on the old system's failure.

QUOTA = {"kind": "ResourceQuota", "spec": {"hard": {"requests.cpu": "50", "limits.memory": "200Gi"}}}
LIMIT_RANGE = {
    "kind": "LimitRange",
    "spec": {
        "limits": [
            {
                "type": "Container",
                "default": {"cpu": "1", "memory": "1Gi"},
                "defaultRequest": {"cpu": "100m", "memory": "256Mi"},
            }
        ]
    },
}
BARE_POD = {
    "initContainers": [{"name": "init"}],
    "containers": [{"name": "wait"}, {"name": "main", "resources": {"requests": {"cpu": "500m"}}}],
}


def test_old_system_failure_bare_executor_containers_are_rejected_without_limit_range() -> None:
    problems = check_pod(BARE_POD, [], [QUOTA])
    assert any("init container 'init' has no requests.cpu" in p for p in problems)
    assert any("main container 'wait' has no limits.memory" in p for p in problems)


def test_limit_range_defaults_make_the_same_pod_admissible() -> None:
    assert check_pod(BARE_POD, [LIMIT_RANGE], [QUOTA]) == []
    usage = pod_usage(BARE_POD, [LIMIT_RANGE])
    # wait 100m (defaultRequest) + main 500m (its own request).
    assert usage["requests.cpu"] == Fraction(6, 10)
    assert usage["limits.memory"] == 2 * 2**30


def test_limit_only_container_gets_request_equal_to_limit() -> None:
    res = apply_limit_range({"resources": {"limits": {"memory": "3Gi"}}}, [LIMIT_RANGE])
    assert res["requests"]["memory"] == "3Gi"
    assert res["requests"]["cpu"] == "100m"


def test_request_over_defaulted_limit_is_reported() -> None:
    spec = {"containers": [{"name": "main", "resources": {"requests": {"cpu": "2"}}}]}
    problems = check_pod(spec, [LIMIT_RANGE], [QUOTA])
    assert problems == [
        "main container 'main': cpu request 2 exceeds its limit 1 (after LimitRange defaulting); "
        "the API server rejects the pod"
    ]


def test_pod_over_quota_is_reported() -> None:
    big = {
        "containers": [{"name": "main", "resources": {"requests": {"cpu": "40"}, "limits": {"cpu": "40"}}}]
    }
    problems = check_pod(big, [LIMIT_RANGE], [QUOTA], used={"requests.cpu": Fraction(20)})
    assert problems == ["requests.cpu: pod needs 40, quota 50 exceeded"]


def test_init_containers_count_by_their_peak() -> None:
    spec = {
        "initContainers": [{"name": "a", "resources": {"requests": {"cpu": "3"}}}],
        "containers": [{"name": "b", "resources": {"requests": {"cpu": "1"}}}],
    }
    assert pod_usage(spec, [LIMIT_RANGE])["requests.cpu"] == 3


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2Gi", 2 * 2**30),
        ("1k", 1000),
        ("1.5", Fraction(3, 2)),
        (2, 2),
        ("1e3", 1000),
    ],
)
def test_parse_quantity(text, value) -> None:
    assert parse_quantity(text) == value


def test_parse_quantity_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity("lots")
