"""In render mode the host phase ends every play before contacting a host.

The sample inventory's addresses are not reachable from the test machine: a
single attempt to connect would fail the run (unreachable) or stall it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "playbook",
    ["playbooks/host.yml", "playbooks/day2/upgrade-k3s.yml", "playbooks/day2/etcd-snapshot.yml"],
)
def test_render_mode_contacts_no_host(playbook: str) -> None:
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        "inventory/sample",
        playbook,
        "-e",
        "platform_mode=render",
    ]
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_TIMEOUT": "5"}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    assert "k3s-" not in recap, f"a node was contacted:\n{recap}"
    assert "TASK [Gather" not in result.stdout
