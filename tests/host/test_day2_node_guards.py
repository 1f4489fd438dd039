"""The refusals of add-node, remove-node, reset and etcd-restore, before any node is contacted.

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
    assert message in _refused("remove-node.yml", inventory, f"node={node}", "confirm_remove_node=yes")


def test_remove_node_needs_the_confirmation(tmp_path: Path) -> None:
    out = _refused("remove-node.yml", _inventory(tmp_path), "node=k3s-agent-1", "confirm_remove_node=no")
    assert "nothing was changed" in out and "-e confirm_remove_node=yes" in out
    assert not (tmp_path / "credentials" / "backups").exists()


def test_etcd_restore_needs_a_snapshot_and_the_confirmation(tmp_path: Path) -> None:
    inventory = _inventory(tmp_path)
    assert "Pass -e etcd_snapshot=<snapshot file" in _refused(
        "etcd-restore.yml", inventory, "confirm_restore=yes"
    )
    snapshot = tmp_path / "snap"
    snapshot.write_text("{}")
    out = _refused("etcd-restore.yml", inventory, "confirm_restore=no", f"etcd_snapshot={snapshot}")
    assert "nothing was changed" in out and "-e confirm_restore=yes" in out


@pytest.mark.parametrize("answer", ["YES", "Yes", "true", "y"])
def test_only_exactly_yes_confirms(tmp_path: Path, answer: str) -> None:
    out = _refused("reset.yml", _inventory(tmp_path), f"confirm_reset={answer}")
    assert f"Not confirmed (confirm_reset is '{answer}'" in out
    assert not (tmp_path / "credentials" / "backups").exists()


@pytest.mark.parametrize(
    ("playbook", "extra"),
    [
        ("reset.yml", ["confirm_reset=yes"]),
        ("remove-node.yml", ["node=k3s-agent-1", "confirm_remove_node=yes"]),
    ],
)
def test_no_readable_cluster_api_is_a_refusal_naming_the_override(
    tmp_path: Path, playbook: str, extra: list[str]
) -> None:
    # No kubeconfig: the PersistentVolumes cannot be read, so the local
    # volumes on the nodes cannot be ruled out (a node that never joined
    # looks the same).
    out = _refused(playbook, _inventory(tmp_path), *extra)
    assert "Cannot read the PersistentVolumes from the cluster API" in out
    assert "pass -e force_data_loss=yes" in out


def test_an_unfinished_rotation_stops_the_host_phase(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "rotation-journal.json").write_text(
        '{"postgres_password": {"source": "generated", "applied": ["secret"]}}'
    )
    inventory = str(_inventory(tmp_path))
    run = run_ansible("ansible-playbook", "-i", inventory, "-e", "platform_mode=apply", "playbooks/host.yml")
    out = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0 and "UNREACHABLE" not in out
    assert "The rotation of postgres_password was interrupted" in out
    assert "ansible-playbook playbooks/day2/rotate-secrets.yml" in out
