"""Snapshot redaction: no Secret value survives, keys and format facts stay."""

from __future__ import annotations

import base64
import json

from ansible_collections.finmlops.platform.plugins.module_utils.doctor import run
from ansible_collections.finmlops.platform.plugins.module_utils.doctor.snapshot import Snapshot
from ansible_collections.finmlops.platform.plugins.module_utils.redact import parse_marker, redact_snapshot

PASSWORD = "s3cr3t-Pg-pa55"
ROOT_PASSWORD = "minio-R00t-pw"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_doc() -> dict:
    last_applied = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "mlflow-postgres", "namespace": "mlflow"},
            "stringData": {"username": "mlflow", "password": PASSWORD},
        }
    )
    return {
        "captured_at": "2026-11-20T10:00:00Z",
        "source": "test",
        "objects": [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "mlflow-postgres",
                    "namespace": "mlflow",
                    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied},
                    "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {"f:password": {}}}}],
                },
                "data": {"username": b64("mlflow"), "password": b64(PASSWORD)},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "minio-root", "namespace": "mlflow"},
                "data": {"rootUser": b64("admin\n"), "rootPassword": "not*base64!"},
                "stringData": {"extra": ROOT_PASSWORD},
            },
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "minio", "namespace": "mlflow"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "minio",
                                    "env": [
                                        {"name": "MINIO_ROOT_PASSWORD", "value": ROOT_PASSWORD},
                                        {"name": "MINIO_BROWSER", "value": "off"},
                                    ],
                                }
                            ]
                        }
                    }
                },
            },
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "mlflow"},
                "data": {"config.ini": f"user = mlflow\npassword = {PASSWORD}\n"},
            },
        ],
    }


def test_no_secret_value_survives_anywhere():
    clean = redact_snapshot(secret_doc())
    text = json.dumps(clean)
    for value in (PASSWORD, ROOT_PASSWORD, b64(PASSWORD), b64("mlflow"), "not*base64!"):
        assert value not in text
    assert clean["redacted"] is True


def test_keys_are_kept_and_format_facts_recorded():
    clean = redact_snapshot(secret_doc())
    postgres, minio = clean["objects"][0], clean["objects"][1]
    assert sorted(postgres["data"]) == ["password", "username"]
    assert parse_marker(postgres["data"]["password"]) == {
        "base64": "valid",
        "empty": "no",
        "trailing-newline": "no",
    }
    assert parse_marker(minio["data"]["rootUser"])["trailing-newline"] == "yes"
    assert parse_marker(minio["data"]["rootPassword"])["base64"] == "invalid"
    assert parse_marker(minio["stringData"]["extra"])["base64"] == "n/a"


def test_embedding_annotations_managed_fields_and_env_are_scrubbed():
    clean = redact_snapshot(secret_doc())
    meta = clean["objects"][0]["metadata"]
    assert meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "REDACTED(annotation)"
    assert "managedFields" not in meta
    env = clean["objects"][2]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0]["value"].startswith("REDACTED(") and env[1]["value"] == "off"
    assert "password = REDACTED(text)" in clean["objects"][3]["data"]["config.ini"]


def test_input_is_not_modified():
    doc = secret_doc()
    redact_snapshot(doc)
    assert PASSWORD in json.dumps(doc)


def test_doctor_reads_format_problems_from_redacted_snapshot():
    clean = redact_snapshot(secret_doc())
    findings = run(Snapshot.from_document(clean))
    evidence = [e for f in findings if f.id == "storage-secret-invalid" for e in f.evidence]
    assert "Secret/mlflow/minio-root data.rootPassword is not valid base64" in evidence
    assert any("data.rootUser ends with a newline" in e for e in evidence)
    assert not any("mlflow-postgres" in e for e in evidence)
