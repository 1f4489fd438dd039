"""Helpers of the application tests (a module of its own: several test folders have a conftest.py)."""

from __future__ import annotations

import importlib.util
import re
import socket
from pathlib import Path
from types import ModuleType

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


def free_port_block(size: int = 3) -> int:
    """A loopback port p with p..p+size-1 free right now (MLServer's REST, gRPC, metrics)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size > 65535:
            continue
        sockets = []
        try:
            for offset in range(size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no block of free loopback ports found")
