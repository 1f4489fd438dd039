"""Helpers shared by the preflight tests: the sample inventory as data, YAML edits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

SAMPLE = Path(__file__).resolve().parents[2] / "inventory" / "sample"


def load_sample() -> dict[str, Any]:
    """inventory/sample read the way preflight sees it: hosts, groups and group_vars/all."""
    tree = yaml.safe_load((SAMPLE / "hosts.yml").read_text())["k3s_cluster"]["children"]
    servers = tree["server"]["hosts"]
    agents = tree["agent"]["hosts"]
    settings: dict[str, Any] = {}
    for path in sorted((SAMPLE / "group_vars" / "all").glob("*.yml")):
        settings.update(yaml.safe_load(path.read_text()) or {})
    return {
        "hosts": {name: hv["ansible_host"] for name, hv in {**servers, **agents}.items()},
        "servers": list(servers),
        "agents": list(agents),
        "settings": settings,
        "secrets": {},
    }


def edit_yaml(path: Path, change: Callable[[Any], object]) -> None:
    """Change the data of a YAML file in place (``change`` mutates it) and write it back."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
