"""The rotation journal: interrupted after any step, a re-run ends where an uninterrupted run does.

The services are modelled by what they hold (the Secret, the database role,
the running MLflow, and the controller file site.yml reads); a rotation is
the same sequence of steps rotate-secrets.yml runs, and an interruption is
the process stopping after any number of them.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils import rotation_journal as journal

OLD, NEW, OTHER = "old-password-0123456789", "new-password-abcdefghij", "another-value-zyxwvuts"
STEPS = ("secret", "database", "mlflow")


class Interrupted(Exception):
    pass


def world(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "postgres_password").write_text(OLD)
    return {"secret": OLD, "database": OLD, "mlflow": OLD}


def rotate(directory: Path, services: dict[str, str], candidate: str, stop_after: int | None = None) -> None:
    """rotate-secrets.yml's PostgreSQL part: begin, each step once, commit; stop after N actions."""
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if stop_after is not None and done > stop_after:
            raise Interrupted

    state = journal.begin(directory, "postgres_password", candidate, vault=False)
    tick()
    for step in STEPS:
        if step in state["applied"]:
            continue
        services[step] = state["value"]
        tick()
        journal.applied(directory, "postgres_password", step)
        tick()
    journal.commit(directory, "postgres_password")
    tick()


def test_the_new_value_is_on_the_controller_before_any_service_changes(tmp_path: Path) -> None:
    services = world(tmp_path)
    with pytest.raises(Interrupted):
        rotate(tmp_path, services, NEW, stop_after=0)
    assert services == {"secret": OLD, "database": OLD, "mlflow": OLD}
    pending = tmp_path / "postgres_password.pending"
    assert pending.read_text() == NEW
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / journal.JOURNAL).stat().st_mode) == 0o600
    assert NEW not in (tmp_path / journal.JOURNAL).read_text()
    assert journal.pending(tmp_path)["postgres_password"]["applied"] == []


# Every point before the commit: after begin, after each change and after each record of it.
@pytest.mark.parametrize("stop_after", range(1 + 2 * len(STEPS)))
def test_interrupted_after_any_step_a_rerun_finishes_with_the_saved_value(
    tmp_path: Path, stop_after: int
) -> None:
    services = world(tmp_path)
    with pytest.raises(Interrupted):
        rotate(tmp_path, services, NEW, stop_after=stop_after)
    # The re-run draws another candidate; the saved value must win.
    rotate(tmp_path, services, OTHER)
    assert services == {"secret": NEW, "database": NEW, "mlflow": NEW}
    assert (tmp_path / "postgres_password").read_text() == NEW
    assert stat.S_IMODE((tmp_path / "postgres_password").stat().st_mode) == 0o600
    assert journal.pending(tmp_path) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["postgres_password"]


def test_a_resumed_rotation_skips_the_steps_already_applied(tmp_path: Path) -> None:
    services = world(tmp_path)
    with pytest.raises(Interrupted):
        rotate(tmp_path, services, NEW, stop_after=3)  # begin, secret set and recorded, database set
    state = journal.begin(tmp_path, "postgres_password", OTHER, vault=False)
    assert state == {"value": NEW, "applied": ["secret"], "resumed": True, "changed": False}


def test_vault_values_stay_in_the_vault(tmp_path: Path) -> None:
    state = journal.begin(tmp_path, "k3s_token", NEW, vault=True)
    assert state["resumed"] is False and not (tmp_path / "k3s_token.pending").exists()
    assert journal.begin(tmp_path, "k3s_token", NEW, vault=True)["resumed"] is True
    assert journal.commit(tmp_path, "k3s_token") is True
    assert not (tmp_path / "k3s_token").exists() and journal.pending(tmp_path) == {}
    assert journal.commit(tmp_path, "k3s_token") is False


def test_a_damaged_journal_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / journal.JOURNAL).write_text("{not json")
    with pytest.raises(journal.JournalError, match="is not valid JSON"):
        journal.pending(tmp_path)
    (tmp_path / journal.JOURNAL).write_text(json.dumps({"postgres_password": {"source": "generated"}}))
    with pytest.raises(journal.JournalError, match="its new value\\) is missing"):
        journal.begin(tmp_path, "postgres_password", NEW, vault=False)
    with pytest.raises(journal.JournalError, match="is not being rotated"):
        journal.applied(tmp_path, "minio_root_password", "secrets")
