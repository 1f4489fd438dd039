"""etcd-restore.yml from S3 is refused before any node is stopped when S3 is not set up.

Like test_day2_node_guards.py: the hosts have documentation addresses nothing
answers on, so a guard that let the request through would show UNREACHABLE.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_cli import run_ansible


def _inventory(tmp_path: Path, s3: bool) -> Path:
    servers = {f"k3s-server-{i}": {"ansible_host": f"192.0.2.{10 + i}"} for i in (1, 2, 3)}
    inventory = {
        "all": {
            "vars": {
                "k3s_api_endpoint": "192.0.2.11",
                "k3s_server_etcd_s3": s3,
                "platform_secrets_dir": str(tmp_path / "credentials"),
            },
            "children": {"k3s_cluster": {"children": {"server": {"hosts": servers}, "agent": {"hosts": {}}}}},
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


@pytest.mark.parametrize(
    ("s3", "name"),
    [(False, "on-demand-k3s-server-1-1767225600"), (True, "../../etc/passwd")],
    ids=["s3-off", "bad-name"],
)
def test_restore_from_s3_is_refused_before_any_node_is_stopped(tmp_path: Path, s3: bool, name: str) -> None:
    inventory = _inventory(tmp_path, s3)
    argv = ["-i", str(inventory), "playbooks/day2/etcd-restore.yml", "-e", "confirm_restore=yes"]
    run = run_ansible("ansible-playbook", *argv, "-e", f"etcd_snapshot_s3={name}")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    assert "UNREACHABLE" not in out, f"a node was contacted:\n{out[-3000:]}"
    assert "Stop k3s" not in out
    text = " ".join(out.split())
    assert "Nothing was changed: restoring from S3 needs k3s_server_etcd_s3: true" in text
