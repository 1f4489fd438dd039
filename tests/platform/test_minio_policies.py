"""Each MinIO identity's policy lets it do exactly its job, judged by a real S3 policy engine.

No MinIO server can be had here, so the policies of
roles/mlflow/files/minio-identities.yml (the very documents the mlflow role
gives MinIO) are attached to IAM users of moto's S3 server with IAM
authorization enforced (INITIAL_NO_AUTH_ACTION_COUNT), which evaluates the
same AWS policy language MinIO implements. Each identity then tries every
action of every client, and the test compares the outcome with a table.

moto runs in its own virtualenv, made on first use (tests/moto_s3.py says
why and how; FINMLOPS_MOTO_VENV points at another one). The test skips, saying
so, only when that virtualenv cannot be built.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from moto_s3 import moto_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
IDENTITIES = yaml.safe_load((ROOT / "roles/mlflow/files/minio-identities.yml").read_text())["identities"]

SERVING = "7/0a1b2c/artifacts/serving/model-settings.json"
MODEL = "7/0a1b2c/artifacts/model/data/model.pth"
PROBES = [
    {"id": "list-mlflow", "action": "list", "bucket": "mlflow-artifacts", "key": "7/"},
    {"id": "get-serving", "action": "get", "bucket": "mlflow-artifacts", "key": SERVING, "seed": True},
    {"id": "get-model", "action": "get", "bucket": "mlflow-artifacts", "key": MODEL, "seed": True},
    {"id": "put-serving", "action": "put", "bucket": "mlflow-artifacts", "key": SERVING},
    {
        "id": "put-model",
        "action": "put",
        "bucket": "mlflow-artifacts",
        "key": "8/ffff/artifacts/model/new.pth",
    },
    {
        "id": "delete-mlflow",
        "action": "delete",
        "bucket": "mlflow-artifacts",
        "key": "9/gone/artifacts/old.txt",
    },
    {"id": "list-argo", "action": "list", "bucket": "argo-artifacts", "key": ""},
    {
        "id": "get-argo",
        "action": "get",
        "bucket": "argo-artifacts",
        "key": "wf-1/train/model.tgz",
        "seed": True,
    },
    {"id": "put-argo", "action": "put", "bucket": "argo-artifacts", "key": "wf-2/train/model.tgz"},
    {"id": "delete-argo", "action": "delete", "bucket": "argo-artifacts", "key": "wf-0/old.tgz"},
    {"id": "other-bucket", "action": "create-bucket", "bucket": "finmlops-intruder"},
]
ALL = {p["id"] for p in PROBES}
MLFLOW_BUCKET = {p["id"] for p in PROBES if p["bucket"] == "mlflow-artifacts"}
ARGO_BUCKET = {p["id"] for p in PROBES if p["bucket"] == "argo-artifacts"}
# What each client's job needs, and nothing else.
EXPECTED_ALLOWED = {
    "mlflow": MLFLOW_BUCKET,
    "argo": ARGO_BUCKET,
    "models-reader": {"list-mlflow", "get-serving"},
    "backup": {"list-mlflow", "get-serving", "get-model", "list-argo", "get-argo"},
}


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    # Setup (buckets, seeds, users, policies, keys) takes fewer actions than
    # this; the probe script spends the rest before it tests anything.
    with moto_server(tmp_path_factory.mktemp("moto"), no_auth_actions=200) as (python, url):
        yield python, url


def test_identity_names_and_secrets_are_distinct() -> None:
    for field in ("name", "user", "password", "secret", "policy_name"):
        values = [i[field] for i in IDENTITIES]
        assert len(values) == len(set(values)), field
    assert {i["name"] for i in IDENTITIES} == set(EXPECTED_ALLOWED)


def test_each_identity_can_do_exactly_its_job(moto_endpoint) -> None:
    python, url = moto_endpoint
    identities = [
        {"name": i["name"], "policy_name": i["policy_name"], "policy": i["policy"]} for i in IDENTITIES
    ]
    run = subprocess.run(
        [str(python), str(HERE / "moto_policy_probe.py"), url, json.dumps(identities), json.dumps(PROBES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(run.stdout)
    for name, allowed in EXPECTED_ALLOWED.items():
        outcome = results[name]
        assert {p for p, r in outcome.items() if r == "allowed"} == allowed, (name, outcome)
        assert {p for p, r in outcome.items() if r == "denied"} == ALL - allowed, (name, outcome)
