"""The refusals of add-node, remove-node and etcd-restore, before any node is contacted.

The inventory's hosts have documentation addresses (192.0.2.0/24) that nothing
answers on: a guard that let a bad request through would reach a node play
and show up as UNREACHABLE, so every test also proves that no node was touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_cli import run_ansible


def _inventory(tmp_path: Path, servers: int = 3, agents: int = 2, endpoint: str = "192.0.2.11") -> Path:
    hosts = {f"k3s-server-{i}": {"ansible_host": f"192.0.2.{10 + i}"} for i in range(1, servers + 1)}
    agent_hosts = {f"k3s-agent-{i}": {"ansible_host": f"192.0.2.{20 + i}"} for i in range(1, agents + 1)}
    inventory = {
        "all": {
            "vars": {
                "k3s_api_endpoint": endpoint,
                "platform_secrets_dir": str(tmp_path / "credentials"),
                "platform_kubeconfig": str(tmp_path / "credentials" / "kubeconfig"),
            },
            "children": {
                "k3s_cluster": {
                    "children": {"server": {"hosts": hosts}, "agent": {"hosts": agent_hosts}},
                }
            },
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def _refused(playbook: str, inventory: Path, *extra: str) -> str:
    argv = ["-i", str(inventory), f"playbooks/day2/{playbook}"]
    for item in extra:
        argv += ["-e", item]
    run = run_ansible("ansible-playbook", *argv)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    assert "UNREACHABLE" not in out, f"a node was contacted:\n{out[-3000:]}"
    assert "failed=1" in out and "localhost" in out
    return " ".join(out.split())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["nodes=k3s-agent-9"], "not in the inventory: k3s-agent-9"),
        (["nodes=k3s-server-1"], "not the first server k3s-server-1 (run site.yml to build the cluster)"),
        ([], "Pass -e nodes=<name>[,<name>]"),
    ],
)
def test_add_node_refuses_bad_names(tmp_path: Path, extra: list[str], message: str) -> None:
    assert message in _refused("add-node.yml", _inventory(tmp_path), *extra)


def test_add_node_refuses_an_even_etcd_membership(tmp_path: Path) -> None:
    out = _refused("add-node.yml", _inventory(tmp_path, servers=4), "nodes=k3s-server-4")
    assert "the inventory has 4 servers. An even etcd membership" in out


@pytest.mark.parametrize(
    ("node", "endpoint", "message"),
    [
        ("k3s-server-1", "192.0.2.11", "not the first server k3s-server-1"),
        ("k3s-server-2", "192.0.2.12", "nor the API endpoint 192.0.2.12"),
        ("k3s-server-3", "192.0.2.11", "Removing k3s-server-3 leaves 2 servers. Below 3, etcd"),
    ],
)
def test_remove_node_keeps_the_control_plane(tmp_path: Path, node: str, endpoint: str, message: str) -> None:
    inventory = _inventory(tmp_path, endpoint=endpoint)
    assert message in _refused("remove-node.yml", inventory, f"node={node}", "confirm_remove=yes")


def test_remove_node_needs_the_confirmation(tmp_path: Path) -> None:
    out = _refused("remove-node.yml", _inventory(tmp_path), "node=k3s-agent-1", "confirm_remove=no")
    assert "Nothing was changed" in out
    assert not (tmp_path / "credentials" / "backups").exists()


def test_etcd_restore_needs_a_snapshot_and_the_confirmation(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path)
    assert "Pass -e etcd_snapshot=<snapshot file" in _refused(
        "etcd-restore.yml", inventory, "confirm_restore=yes"
    )
    snapshot = tmp_path / "snap"
    snapshot.write_text("{}")
    out = _refused("etcd-restore.yml", inventory, "confirm_restore=no", f"etcd_snapshot={snapshot}")
    assert "Nothing was changed" in out
