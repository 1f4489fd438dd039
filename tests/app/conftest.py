"""Fixtures of the application tests: the pipeline steps file and the rendered ml_trainer manifests."""

from __future__ import annotations

import subprocess
from types import ModuleType
from typing import Any

import pytest
import yaml
from app_helpers import PROJECT_ROOT, STEPS_FILE, load_steps_filter


@pytest.fixture(scope="session")
def pipeline() -> dict[str, Any]:
    return yaml.safe_load(STEPS_FILE.read_text())


@pytest.fixture(scope="session")
def steps_filter() -> ModuleType:
    return load_steps_filter()


@pytest.fixture(scope="session")
def rendered_trainer(ansible_env, tmp_path_factory) -> dict[str, Any]:
    """Render the ml_trainer role twice (inventory/sample); the documents and both runs' output."""
    render_dir = tmp_path_factory.mktemp("ml-trainer-render")
    argv = [
        "ansible-playbook",
        "-i",
        "inventory/sample",
        "tests/app/playbooks/render_ml_trainer.yml",
        "-e",
        f"platform_render_dir={render_dir}",
    ]
    runs = []
    for _ in range(2):
        run = subprocess.run(
            argv, cwd=PROJECT_ROOT, env=ansible_env, capture_output=True, text=True, timeout=300, check=False
        )
        assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
        runs.append(run.stdout)
    files = sorted(render_dir.glob("70-ml-trainer/*.yaml"))
    docs = {f.name: yaml.safe_load(f.read_text()) for f in files}
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs.values()}
    return {"dir": render_dir, "files": files, "docs": by_name, "runs": runs}
