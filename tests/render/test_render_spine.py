"""The k8s_apply render path: ordered files, redacted Secrets, kustomization, validation, idempotence."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from ansible_cli import run_ansible

PASSWORD = "s3cr3t-value-that-must-not-leak"


def _render(render_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_ansible(
        "ansible-playbook",
        "-i",
        "inventory/sample",
        "tests/playbooks/render_spine.yml",
        "-e",
        f"platform_render_dir={render_dir}",
        "-e",
        f"spine_password={PASSWORD}",
        *extra,
    )


def _changed(output: str) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_render_writes_ordered_validated_redacted_files(tmp_path) -> None:
    render_dir = tmp_path / "manifests"
    first = _render(render_dir)
    assert first.returncode == 0, first.stdout + first.stderr
    files = sorted(p.relative_to(render_dir).as_posix() for p in render_dir.rglob("*.yaml"))
    assert files == [
        "05-spine/000-namespace-spine-test.yaml",
        "05-spine/001-secret-spine-credentials.yaml",
        "05-spine/002-ipaddresspool-spine-pool.yaml",
        "kustomization.yaml",
    ]
    kustomization = yaml.safe_load((render_dir / "kustomization.yaml").read_text())
    assert kustomization["resources"] == [
        "05-spine/000-namespace-spine-test.yaml",
        "05-spine/002-ipaddresspool-spine-pool.yaml",
    ]
    secret = yaml.safe_load((render_dir / "05-spine/001-secret-spine-credentials.yaml").read_text())
    assert list(secret["stringData"]) == ["password"]
    for path in render_dir.rglob("*"):
        if path.is_file():
            assert PASSWORD not in path.read_text(), path
    assert PASSWORD not in first.stdout + first.stderr

    second = _render(render_dir)
    assert second.returncode == 0, second.stdout
    assert _changed(second.stdout) == 0, second.stdout


def test_render_removes_stale_files(tmp_path) -> None:
    render_dir = tmp_path / "manifests"
    stale = render_dir / "05-spine" / "099-configmap-gone.yaml"
    stale.parent.mkdir(parents=True)
    stale.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gone\n")
    result = _render(render_dir)
    assert result.returncode == 0, result.stdout
    assert not stale.exists()


def test_invalid_manifest_fails_the_render_with_its_path(tmp_path) -> None:
    result = _render(tmp_path / "manifests", "-e", "spine_bad=true")
    assert result.returncode != 0
    assert "IPAddressPool/metallb-system/spine-pool at $.spec" in result.stdout
    assert "autoAssing" in result.stdout


def test_validate_manifests_playbook(upstream_examples, tmp_path) -> None:
    good = run_ansible(
        "ansible-playbook",
        "playbooks/validate-manifests.yml",
        "-e",
        f"manifest_dir={upstream_examples / 'metallb'}",
    )
    assert good.returncode == 0, good.stdout
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(
        "apiVersion: mlops.seldon.io/v1alpha1\nkind: Model\nmetadata:\n  name: m\n  namespace: financial-ml\n"
        "spec:\n  storagUri: s3://bucket/model\n"
    )
    bad = run_ansible(
        "ansible-playbook", "playbooks/validate-manifests.yml", "-e", f"manifest_dir={tmp_path}"
    )
    assert bad.returncode != 0
    assert "Model/financial-ml/m at $.spec" in bad.stdout
    assert "storageUri" in bad.stdout
