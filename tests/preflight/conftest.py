"""Fixtures for preflight tests: the sample inventory as data and as a folder to copy."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible_cli import run_ansible
from preflight_helpers import SAMPLE, load_sample


@pytest.fixture(scope="session")
def _sample_data() -> dict[str, Any]:
    return load_sample()


@pytest.fixture
def sample(_sample_data: dict[str, Any]) -> dict[str, Any]:
    """A fresh, mutable copy of the sample inventory data for one test to break."""
    return copy.deepcopy(_sample_data)


@pytest.fixture
def inventory_copy(tmp_path: Path) -> Callable[[], Path]:
    """Copy inventory/sample into tmp_path; the test then changes one thing in it."""

    def make() -> Path:
        target = tmp_path / "inventory"
        shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("credentials"))
        return target

    return make


@pytest.fixture
def run_preflight(
    project_root: Path, ansible_env: dict[str, str]
) -> Callable[..., subprocess.CompletedProcess]:
    """Run playbooks/preflight.yml against an inventory folder, as a user would."""

    def run(inventory: Path, *extra: str) -> subprocess.CompletedProcess:
        return run_ansible(
            "ansible-playbook",
            "playbooks/preflight.yml",
            "-i",
            str(inventory),
            *extra,
            env=ansible_env,
            timeout=120,
        )

    return run
