"""The journal that makes rotate-secrets.yml safe to interrupt at any step.

A rotation of one credential goes through three stages, each recorded on
the controller before the next begins:

1. **pending**: the new value is written to ``<secrets dir>/<name>.pending``
   (0600) and the credential is entered in ``rotation-journal.json`` (0600),
   before any service is touched. A vault-managed credential keeps its value
   in the vault: only the journal entry is written.
2. **applied**: each service step (Secret, database, restart...) is
   recorded once done. A re-run skips the recorded steps and resumes with
   the saved value, so an interruption anywhere ends, after one more run, in
   the state an uninterrupted run leaves.
3. **committed**: the value becomes the credential's file (the one
   platform_secrets and so site.yml read), the pending file and the journal
   entry go.

While an entry is pending, platform_secrets refuses to run anything but the
rotation (site.yml would write the old value back).

Every write is atomic (temporary file, fsync, rename) and 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

JOURNAL = "rotation-journal.json"
PENDING_SUFFIX = ".pending"


class JournalError(ValueError):
    """A journal that cannot be used as it is; the message says how to fix it."""


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / JOURNAL
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise JournalError(
            f"{path} is not valid JSON ({err}); restore it from your controller backup or, if no "
            "rotation was running, delete it"
        ) from None
    if not isinstance(data, dict):
        raise JournalError(
            f"{path} must hold a JSON object; restore it or delete it if no rotation was running"
        )
    return data


def _save(directory: str | Path, journal: dict[str, Any]) -> None:
    path = Path(directory) / JOURNAL
    if journal:
        _write_private(path, json.dumps(journal, indent=2, sort_keys=True) + "\n")
    else:
        path.unlink(missing_ok=True)


def pending(directory: str | Path) -> dict[str, Any]:
    """name -> {"source", "applied", "started_at"} of every unfinished rotation."""
    return read(directory)


def begin(directory: str | Path, name: str, candidate: str, vault: bool) -> dict[str, Any]:
    """Start (or resume) the rotation of ``name``; returns value, applied steps and resumed."""
    directory = Path(directory)
    journal = read(directory)
    pending_file = directory / (name + PENDING_SUFFIX)
    entry = journal.get(name)
    if entry is not None:
        if entry.get("source") == "generated":
            if not pending_file.exists():
                raise JournalError(
                    f"the journal {directory / JOURNAL} says {name} is being rotated, but {pending_file} "
                    "(its new value) is missing; restore it from your controller backup"
                )
            value = pending_file.read_text()
        else:
            value = candidate
        return {"value": value, "applied": list(entry.get("applied", [])), "resumed": True, "changed": False}
    if not candidate:
        raise JournalError(f"no new value for {name}")
    if not vault:
        _write_private(pending_file, candidate)  # the value first, then the entry naming it
    journal[name] = {"source": "vault" if vault else "generated", "applied": [], "started_at": time.time()}
    _save(directory, journal)
    return {"value": candidate, "applied": [], "resumed": False, "changed": True}


def applied(directory: str | Path, name: str, step: str) -> bool:
    """Record that ``step`` of the rotation of ``name`` is done; True when newly recorded."""
    journal = read(directory)
    if name not in journal:
        raise JournalError(f"{name} is not being rotated (no entry in {Path(directory) / JOURNAL})")
    steps = journal[name].setdefault("applied", [])
    if step in steps:
        return False
    steps.append(step)
    _save(directory, journal)
    return True


def commit(directory: str | Path, name: str) -> bool:
    """Make the new value the credential's file and close the entry; True when something changed."""
    directory = Path(directory)
    journal = read(directory)
    entry = journal.get(name)
    if entry is None:
        return False
    pending_file = directory / (name + PENDING_SUFFIX)
    if entry.get("source") == "generated":
        _write_private(directory / name, pending_file.read_text())
    del journal[name]
    _save(directory, journal)  # the entry goes before the value it names
    pending_file.unlink(missing_ok=True)
    return True
