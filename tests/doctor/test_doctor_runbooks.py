"""The day-2 playbooks: offline doctor acceptance and syntax checks."""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_cli import run_ansible

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
# The runbooks of the day-2 doctor/backup family (other day-2 playbooks have their own tests).
RUNBOOKS = (
    "verify",
    "doctor",
    "snapshot",
    "train",
    "backup",
    "restore",
    "rotate-secrets",
    "platform-request",
)
PLAYBOOKS = [PROJECT / "playbooks" / "day2" / f"{name}.yml" for name in RUNBOOKS]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def run_playbook(*args: str) -> subprocess.CompletedProcess[str]:
    return run_ansible("ansible-playbook", *args, timeout=120)


@pytest.mark.slow
def test_offline_doctor_prints_findings_and_fails_on_errors():
    fixture = FIXTURES / "network-blocked.yaml"
    result = run_playbook("playbooks/day2/doctor.yml", "-e", f"snapshot={fixture.relative_to(PROJECT)}")
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    # The default callback wraps long lines; check the pieces an operator reads.
    assert "[ERROR] network-policy-blocks-seldon-flow: NetworkPolicy blocks agent-to-scheduler" in out
    assert "Evidence:" in out and "Fix:" in out
    assert "financial-ml/default-deny" in out
    assert "port: 9005" in out
    assert "The doctor found 7 error(s)" in out


@pytest.mark.slow
def test_offline_doctor_exits_zero_on_healthy_snapshot():
    result = run_playbook("playbooks/day2/doctor.yml", "-e", "snapshot=tests/doctor/fixtures/healthy.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found in the snapshot." in result.stdout


@pytest.mark.slow
def test_platform_request_document(tmp_path):
    target = tmp_path / "request.md"
    result = run_playbook(
        "playbooks/day2/platform-request.yml",
        "-e",
        "snapshot=tests/doctor/fixtures/namespace-terminating.yaml",
        "-e",
        f"request_path={target}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = target.read_text()
    assert text.startswith("# Platform change request: financial-mlops")
    assert "## 1. Namespace financial-mlops-pytorch is stuck in Terminating" in text
    assert "**Evidence:**" in text and "**Exact change:**" in text
    assert "patch workflow.argoproj.io financial-training-pipeline-x7k2p" in text


@pytest.mark.slow
def test_syntax_check():
    result = run_playbook("--syntax-check", *(str(p.relative_to(PROJECT)) for p in PLAYBOOKS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_snapshot_module_writes_a_redacted_0600_file(tmp_path):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "minio-root", "namespace": "mlflow"},
        "data": {"rootUser": "YWRtaW4=", "rootPassword": "c3VwZXItc2VjcmV0LXZhbHVl"},
    }
    (tmp_path / "objects.json").write_text(json.dumps([secret]))
    target = tmp_path / "snapshot.json"
    playbook = tmp_path / "save.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - finmlops.platform.cluster_snapshot:\n"
        f"        objects: \"{{{{ lookup('file', '{tmp_path / 'objects.json'}') | from_json }}}}\"\n"
        f"        path: {target}\n"
        "      no_log: true\n"
    )
    result = run_playbook(str(playbook))
    assert result.returncode == 0, result.stdout + result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    text = target.read_text()
    assert "c3VwZXItc2VjcmV0LXZhbHVl" not in text and "super-secret-value" not in text
    saved = json.loads(text)
    assert saved["redacted"] is True
    assert sorted(saved["objects"][0]["data"]) == ["rootPassword", "rootUser"]


def _backup(tmp_path, damaged: bool = False) -> Path:
    folder = tmp_path / "20261120T100000Z"
    (folder / "minio").mkdir(parents=True)
    dump = folder / "postgresql-mlflow.dump"
    dump.write_bytes(b"PGDMP custom-format dump")
    digest = hashlib.sha256(b"other bytes" if damaged else dump.read_bytes()).hexdigest()
    manifest = {
        "created_at": "20261120T100000Z",
        "postgresql": {"file": dump.name, "sha256": digest},
        "minio": {"buckets": ["mlflow-artifacts"]},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.mark.slow
def test_restore_refuses_without_confirmation(tmp_path):
    # stdin is not a terminal: the prompt gets no answer, so nothing may be touched.
    result = run_playbook("playbooks/day2/restore.yml", "-e", f"backup_dir={_backup(tmp_path)}")
    assert result.returncode != 0
    assert "Not confirmed (confirm_restore_backup is ''" in " ".join(result.stdout.split())
    assert "Find the PostgreSQL pod" not in result.stdout


@pytest.mark.slow
def test_restore_refuses_a_damaged_backup(tmp_path):
    result = run_playbook(
        "playbooks/day2/restore.yml",
        "-e",
        f"backup_dir={_backup(tmp_path, damaged=True)}",
        "-e",
        "confirm_restore_backup=yes",
    )
    assert result.returncode != 0
    assert "the backup is damaged" in result.stdout


@pytest.mark.parametrize("module", ["cluster_doctor", "cluster_verify", "cluster_snapshot", "bucket_mirror"])
def test_module_documentation_parses_and_lists_options(module):
    path = PROJECT / "collections/ansible_collections/finmlops/platform/plugins/modules" / f"{module}.py"
    docs = {
        node.targets[0].id: node.value.value
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("DOCUMENTATION", "RETURN")
    }
    documentation = yaml.safe_load(docs["DOCUMENTATION"])
    assert documentation["module"] == module
    assert documentation["options"]
    assert yaml.safe_load(docs["RETURN"])


@pytest.mark.slow
def test_verify_on_saved_snapshots_prints_one_table_and_sets_exit_code():
    healthy = run_playbook("playbooks/day2/verify.yml", "-e", "snapshot=tests/doctor/fixtures/healthy.yaml")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "STATE  CHECK" in healthy.stdout
    assert "SKIP   MLflow via LB IP" in healthy.stdout
    assert "checks, 0 failed" in healthy.stdout
    broken = run_playbook(
        "playbooks/day2/verify.yml", "-e", "snapshot=tests/doctor/fixtures/loadbalancer-ip.yaml"
    )
    assert broken.returncode == 2
    assert "FAIL   LoadBalancer IP" in broken.stdout
    assert "check(s) FAILED" in broken.stdout


@pytest.mark.slow
def test_rotation_refuses_without_confirmation_and_touches_no_node(tmp_path):
    result = run_playbook("playbooks/day2/rotate-secrets.yml", "-e", f"platform_secrets_dir={tmp_path}")
    out = result.stdout
    assert result.returncode != 0
    assert "Not confirmed (confirm_rotation is ''" in " ".join(out.split())
    assert "Back up the platform state" not in out
    assert "Rotate the server token" not in out and "UNREACHABLE" not in out
