"""The chart lock (`make charts`) has the shape of the schema lock (the render test checks its coverage)."""

from __future__ import annotations

import re

import pytest
import yaml


def _lock(project_root, name: str, key: str) -> list[dict]:
    return yaml.safe_load((project_root / "playbooks" / "vars" / name).read_text(encoding="utf-8"))[key]


def test_chart_lock_has_the_shape_of_the_schema_lock(project_root) -> None:
    shape = set(_lock(project_root, "schemas-lock.yml", "schemas_lock")[0])
    for entry in _lock(project_root, "charts-lock.yml", "charts_lock"):
        assert set(entry) == shape, entry
        assert entry["url"].startswith("https://") and entry["url"].endswith("/" + entry["dest"]), entry
        # A sha256 or the explicit marker the download refuses (see the lock's header).
        assert re.fullmatch(r"[0-9a-f]{64}|unverified", entry["sha256"]), entry


def test_verified_mlflow_digest_is_the_published_one(project_root) -> None:
    by_dest = {e["dest"]: e for e in _lock(project_root, "charts-lock.yml", "charts_lock")}
    readme = project_root.parent / "shared" / "charts" / "README.md"
    if not readme.is_file():
        pytest.skip("../shared/charts is not on this machine")
    assert by_dest["mlflow-1.11.5.tgz"]["sha256"] in readme.read_text(encoding="utf-8")
