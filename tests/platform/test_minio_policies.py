"""Each MinIO identity's policy lets it do exactly its job, judged by a real S3 policy engine.

No MinIO server can be had here, so the policies of
roles/mlflow/files/minio-identities.yml (the very documents the mlflow role
gives MinIO) are attached to IAM users of moto's S3 server with IAM
authorization enforced (INITIAL_NO_AUTH_ACTION_COUNT), which evaluates the
same AWS policy language MinIO implements. Each identity then tries every
action of every client, and the test compares the outcome with a table.

moto needs botocore, whose python-dateutil pin clashes with the kubernetes
client of the project's venv, so it lives in its own virtualenv, made on
first use (PyPI must be reachable then):
    python -m venv ~/.cache/financial-mlops/moto-venv
    ~/.cache/financial-mlops/moto-venv/bin/pip install 'moto[server]>=5.1,<6'
FINMLOPS_MOTO_VENV points at another one. The test skips, saying so, only when
that virtualenv cannot be built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
IDENTITIES = yaml.safe_load((ROOT / "roles/mlflow/files/minio-identities.yml").read_text())["identities"]
MOTO_SPEC = "moto[server]>=5.1,<6"

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


def _moto_python() -> Path:
    venv = Path(os.environ.get("FINMLOPS_MOTO_VENV", Path.home() / ".cache/financial-mlops/moto-venv"))
    python = venv / "bin" / "python"
    if (venv / "bin" / "moto_server").exists():
        return python
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot create the moto virtualenv {venv}: {made.stderr.strip()[-300:]}")
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", MOTO_SPEC],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0:
        pytest.skip(
            f"cannot install {MOTO_SPEC} into {venv} (is PyPI reachable?): {pip.stderr.strip()[-300:]}"
        )
    return python


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    python = _moto_python()
    sys.path.insert(0, str(ROOT / "tests"))
    from ml.services import free_port

    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    # Setup (buckets, seeds, users, policies, keys) takes fewer actions than
    # this; the probe script spends the rest before it tests anything.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "200"}
    proc = subprocess.Popen(
        [str(python.parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {url}") from None
                time.sleep(0.3)
        yield python, url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


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
