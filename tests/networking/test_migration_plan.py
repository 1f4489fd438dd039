"""migrate-cni.yml's detect and plan phases on local stand-in nodes: what it decides and what it refuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("plan_migration.yml")


def _node_files(root: Path, backend: str, network: str | None) -> dict[str, str]:
    """One node's k3s config, drop-in and (optionally) Flannel net-conf.json under ``root``."""
    (root / "config.yaml.d").mkdir(parents=True)
    (root / "config.yaml").write_text("node-name: n\ntoken-file: /etc/rancher/k3s/token\n")
    (root / "config.yaml.d" / "10-cni.yaml").write_text(f"# managed\nflannel-backend: {backend}\n")
    if network:
        (root / "net-conf.json").write_text(json.dumps({"Network": network, "Backend": {"Type": "vxlan"}}))
    return {
        "cni_migration_k3s_config": str(root / "config.yaml"),
        "cni_migration_k3s_dropin_dir": str(root / "config.yaml.d"),
        "cni_migration_flannel_net_conf": str(root / "net-conf.json"),
        "cni_migration_marker_path": str(root / "cni-migration.json"),
        "cni_migration_flannel_conflist": str(root / "10-flannel.conflist"),
        "cni_migration_calico_conflist": str(root / "10-calico.conflist"),
    }


def _run(tmp_path: Path, project_root: Path, env: dict[str, str], backend: str, network: str | None, **extra):
    paths = _node_files(tmp_path / "node", backend, network)
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "k3s_cni": "calico",
                "k3s_cluster_cidr": "10.42.0.0/16",
                "platform_mode": "render",
            },
            "children": {"server": {"hosts": {"s1": {}, "s2": {}}}, "agent": {"hosts": {"a1": {}}}},
        }
    }
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    extra_vars = {**paths, "plan_out": str(tmp_path / "decision.json"), **extra}
    cmd = [
        "ansible-playbook",
        "-i",
        str(tmp_path / "inventory.json"),
        str(DRIVER),
        "-e",
        json.dumps(extra_vars),
    ]
    return subprocess.run(
        cmd, cwd=project_root, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def _decision(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "decision.json").read_text())


@pytest.mark.slow
def test_flannel_cluster_is_planned_for_migration(tmp_path, project_root, ansible_env) -> None:
    run = _run(tmp_path, project_root, ansible_env, "vxlan", "10.42.0.0/16", confirm_migration="yes")
    assert run.returncode == 0, run.stdout[-3000:]
    assert _decision(tmp_path) == {
        "cni": "flannel",
        "pending": ["a1", "s1", "s2"],
        "hosts": {"s1": "flannel", "s2": "flannel", "a1": "flannel"},
    }
    assert "Flannel -> Calico on 3 node(s): a1, s1, s2" in run.stdout


@pytest.mark.slow
def test_calico_cluster_has_nothing_to_do(tmp_path, project_root, ansible_env) -> None:
    run = _run(tmp_path, project_root, ansible_env, "none", None)  # no confirmation needed
    assert run.returncode == 0, run.stdout[-3000:]
    assert _decision(tmp_path)["cni"] == "calico"
    assert "already runs Calico on every node: nothing to do" in run.stdout
    # The nodes are only read; the one change on localhost is this test's decision file.
    for host in ("s1", "s2", "a1"):
        assert re.search(rf"\n{host}\s+: ok=\d+\s+changed=0 ", run.stdout), run.stdout[-1500:]


@pytest.mark.slow
def test_preflight_rejects_a_pod_cidr_change(tmp_path, project_root, ansible_env) -> None:
    run = _run(tmp_path, project_root, ansible_env, "vxlan", "10.52.0.0/16", confirm_migration="yes")
    assert run.returncode != 0
    out = " ".join(run.stdout.split())
    assert "migrate-cni refuses to change the pod CIDR" in out
    assert "Set k3s_cluster_cidr: 10.52.0.0/16 in the inventory" in out


@pytest.mark.slow
def test_unconfirmed_non_interactive_run_stops_with_the_flag_to_use(
    tmp_path, project_root, ansible_env
) -> None:
    run = _run(tmp_path, project_root, ansible_env, "vxlan", "10.42.0.0/16")
    assert run.returncode != 0
    assert "or pass -e confirm_migration=yes" in " ".join(run.stdout.split())
