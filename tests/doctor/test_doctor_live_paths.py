"""The live path of the runbooks (day2_collect -> cluster_snapshot) against a
Kubernetes API double on loopback serving a fixture's objects with real
Secret values: what is saved must carry no value and be 0600.

Each k8s_info call starts a module process (seconds on a busy machine), so
the run lists three kinds; day2_collect treats every kind the same way.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from doctor_fake_kube_api import FakeKubeAPI

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "Live-Cluster-Pa55word"
KINDS = [
    {"api_version": "v1", "kind": "Secret", "namespace": "mlflow"},
    {"api_version": "v1", "kind": "Pod"},
    {"api_version": "networking.k8s.io/v1", "kind": "NetworkPolicy"},
]


def cluster_objects(fixture: str) -> list[dict]:
    """The fixture's objects with real Secret values, as a live API returns them."""
    doc = yaml.safe_load((FIXTURES / f"{fixture}.yaml").read_text())
    for obj in doc["objects"]:
        if obj["kind"] == "Secret":
            obj["data"] = {k: base64.b64encode(f"{PASSWORD}-{k}".encode()).decode() for k in obj["data"]}
            obj["metadata"]["annotations"] = {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    {"stringData": {"password": PASSWORD}}
                )
            }
    return doc["objects"]


@pytest.mark.slow
def test_live_snapshot_is_redacted_and_private(tmp_path):
    api = FakeKubeAPI(cluster_objects("network-blocked"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(api.kubeconfig()))
    kubeconfig.chmod(0o600)
    saved = tmp_path / "snapshots" / "snap.json"
    env = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "playbooks/day2/snapshot.yml",
        "-e", f"platform_kubeconfig={kubeconfig}",
        "-e", f"snapshot_path={saved}",
        "-e", json.dumps({"day2_collect_kinds": KINDS}),
    ]  # fmt: skip
    with api:
        result = subprocess.run(
            command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert saved.stat().st_mode & 0o777 == 0o600
    assert saved.parent.stat().st_mode & 0o777 == 0o700
    text = saved.read_text()
    assert PASSWORD not in text
    assert base64.b64encode(f"{PASSWORD}-password".encode()).decode() not in text
    document = json.loads(text)
    kinds = {o["kind"] for o in document["objects"]}
    assert kinds == {"Secret", "Pod", "NetworkPolicy"}  # kind/apiVersion restored from the List
    secrets = {o["metadata"]["name"]: o for o in document["objects"] if o["kind"] == "Secret"}
    assert sorted(secrets["mlflow-postgres"]["data"]) == ["password", "username"]
    assert document["context"]["metallb_ip_reservations"]["mlflow"] == "192.168.1.200"
    assert "/api/v1/namespaces/mlflow/secrets" in " ".join(api.requests)
