"""Helpers of the application tests (a module of its own: several test folders have a conftest.py)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from loopback import free_port_block  # noqa: F401  (re-exported: the app tests import it from here)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STEPS_FILE = PROJECT_ROOT / "roles" / "ml_trainer" / "files" / "pipeline-steps.yml"
STEPS_FILTER = PROJECT_ROOT / "roles" / "local_pipeline" / "filter_plugins" / "pipeline_steps.py"


def load_steps_filter() -> ModuleType:
    """The substitution code of the demo's filter plugin, imported from its file."""
    spec = importlib.util.spec_from_file_location("finmlops_pipeline_steps", STEPS_FILTER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def changed_count(output: str) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", output)
    assert match, output[-3000:]
    return int(match.group(1))
