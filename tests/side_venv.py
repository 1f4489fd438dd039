"""Virtualenvs beside the project's, for tests that need packages the main venv must not hold.

moto's server (botocore's python-dateutil cap) and the collection's bare
requirements (to prove the plugins need nothing more) each get one, made on
first use under ~/.cache/financial-mlops (PyPI must be reachable then) and
rebuilt when what they should hold changes (a stamp of the pip arguments).
A test skips, saying so, only when its virtualenv cannot be built.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest


def side_venv(name: str, env_var: str, pip_args: list[str], stamp_extra: str = "") -> Path:
    """Python of ``~/.cache/financial-mlops/<name>`` ($env_var overrides) holding ``pip install pip_args``."""
    venv = Path(os.environ.get(env_var, Path.home() / ".cache/financial-mlops" / name))
    python, stamp = venv / "bin" / "python", venv / "pip-args.sha256"
    wanted = hashlib.sha256(("\n".join(pip_args) + "\n" + stamp_extra).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(venv)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot create the virtualenv {venv}: {made.stderr.strip()[-300:]}")
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *pip_args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0:
        pytest.skip(
            f"cannot install {' '.join(pip_args)} into {venv} (is PyPI reachable?): {pip.stderr[-300:]}"
        )
    stamp.write_text(wanted)
    return python
