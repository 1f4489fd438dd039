"""The collection imports with only what it declares: ansible-core and its requirements.txt.

``ansible-test sanity --test import`` is the upstream check, but it bootstraps
pip from ci-files.testing.ansible.com, which these machines cannot reach. This
is the same check by hand: a virtualenv holding ansible-core (the version the
project runs) and the collection's ``requirements.txt``, nothing else (no
``financial_mlops``, no torch, no MLflow), then every plugin imported through
its ``ansible_collections`` name in a clean environment. A plugin that grows an
undeclared import, or reaches into the ML package, fails here.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
from pathlib import Path

from side_venv import side_venv

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "collections"
COLLECTION = COLLECTIONS / "ansible_collections" / "finmlops" / "platform"
REQUIREMENTS = COLLECTION / "requirements.txt"
PLUGIN_KINDS = ("modules", "module_utils", "filter", "callback")
FORBIDDEN = ("financial_mlops", "torch", "mlflow", "pandas")

IMPORT_ALL = """
import importlib, json, sys
failed = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception as err:  # report every plugin, not just the first
        failed[name] = f"{type(err).__name__}: {err}"
leaked = sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)
print(json.dumps({"failed": failed, "leaked": leaked}))
"""


def plugin_modules() -> list[str]:
    names = []
    for kind in PLUGIN_KINDS:
        for path in sorted((COLLECTION / "plugins" / kind).rglob("*.py")):
            rel = path.relative_to(COLLECTIONS).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            names.append(".".join(parts))
    return names


def collection_python() -> Path:
    """A cached virtualenv with exactly the declared requirements (rebuilt when they change)."""
    core = importlib.metadata.version("ansible-core")
    # The file's text is in the stamp: an edited requirements.txt rebuilds it.
    return side_venv(
        "collection-venv",
        "FINMLOPS_COLLECTION_VENV",
        [f"ansible-core=={core}", "-r", str(REQUIREMENTS)],
        stamp_extra=REQUIREMENTS.read_text(),
    )


def test_every_plugin_imports_with_only_the_declared_requirements() -> None:
    names = plugin_modules()
    assert len(names) > 20, names  # the walk found the plugins
    python = collection_python()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(COLLECTIONS),
        "HOME": str(Path.home()),
    }
    ran = subprocess.run(
        [str(python), "-c", IMPORT_ALL, json.dumps(names), json.dumps(FORBIDDEN)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=True,
    )
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}, (
        "plugins that do not import with only requirements.txt + ansible-core installed "
        f"(declare the package in {REQUIREMENTS.relative_to(ROOT)} or drop the import): {result['failed']}"
    )
    assert result["leaked"] == [], f"the collection imported ML packages it must not need: {result['leaked']}"


def test_the_ml_package_is_not_importable_in_that_environment() -> None:
    """Guards the test above: an environment that could import financial_mlops would prove nothing."""
    python = collection_python()
    ran = subprocess.run(
        [str(python), "-c", "import financial_mlops"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(COLLECTIONS)},
        cwd="/",
    )
    assert ran.returncode != 0 and "ModuleNotFoundError" in ran.stderr
