"""Run this venv's Ansible CLIs from the project root, as the Makefile does.

Tests import it as ``from ansible_cli import run_ansible`` (tests/ is on
sys.path through tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = Path(os.environ.get("FINMLOPS_SCHEMA_DIR", PROJECT_ROOT.parent / "shared" / "schemas"))


def ansible_environment() -> dict[str, str]:
    """The environment of `make`: project ansible.cfg, schema folder, no colour, venv first on PATH."""
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(PROJECT_ROOT / "ansible.cfg")
    env.setdefault("FINMLOPS_SCHEMA_DIR", str(SCHEMA_DIR))
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_ansible(
    tool: str, *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``tool`` (ansible-playbook, ansible, ...) with ``args``; never raises on a non-zero exit."""
    return subprocess.run(
        [str(Path(sys.executable).parent / tool), *args],
        cwd=PROJECT_ROOT,
        env=env if env is not None else ansible_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_role_alone(
    tmp_path: Path, role: str, extra_vars: dict, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one role on localhost with inventory/sample with ``extra_vars`` (its input checks run first)."""
    playbook = tmp_path / f"{role}-alone.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        f"  tasks:\n    - ansible.builtin.include_role:\n        name: {role}\n",
        encoding="utf-8",
    )
    return run_ansible(
        "ansible-playbook", str(playbook), "-i", "inventory/sample", "-e", json.dumps(extra_vars), env=env
    )
