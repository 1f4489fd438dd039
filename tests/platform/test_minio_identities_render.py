"""MinIO's root credentials stay in the mlflow namespace; every client has its own identity.

Rendered Secrets carry no values, so the source of each value is checked in
the templates (only the minio-root Secret is filled from the root
credentials) and the render shows who mounts what.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IDENTITIES = yaml.safe_load((ROOT / "roles/mlflow/files/minio-identities.yml").read_text())["identities"]
# Pods that may hold the root credentials: MinIO itself and the Jobs that make buckets and users.
ROOT_HOLDERS = {"minio", "minio-buckets", "minio-users"}


def test_only_the_minio_root_secret_is_filled_from_the_root_credentials() -> None:
    users = []
    for template in (ROOT / "roles").rglob("templates/*.j2"):
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"platform_secrets\.minio_root_(user|password)", text):
            users.append(
                (template.relative_to(ROOT).as_posix(), text[: match.start()].rsplit("\n---", 1)[-1])
            )
    assert users, "no template uses the MinIO root credentials at all"
    for path, document in users:
        assert path == "roles/mlflow/templates/secrets.yaml.j2", path
        assert re.search(r"name: minio-root\s+namespace: \{\{ mlflow_namespace \}\}", document), document


def _pod_specs(render):
    for doc in render.documents:
        spec = doc.get("spec") or {}
        template = (spec.get("jobTemplate") or {}).get("spec", spec).get("template")
        if isinstance(template, dict) and "spec" in template:
            yield doc, template["spec"]
        for step in spec.get("templates", []) if isinstance(spec.get("templates"), list) else []:
            if "container" in step:
                yield doc, {"containers": [step["container"]]}


def _secret_names(pod: dict) -> set[str]:
    names = set()
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        for env in container.get("env", []):
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                names.add(source["secretRef"]["name"])
    for volume in pod.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
    return names


def test_only_minio_and_its_admin_jobs_use_the_root_secret(platform_render) -> None:
    holders = set()
    for doc, pod in _pod_specs(platform_render):
        if "minio-root" in _secret_names(pod):
            assert doc["metadata"]["namespace"] == "mlflow", doc["metadata"]
            holders.add(doc["metadata"].get("labels", {}).get("app.kubernetes.io/name"))
    assert holders == ROOT_HOLDERS


def test_every_client_identity_exists_with_its_policy(platform_render) -> None:
    for identity in IDENTITIES:
        secret = platform_render.one("Secret", identity["secret"], "mlflow")
        assert set(secret["stringData"]) == {"user", "password"}
    jobs = [
        j
        for j in platform_render.find("Job", namespace="mlflow")
        if j["metadata"]["name"].startswith("minio-users-")
    ]
    assert len(jobs) == 1
    config = platform_render.one("ConfigMap", jobs[0]["metadata"]["name"], "mlflow")["data"]
    for identity in IDENTITIES:
        assert yaml.safe_load(config[f"{identity['name']}.json"]) == identity["policy"]
        assert (
            f"policy create local {identity['policy_name']} /config/{identity['name']}.json"
            in config["configure.sh"]
        )
    env = {e["name"] for e in jobs[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"MLFLOW_PASSWORD", "ARGO_PASSWORD", "MODELS_READER_PASSWORD", "BACKUP_PASSWORD"} <= env
    # The clients' own Secrets, filled from their identities (see the template check above).
    assert platform_render.one("Secret", "mlflow-s3", "mlflow")
    assert platform_render.one("Secret", "argo-artifacts-s3", "financial-mlops-pytorch")
