"""The whole-render checks (charts expanded) pass on the sample and catch each fault a cluster would.

The sample render (conftest ``platform_render``, charts included) must have zero Pod Security
violations, reference problems and flow problems. Each mutation test changes one object of that
render the way a user's edit could, and proves the check names the object, the field and the fix.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils import render_report
from ansible_collections.finmlops.platform.plugins.module_utils.chart_expand import CHART_ANNOTATION

CHARTS = {
    "tigera-operator-v3.30.7",
    "metallb-0.15.3",
    "mlflow-1.11.5",
    "argo-workflows-0.45.18",
    "seldon-core-v2-crds-2.9.1",
    "seldon-core-v2-setup-2.9.1",
}


@pytest.fixture(scope="module")
def render(platform_render):
    return platform_render


@pytest.fixture(scope="module")
def inputs(project_root):
    k8s_vars = yaml.safe_load((project_root / "roles/k8s_apply/vars/main.yml").read_text(encoding="utf-8"))
    return {
        "provided": k8s_vars["k8s_apply_provided_outside_render"],
        "unpullable": k8s_vars["k8s_apply_unpullable_image_rules"],
        "known": k8s_vars["k8s_apply_known_render_problems"],
    }


@pytest.fixture(scope="module")
def objects(render):
    return render_report.load_render([str(render.directory)], ["kustomization.yaml"])


def check(objects, inputs, flows=()):
    return render_report.check_render(
        objects, inputs["provided"], inputs["unpullable"], flows, inputs["known"]
    )


def find(objects, kind, name):
    for index, (source, obj) in enumerate(objects):
        if obj.get("kind") == kind and obj["metadata"]["name"] == name:
            return index, source, obj
    raise AssertionError(f"{kind} {name} not in the render")


def mutated(objects, kind, name, change):
    index, source, obj = find(objects, kind, name)
    changed = copy.deepcopy(obj)
    change(changed)
    out = list(objects)
    out[index] = (source, changed)
    return out


@pytest.mark.slow
def test_all_six_charts_are_expanded_with_their_pods(objects) -> None:
    charts = {(o["metadata"].get("annotations") or {}).get(CHART_ANNOTATION) for _, o in objects}
    assert charts >= CHARTS
    workloads = {
        (o["kind"], o["metadata"]["name"])
        for _, o in objects
        if o["kind"] in ("Deployment", "DaemonSet", "StatefulSet")
    }
    for expected in [
        ("Deployment", "mlflow"),
        ("StatefulSet", "minio"),
        ("StatefulSet", "postgresql"),
        ("Deployment", "argo-workflow-controller"),
        ("Deployment", "seldon-v2-controller-manager"),
        ("DaemonSet", "metallb-speaker"),
        ("Deployment", "tigera-operator"),
    ]:
        assert expected in workloads, f"{expected} missing from the render: {sorted(workloads)}"


@pytest.mark.slow
def test_render_summary_is_printed_with_zero_problems(render) -> None:
    assert "pod security violations: 0" in render.output
    assert "reference problems: 0" in render.output
    assert "flow problems: 0" in render.output
    assert "render wall time:" in render.output


@pytest.mark.slow
def test_sample_render_has_no_problem(objects, inputs) -> None:
    report = check(objects, inputs)
    assert report.pod_security == [], [str(v) for v in report.pod_security]
    assert report.references == [], [str(p) for p in report.references]
    assert report.known == [], report.known


@pytest.mark.slow
def test_restricted_namespace_without_seccomp_is_refused(objects, inputs) -> None:
    def drop(obj):
        obj["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile")

    report = check(mutated(objects, "Deployment", "mlflow", drop), inputs)
    messages = [str(v) for v in report.pod_security]
    assert any(
        "Deployment/mlflow/mlflow container mlflow " in m and "seccompProfile" in m and "RuntimeDefault" in m
        for m in messages
    ), messages


@pytest.mark.slow
def test_privileged_container_in_baseline_namespace_is_refused(objects, inputs) -> None:
    def privileged(obj):
        obj["spec"]["template"]["spec"]["containers"][0].setdefault("securityContext", {})["privileged"] = (
            True
        )

    report = check(mutated(objects, "Deployment", "argo-workflow-controller", privileged), inputs)
    messages = [str(v) for v in report.pod_security]
    assert any(
        "argo-workflow-controller" in m and "enforces baseline" in m and "privileged" in m and "fix:" in m
        for m in messages
    ), messages


@pytest.mark.slow
def test_service_selecting_nothing_is_caught(objects, inputs) -> None:
    def retarget(obj):
        obj["spec"]["selector"] = {"app.kubernetes.io/name": "mlfow"}

    report = check(mutated(objects, "Service", "mlflow", retarget), inputs)
    messages = [str(p) for p in report.references]
    assert any("Service/mlflow/mlflow at $.spec.selector" in m and "fix:" in m for m in messages), messages


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "name", "path_part", "missing"),
    [
        ("Secret", "mlflow-postgres", "secretKeyRef", "Secret mlflow/mlflow-postgres"),
        ("ConfigMap", "mlflow-migrations", "configMap", "ConfigMap mlflow/mlflow-migrations"),
        ("ServiceAccount", "mlflow", "serviceAccountName", "ServiceAccount mlflow/mlflow"),
        ("StorageClass", None, "storageClassName", "StorageClass"),
    ],
)
def test_removed_target_is_caught(objects, inputs, kind, name, path_part, missing) -> None:
    kept = [
        (s, o)
        for s, o in objects
        if not (o["kind"] == kind and (name is None or o["metadata"]["name"] == name))
    ]
    assert len(kept) < len(objects), f"no {kind} {name} in the render to remove"
    messages = [str(p) for p in check(kept, inputs).references]
    assert any(path_part in m and missing in m and "does not exist" in m for m in messages), messages


@pytest.mark.slow
def test_webhook_to_missing_service_is_caught(objects, inputs) -> None:
    kept = [
        (s, o)
        for s, o in objects
        if not (o["kind"] == "Service" and o["metadata"]["name"] == "metallb-webhook-service")
    ]
    messages = [str(p) for p in check(kept, inputs).references]
    assert any("ValidatingWebhookConfiguration" in m and "metallb-webhook-service" in m for m in messages), (
        messages
    )


@pytest.mark.slow
def test_unpullable_image_rule_is_data_driven(objects, inputs) -> None:
    # The sample pulls from a registry; a user who empties ml_image_registry gets localhost/ images.
    def local_image(obj):
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "localhost/financial-mlops-mlserver:0.1.0"

    local = mutated(objects, "Deployment", "mlflow", local_image)
    rules = inputs["unpullable"]
    assert not render_report.check_render(objects, inputs["provided"], rules, (), ()).references
    report = render_report.check_render(local, inputs["provided"], rules, (), ())
    assert any("localhost/" in p.missing and p.path.endswith(".image") for p in report.references)
    assert not render_report.check_render(local, inputs["provided"], [], (), ()).references


@pytest.mark.slow
def test_flow_table_passes_on_real_labels_and_catches_a_block(render, objects, inputs) -> None:
    flows = [
        {
            "name": "MLflow -> PostgreSQL",
            "from": {"name": "MLflow", "namespace": "mlflow", "labels": {"app.kubernetes.io/name": "mlflow"}},
            "to": {
                "name": "PostgreSQL",
                "namespace": "mlflow",
                "labels": {"app.kubernetes.io/name": "postgresql"},
            },
            "port": 5432,
        }
    ]
    report = check(objects, inputs, flows)
    assert report.flows == [] and report.flow_pairs >= 1, [str(f) for f in report.flows]

    def block(obj):
        obj["spec"]["ingress"][0]["from"] = [
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nobody"}}}
        ]

    policy = next(
        o["metadata"]["name"]
        for _, o in objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-postgresql-from-mlflow"
    )
    blocked = check(mutated(objects, "NetworkPolicy", policy, block), inputs, flows)
    messages = [str(f) for f in blocked.flows]
    assert any(
        "MLflow -> PostgreSQL" in m and "Deployment/mlflow/mlflow" in m and "blocked" in m for m in messages
    ), messages
    assert any("selects no pod" in m or "blocked" in m for m in messages)


@pytest.mark.slow
def test_policy_selecting_no_pod_is_caught(objects, inputs) -> None:
    def retarget(obj):
        obj["spec"]["podSelector"] = {"matchLabels": {"app.kubernetes.io/name": "postgres"}}

    report = check(mutated(objects, "NetworkPolicy", "allow-postgresql-from-mlflow", retarget), inputs)
    messages = [str(f) for f in report.flows]
    assert any("allow-postgresql-from-mlflow" in m and "selects no pod" in m for m in messages), messages


@pytest.mark.slow
def test_every_rendered_helmchart_is_in_the_chart_lock(project_root, render) -> None:
    lock = yaml.safe_load((project_root / "playbooks/vars/charts-lock.yml").read_text(encoding="utf-8"))
    dests = {e["dest"] for e in lock["charts_lock"]}
    charts = render.find("HelmChart")
    assert len(charts) == 6
    for chart in charts:
        assert f"{chart['spec']['chart']}-{chart['spec']['version']}.tgz" in dests, chart["metadata"]["name"]
