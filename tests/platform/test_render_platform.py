"""The whole cluster plane renders for inventory/sample and holds the platform's contract."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.slow

RESERVATIONS = {  # inventory/sample metallb_ip_reservations
    ("mlflow", "mlflow"): "192.168.1.200",
    ("mlflow", "minio"): "192.168.1.201",
    ("argo", "argo-server"): "192.168.1.202",
    ("financial-ml", "seldon-mesh"): "192.168.1.203",
}


def _helm_merge(defaults: dict, values: dict) -> dict:
    """Helm's coalescing of user values over chart defaults (null deletes a key)."""
    merged = dict(defaults)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _mlflow_chart_values(render, schema_dir) -> tuple[dict, dict]:
    schema = json.loads((schema_dir / "mlflow" / "values.schema.json").read_text(encoding="utf-8"))
    defaults = yaml.safe_load((schema_dir / "mlflow" / "values.yaml").read_text(encoding="utf-8"))
    return schema, _helm_merge(defaults, _values(render, "mlflow"))


def _values(render, name: str) -> dict:
    return yaml.safe_load(render.one("HelmChart", name, "kube-system")["spec"]["valuesContent"])


def test_render_validates_with_zero_errors(platform_render) -> None:
    output = " ".join(platform_render.output.split())
    assert re.search(r"Rendered \d+ documents \(.*?\), 0 errors", output), output[-3000:]


def test_upstream_components_are_pinned_helm_charts(platform_render) -> None:
    charts = {c["metadata"]["name"]: c["spec"] for c in platform_render.find("HelmChart")}
    assert charts["seldon-core-v2-crds"]["version"] == "2.9.1"
    assert charts["seldon-core-v2-setup"]["version"] == "2.9.1"
    assert charts["seldon-core-v2-setup"]["targetNamespace"] == "seldon-system"
    assert charts["mlflow"]["version"] == "1.11.5"
    assert charts["argo-workflows"]["targetNamespace"] == "argo"
    assert _values(platform_render, "argo-workflows")["images"]["tag"] == "v3.6.10"
    for name in ("seldon-core-v2-crds", "seldon-core-v2-setup", "mlflow", "argo-workflows"):
        spec = charts[name]
        assert spec["repo"].startswith("https://")
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(spec["version"]))


def test_seldon_topology(platform_render) -> None:
    assert _values(platform_render, "seldon-core-v2-setup")["controller"]["clusterwide"] is True
    runtime = platform_render.one("SeldonRuntime", "seldon", "financial-ml")
    replicas = {o["name"]: o.get("replicas") for o in runtime["spec"]["overrides"]}
    # Kafka is off by default: no pipeline gateway, no dataflow engine.
    assert replicas["seldon-pipelinegateway"] == 0
    assert replicas["seldon-dataflow-engine"] == 0
    assert replicas["seldon-scheduler"] == 1
    assert platform_render.one("ServerConfig", "mlserver", "financial-ml")
    server = platform_render.one("Server", "financial-mlserver", "financial-ml")
    assert server["spec"]["serverConfig"] == "mlserver"
    mlserver = server["spec"]["podSpec"]["containers"][0]
    assert not mlserver["image"].endswith(":latest")
    assert {"requests", "limits"} <= set(mlserver["resources"])
    # No Seldon v1 leftovers.
    assert not platform_render.find("SeldonDeployment")
    assert not platform_render.find("ConfigMap", "seldon-config")


def test_load_balancers_carry_their_reserved_address(platform_render) -> None:
    services = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s for s in platform_render.find("Service")
    }
    for key in (("mlflow", "minio"), ("financial-ml", "seldon-mesh")):
        annotations = services[key]["metadata"]["annotations"]
        assert annotations["metallb.io/loadBalancerIPs"] == RESERVATIONS[key]
        assert services[key]["spec"]["type"] == "LoadBalancer"
    mlflow = _values(platform_render, "mlflow")["service"]
    assert mlflow["type"] == "LoadBalancer"
    assert mlflow["port"] == 5000
    assert mlflow["annotations"]["metallb.io/loadBalancerIPs"] == RESERVATIONS[("mlflow", "mlflow")]
    server = _values(platform_render, "argo-workflows")["server"]
    assert server["serviceType"] == "LoadBalancer"
    assert server["serviceAnnotations"]["metallb.io/loadBalancerIPs"] == RESERVATIONS[("argo", "argo-server")]
    assert "server" not in server["authModes"]
    assert services[("mlflow", "postgresql")]["spec"]["type"] == "ClusterIP"


def test_mlflow_values_satisfy_the_chart_schema(platform_render, schema_dir) -> None:
    # Helm validates the chart defaults coalesced with our values; so do we.
    schema, merged = _mlflow_chart_values(platform_render, schema_dir)
    jsonschema.Draft7Validator(schema).validate(merged)
    values = _values(platform_render, "mlflow")
    assert values["artifactRoot"]["proxiedArtifactStorage"] is True
    assert values["backendStore"]["existingDatabaseSecret"]["name"] == "mlflow-postgres"
    # No credential in the chart values: they come from Secrets only.
    assert not values["backendStore"]["postgres"].get("password")
    assert "awsSecretAccessKey" not in values["artifactRoot"]["s3"]


def test_mlflow_values_schema_rejects_a_misspelled_key(platform_render, schema_dir) -> None:
    schema, merged = _mlflow_chart_values(platform_render, schema_dir)
    merged["artifactRoot"]["proxiedArtifactsStorage"] = True
    with pytest.raises(jsonschema.ValidationError, match="proxiedArtifactsStorage"):
        jsonschema.Draft7Validator(schema).validate(merged)


def test_data_volumes_are_retained(platform_render) -> None:
    storage_class = platform_render.one("StorageClass", "finmlops-retain")
    assert storage_class["reclaimPolicy"] == "Retain"
    for name in ("postgresql", "minio"):
        sts = platform_render.one("StatefulSet", name, "mlflow")
        assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
            "whenDeleted": "Retain",
            "whenScaled": "Retain",
        }
        for claim in sts["spec"]["volumeClaimTemplates"]:
            assert claim["spec"]["storageClassName"] == "finmlops-retain"
        container = sts["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"] and container["livenessProbe"]


def test_secrets_are_redacted_and_keyed_as_agreed(platform_render) -> None:
    expected = {
        ("mlflow", "mlflow-postgres"): {"username", "password"},
        ("mlflow", "minio-root"): {"rootUser", "rootPassword"},
        ("mlflow", "mlflow-s3"): {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
        ("financial-mlops-pytorch", "argo-artifacts-s3"): {"accessKey", "secretKey"},
    }
    secrets = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in platform_render.find("Secret")}
    for key, keys in expected.items():
        values = secrets[key].get("stringData", {})
        assert set(values) == keys, key
        assert all(v.startswith("REDACTED") for v in values.values()), key


def test_bucket_job_is_idempotent_and_keeps_credentials_off_the_command_line(platform_render) -> None:
    jobs = [
        j
        for j in platform_render.find("Job", namespace="mlflow")
        if j["metadata"]["name"].startswith("minio-buckets")
    ]
    assert len(jobs) == 1
    container = jobs[0]["spec"]["template"]["spec"]["containers"][0]
    assert "--ignore-existing" in container["args"]
    assert {"local/mlflow-artifacts", "local/argo-artifacts"} <= set(container["args"])
    assert not any("MINIO_ROOT" in arg for arg in container["args"] + container.get("command", []))


def test_workflow_service_account_has_no_secret_or_cluster_wide_access(platform_render) -> None:
    def is_workflow_sa(subject: dict) -> bool:
        return subject.get("kind") == "ServiceAccount" and (
            subject.get("name"),
            subject.get("namespace"),
        ) == ("argo-workflow", "financial-mlops-pytorch")

    for binding in platform_render.find("ClusterRoleBinding"):
        assert not any(is_workflow_sa(s) for s in binding.get("subjects", [])), binding["metadata"]["name"]
    granted = []
    for binding in platform_render.find("RoleBinding"):
        if any(is_workflow_sa(s) for s in binding.get("subjects", [])):
            assert binding["roleRef"]["kind"] == "Role", binding["metadata"]["name"]
            granted.append(
                platform_render.one("Role", binding["roleRef"]["name"], binding["metadata"]["namespace"])
            )
    assert {r["metadata"]["name"] for r in granted} >= {"argo-workflow-executor", "seldon-model-publisher"}
    for role in granted:
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"], role["metadata"]["name"]
            assert "*" not in rule["verbs"] and "*" not in rule["resources"], role["metadata"]["name"]
    assert platform_render.one("ServiceAccount", "argo-workflow", "financial-mlops-pytorch")


def test_namespaces_carry_pod_security_labels(platform_render) -> None:
    levels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in platform_render.find("Namespace")}
    assert levels["financial-mlops-pytorch"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert levels["financial-ml"]["pod-security.kubernetes.io/enforce"] == "baseline"
    for name in ("financial-ml", "financial-mlops-pytorch", "mlflow", "argo", "seldon-system"):
        assert levels[name]["pod-security.kubernetes.io/warn"] == "restricted", name


def test_no_image_is_latest_or_untagged(platform_render) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in platform_render.directory.rglob("*.yaml"))
    images = re.findall(r"image: ([^\s\"']+)", text)
    assert images
    for image in images:
        assert re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", image.rsplit("/", 1)[-1]), image
        assert not image.endswith(":latest"), image
