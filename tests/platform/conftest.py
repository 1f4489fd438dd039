"""Render the whole platform (site.yml) once for inventory/sample; tests read the files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_cli import run_ansible


@dataclass
class Render:
    directory: Path
    output: str
    documents: list[dict[str, Any]]

    def find(self, kind: str, name: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            d
            for d in self.documents
            if d.get("kind") == kind
            and (name is None or d["metadata"]["name"] == name)
            and (namespace is None or d["metadata"].get("namespace") == namespace)
        ]

    def one(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found = self.find(kind, name, namespace)
        assert len(found) == 1, (
            f"expected one {kind} {namespace}/{name} in {self.directory}, found {len(found)}"
        )
        return found[0]


def load_render_dir(directory: Path) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted(directory.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents.extend(
            d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)
        )
    return documents


@pytest.fixture(scope="session")
def platform_render(project_root: Path, ansible_env: dict[str, str], tmp_path_factory) -> Render:
    """ansible-playbook site.yml in render mode for inventory/sample (no cluster, no hosts)."""
    tmp = tmp_path_factory.mktemp("platform")
    render_dir = tmp / "manifests"
    proc = run_ansible(
        "ansible-playbook",
        "site.yml",
        "-i",
        "inventory/sample",
        "-e",
        "platform_mode=render",
        "-e",
        f"platform_render_dir={render_dir}",
        "-e",
        f"platform_secrets_dir={tmp / 'credentials'}",
        env=ansible_env,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"render failed (rc={proc.returncode}):\n{output[-6000:]}"
    return Render(render_dir, output, load_render_dir(render_dir))
