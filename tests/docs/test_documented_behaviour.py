"""Regression tests of the five documented-but-untrue commands of issue 20 (each fails on the old code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible_cli import ansible_environment, run_ansible

ROOT = Path(__file__).resolve().parents[2]


def test_day2_train_reads_dash_e_variant() -> None:
    # Before: `-e variant=` was ignored and baseline was trained. A bogus value
    # must now be the one the role checks (and refuses, before any cluster call).
    run = run_ansible(
        "ansible-playbook", "-i", "inventory/sample", "playbooks/day2/train.yml", "-e", "variant=bogus"
    )
    assert run.returncode != 0
    assert "day2_train_variant must be one of" in run.stdout and "got: bogus" in run.stdout, run.stdout[
        -3000:
    ]


def test_migrate_cni_runs_preflight_first() -> None:
    run = run_ansible("ansible-playbook", "-i", "inventory/sample", "migrate-cni.yml", "--list-tasks")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    plays = re.findall(r"^\s*play #\d+ \(([^)]*)\): (.*?)\s+TAGS", run.stdout, flags=re.M)
    assert plays[0][1] == "Check the inventory on the controller", plays  # preflight.yml's first play
    assert "preflight : " in run.stdout


def test_runbook_examples_name_an_inventory() -> None:
    text = (ROOT / "docs" / "runbooks.md").read_text()
    commands = re.findall(r"^ansible-playbook .*$", text, flags=re.M)
    assert commands
    without = [c for c in commands if not re.search(r"(^|\s)-i\s", c)]
    assert not without, f"docs/runbooks.md examples without -i (they would use inventory/sample): {without}"


@pytest.mark.parametrize("playbook", ["promote-model.yml", "rollback-model.yml"])
def test_model_lifecycle_refuses_without_a_known_mlflow(playbook: str) -> None:
    # Before: a silent sqlite:///mlruns.db in the working directory, holding no model.
    env = {k: v for k, v in ansible_environment().items() if not k.startswith("MLFLOW_")}
    run = run_ansible(
        "ansible-playbook",
        "-i",
        "inventory/local",
        f"playbooks/day2/{playbook}",
        "-e",
        "variant=baseline",
        env=env,
    )
    assert run.returncode != 0
    assert "MLFLOW_TRACKING_URI is not set and the inventory" in run.stdout, run.stdout[-3000:]
    assert "sqlite:///mlruns.db" not in (ROOT / "playbooks" / "day2" / playbook).read_text()


def test_config_files_reference_only_what_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.M))
    for name in ("Makefile", "pyproject.toml", ".ansible-lint", "ansible.cfg", "README.md"):
        text = (ROOT / name).read_text()
        for target in re.findall(r"`make ([a-z][a-z0-9-]*)", text):
            assert target in targets, f"{name} mentions `make {target}`, which is not a Makefile target"
        top = "molecule|scripts|docs|roles|playbooks|tests|benchmarks|containers|collections"
        for path in re.findall(rf"(?<![\w/.-])((?:{top})/[\w./-]*\w)", text):
            if "*" in path or "<" in path:
                continue
            assert (ROOT / path).exists(), f"{name} refers to {path}, which does not exist"
    lint = yaml.safe_load((ROOT / ".ansible-lint").read_text())
    ignored = (ROOT / ".gitignore").read_text().split()
    for excluded in lint.get("exclude_paths", []):
        generated = excluded.rstrip("/") in {i.strip("/") for i in ignored}
        assert generated or (ROOT / excluded).exists(), (
            f".ansible-lint excludes {excluded}, which does not exist"
        )
