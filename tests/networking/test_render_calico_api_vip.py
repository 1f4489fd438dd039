"""Calico reaches the API through k3s_api_vip when one is set (render mode, inventory/sample + -e)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

PLAYBOOK = Path(__file__).with_name("render_networking.yml")


@pytest.mark.slow
def test_calico_api_endpoint_is_the_vip(tmp_path, project_root, ansible_env) -> None:
    cmd = [
        "ansible-playbook", "-i", str(project_root / "inventory" / "sample"), str(PLAYBOOK),
        "-e", "platform_mode=render", "-e", f"platform_render_dir={tmp_path}",
        "-e", "k3s_api_vip=192.168.1.10", "-e", "k3s_api_endpoint=192.168.1.10",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=project_root, env=ansible_env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    docs = [
        d
        for p in sorted((tmp_path / "10-calico-operator").glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text())
    ]
    chart = next(d for d in docs if d and d["kind"] == "HelmChart")
    values = yaml.safe_load(chart["spec"]["valuesContent"])
    assert values["kubernetesServiceEndpoint"] == {"host": "192.168.1.10", "port": "6443"}
