"""finmlops.platform follows the collection conventions: every plugin documented, buildable with galaxy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_cli import run_ansible

COLLECTION = (
    Path(__file__).resolve().parents[2] / "collections" / "ansible_collections" / "finmlops" / "platform"
)
MODULES = sorted(p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
CALLBACKS = sorted(p.stem for p in (COLLECTION / "plugins" / "callback").glob("*.py") if p.stem != "__init__")


def filter_names() -> list[str]:
    """Names every filter plugin registers, read in a child process.

    Importing the plugins imports ansible, whose import-time patches (sys.intern)
    break torch's dynamo when later tests of this pytest process train a model.
    """
    script = (
        "import json, pathlib, sys\n"
        "root = pathlib.Path(sys.argv[1])\n"
        "sys.path.insert(0, str(root.parents[2]))\n"
        "names = []\n"
        "for path in sorted((root / 'plugins' / 'filter').glob('*.py')):\n"
        "    module = __import__('ansible_collections.finmlops.platform.plugins.filter.' + path.stem,"
        " fromlist=['x'])\n"
        "    names += list(module.FilterModule().filters())\n"
        "print(json.dumps(sorted(names)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(COLLECTION)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


FILTERS = filter_names()


@pytest.mark.parametrize(
    ("kind", "names"), [("module", MODULES), ("filter", FILTERS), ("callback", CALLBACKS)]
)
def test_ansible_doc_shows_every_plugin(kind: str, names: list[str]) -> None:
    run = run_ansible("ansible-doc", "--json", "-t", kind, *[f"finmlops.platform.{n}" for n in names])
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    docs = json.loads(run.stdout)
    assert sorted(docs) == sorted(f"finmlops.platform.{n}" for n in names)
    for name, doc in docs.items():
        assert doc["doc"].get("short_description"), f"{name} has no short_description"
        assert doc.get("examples"), f"{name} has no EXAMPLES"
    assert "WARNING" not in run.stderr, run.stderr


def test_readme_documents_every_module_and_filter() -> None:
    readme = (COLLECTION / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", readme, flags=re.M))
    assert set(MODULES) - documented == set(), "modules missing from the collection README"
    assert set(FILTERS) - documented == set(), "filters missing from the collection README"
    assert set(CALLBACKS) - documented == set(), "callbacks missing from the collection README"
    unknown = documented - set(MODULES) - set(FILTERS) - set(CALLBACKS)
    assert unknown == set(), f"README lists plugins that do not exist: {sorted(unknown)}"


def test_galaxy_build_succeeds(tmp_path) -> None:
    run = run_ansible(
        "ansible-galaxy", "collection", "build", str(COLLECTION), "--output-path", str(tmp_path)
    )
    assert run.returncode == 0, run.stdout + run.stderr
    built = list(tmp_path.glob("finmlops-platform-*.tar.gz"))
    assert len(built) == 1, run.stdout
