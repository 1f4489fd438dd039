"""Pod Security Standards v1.33, control by control, on hand-written pods (no render needed)."""

from __future__ import annotations

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.chart_expand import Release, render_release
from ansible_collections.finmlops.platform.plugins.module_utils.pod_security import check_objects, check_pod
from ansible_collections.finmlops.platform.plugins.module_utils.pod_templates import (
    PodTemplate,
    render_pod_templates,
)

RESTRICTED_OK = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "app",
            "image": "x",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
}


def fields(spec: dict, level: str) -> list[str]:
    return [v.field for v in check_pod(PodTemplate("ns", "Pod/ns/p", "$.spec", spec, {}), level)]


def with_container(**security) -> dict:
    spec = {**RESTRICTED_OK, "containers": [{**RESTRICTED_OK["containers"][0]}]}
    spec["containers"][0]["securityContext"] = {**spec["containers"][0]["securityContext"], **security}
    return spec


def test_restricted_pod_passes_every_level() -> None:
    for level in ("privileged", "baseline", "restricted"):
        assert fields(RESTRICTED_OK, level) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hostNetwork": True}, "$.spec.hostNetwork"),
        ({"hostPID": True}, "$.spec.hostPID"),
        ({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "$.spec.volumes[0].hostPath"),
        (
            {"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}},
            "$.spec.securityContext.sysctls[0]",
        ),
        (
            {"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
            "$.spec.securityContext.seccompProfile.type",
        ),
    ],
)
def test_baseline_pod_level_controls(change: dict, field: str) -> None:
    assert field in fields({**RESTRICTED_OK, **change}, "baseline")


@pytest.mark.parametrize(
    ("security", "field"),
    [
        ({"privileged": True}, "securityContext.privileged"),
        ({"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}, "securityContext.capabilities.add"),
        ({"procMount": "Unmasked"}, "securityContext.procMount"),
        ({"seLinuxOptions": {"type": "spc_t"}}, "securityContext.seLinuxOptions.type"),
        ({"appArmorProfile": {"type": "Unconfined"}}, "securityContext.appArmorProfile.type"),
        ({"windowsOptions": {"hostProcess": True}}, "securityContext.windowsOptions.hostProcess"),
    ],
)
def test_baseline_container_controls(security: dict, field: str) -> None:
    assert f"$.spec.containers[0].{field}" in fields(with_container(**security), "baseline")


def test_baseline_allows_default_capabilities_and_host_port_zero() -> None:
    spec = with_container(capabilities={"drop": ["ALL"], "add": ["CHOWN"]})
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 0}]
    assert fields(spec, "baseline") == []
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    assert "$.spec.containers[0].ports[0].hostPort" in fields(spec, "baseline")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (
            with_container(allowPrivilegeEscalation=True),
            "containers[0].securityContext.allowPrivilegeEscalation",
        ),
        (with_container(runAsNonRoot=False), "containers[0].securityContext.runAsNonRoot"),
        (with_container(runAsUser=0), "containers[0].securityContext.runAsUser"),
        (
            with_container(capabilities={"drop": ["NET_RAW"]}),
            "containers[0].securityContext.capabilities.drop",
        ),
        (
            with_container(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
            "containers[0].securityContext.capabilities.add",
        ),
        (
            {**RESTRICTED_OK, "securityContext": {"runAsNonRoot": True}},
            "containers[0].securityContext.seccompProfile.type",
        ),
        (
            {**RESTRICTED_OK, "volumes": [{"name": "n", "nfs": {"server": "x", "path": "/"}}]},
            "volumes[0].nfs",
        ),
    ],
)
def test_restricted_controls(spec: dict, field: str) -> None:
    assert f"$.spec.{field}" in fields(spec, "restricted")


def test_level_comes_from_the_namespace_label_and_defaults_to_privileged() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {"hostPID": True},
    }
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    levels, violations, count = check_objects([("f", ns), ("f", pod)])
    assert levels == {"a": "privileged"} and violations == [] and count == 1
    ns["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "baseline"}
    levels, violations, _ = check_objects([("f", ns), ("f", pod)])
    assert levels == {"a": "baseline"}
    assert [v.field for v in violations] == ["$.spec.hostPID"]
    assert "Pod/a/p" in str(violations[0]) and "fix:" in str(violations[0])


def test_argo_steps_get_controller_defaults_executor_and_labels() -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argo-workflow-controller-configmap", "namespace": "argo"},
        "data": {
            "config": "mainContainer:\n  securityContext: {runAsNonRoot: true}\n"
            "executor:\n  image: argoexec\n  securityContext: {privileged: true}\n"
        },
    }
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "wt", "namespace": "w"},
        "spec": {
            "templates": [{"name": "a", "container": {"image": "x"}}, {"name": "dag", "dag": {"tasks": []}}]
        },
    }
    pods = render_pod_templates([("f", config), ("f", template)])
    assert len(pods) == 1
    pod = pods[0]
    assert pod.metadata["labels"]["workflows.argoproj.io/workflow"] == "wt"
    assert pod.spec["containers"][0]["securityContext"] == {"runAsNonRoot": True}
    assert [c["name"] for c in pod.spec["initContainers"]] == ["init"]
    assert [c["name"] for c in pod.spec["containers"]] == ["main", "wait"]
    assert "$.spec.templates[0].initContainers[0].securityContext.privileged" in [
        v.field for v in check_pod(pod, "baseline")
    ]


_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: as.x.io}
spec: {scope: Namespaced, names: {kind: A}}
"""
# "---apiVersion": a template that trimmed its separator's newline; Helm still splits there.
_OBJECTS = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
"""
_HOOKS = """apiVersion: batch/v1
kind: Job
metadata: {name: pre, annotations: {helm.sh/hook: pre-install}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: gone, annotations: {helm.sh/hook: pre-delete}}
"""


class _Engine:
    """Test double of helm_python: a chart with one CRD, a hook, a delete hook and two objects."""

    class Chart:
        crds = ({"filename": "c/crds/a.yaml", "data": _CRD},)

        @staticmethod
        def load(path):
            return _Engine.Chart()

        def validate_schema(self, values):
            self.values = values

        def render(self, values, name, namespace, is_install):
            assert is_install and name == "rel" and namespace == "target"
            return {
                "c/templates/NOTES.txt": "hello",
                "c/templates/a.yaml": _OBJECTS,
                "c/templates/hooks.yaml": _HOOKS,
            }


def test_chart_expansion_order_hooks_namespace_and_marks(tmp_path) -> None:
    release = Release("c", "1.0.0", "rel", "target", {}, "f")
    expansion = render_release(release, tmp_path, engine=_Engine)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in expansion.objects]
    # crds/ first, pre-install hooks, then Helm's install order; the delete-only hook is not installed.
    assert kinds == [
        ("CustomResourceDefinition", "as.x.io"),
        ("Job", "pre"),
        ("ServiceAccount", "sa"),
        ("Deployment", "d"),
    ]
    assert expansion.skipped_hooks and "gone" in expansion.skipped_hooks[0]
    deployment = expansion.objects[-1]
    assert deployment["metadata"]["namespace"] == "target"
    assert deployment["metadata"]["annotations"]["finmlops.io/rendered-from-chart"] == "c-1.0.0"
    assert "namespace" not in expansion.objects[0]["metadata"]
