"""promote-model.yml and rollback-model.yml through the model_lifecycle role, on a real (SQLite) registry.

The runbooks must gate like the training pipeline: a version whose run has no
logged re-evaluation reproducing training is rejected (the pipeline's gate
step passes --require-reevaluation; the retired model_gate module did not).
Render mode: the Seldon manifests are written and validated, no cluster is
contacted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from ansible_cli import PROJECT_ROOT, run_ansible
from financial_mlops.serving.registry import champion
from financial_mlops.tracking import EVALUATION_ARTIFACT
from serving_fixtures import Registry

MODEL = "financial-lstm-baseline"


def _runbook(playbook: str, registry: Registry, tmp_path: Path, *extra: str):
    return run_ansible(
        "ansible-playbook",
        "-i",
        "inventory/sample",
        f"playbooks/day2/{playbook}",
        "-e",
        "variant=baseline",
        "-e",
        f"serving_tracking_uri={registry.uri}",
        "-e",
        "platform_mode=render",
        "-e",
        f"platform_render_dir={tmp_path / 'render'}",
        "-e",
        f"serving_gate_record_dir={tmp_path / 'gate'}",
        # The test registry keeps its artifacts in file:// folders.
        "-e",
        "serving_allow_local_storage=true",
        *extra,
        timeout=600,
    )


def _log_reevaluation(registry: Registry, version: str) -> None:
    """What the pipeline's evaluate step logs: the test result reproduced from the stored model."""
    run_id = registry.client.get_model_version(MODEL, version).run_id
    report = {"test": {"accuracy": 0.56, "n": 1200}, "sanity": {"random_walk": {"passed": True}}}
    registry.client.log_dict(run_id, report, EVALUATION_ARTIFACT)


def _recap_changed(stdout: str) -> int:
    match = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)", stdout)
    assert match, stdout[-2000:]
    return int(match.group(1))


def _checks(record_path: Path) -> dict[str, str]:
    return {c["name"]: c["status"] for c in json.loads(record_path.read_text())["checks"]}


def test_the_runbooks_go_through_the_role() -> None:
    for playbook, entry in (("promote-model.yml", "promote"), ("rollback-model.yml", "rollback")):
        play = yaml.safe_load((PROJECT_ROOT / "playbooks" / "day2" / playbook).read_text())[0]
        roles = [t["ansible.builtin.include_role"] for t in play["tasks"]]
        assert roles == [{"name": "model_lifecycle", "tasks_from": entry}], playbook


def test_promote_model_rejects_a_version_without_a_reevaluation(registry: Registry, tmp_path: Path) -> None:
    version = registry.register(accuracy=0.56)
    run = _runbook("promote-model.yml", registry, tmp_path, "-e", f"promote_version={version}")
    assert run.returncode != 0, run.stdout[-3000:]
    assert f"the gate rejected {MODEL} v{version}" in run.stdout, run.stdout[-3000:]
    assert "evaluation/report.json" in run.stdout
    assert _checks(tmp_path / "gate" / f"{MODEL}.json")["reevaluation"] == "missing"
    assert champion(registry.client, MODEL) is None
    assert not (tmp_path / "render").exists(), "nothing may be published after a rejection"


@pytest.mark.slow
def test_promote_then_rollback_render_the_champions(registry: Registry, tmp_path: Path) -> None:
    v1 = registry.register(accuracy=0.56)
    _log_reevaluation(registry, v1)
    # The candidate behind the challenger alias, as the pipeline's register step leaves it.
    registry.client.set_registered_model_alias(MODEL, "challenger", v1)
    run = _runbook("promote-model.yml", registry, tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert str(champion(registry.client, MODEL).version) == v1
    assert _checks(tmp_path / "gate" / f"{MODEL}.json")["reevaluation"] == "pass"
    rendered = list((tmp_path / "render").rglob("*.yaml"))
    documents = [d for p in rendered for d in yaml.safe_load_all(p.read_text()) if d]
    models = [d for d in documents if d.get("kind") == "Model"]
    assert [m["metadata"]["name"] for m in models] == [MODEL], rendered

    again = _runbook("promote-model.yml", registry, tmp_path)
    assert again.returncode == 0, again.stdout[-4000:]
    assert _recap_changed(again.stdout) == 0, again.stdout[-4000:]

    v2 = registry.register(accuracy=0.56)
    _log_reevaluation(registry, v2)
    # v2 is no better than v1: the gate (vs_champion) would reject it, so it is made champion by hand,
    # as an operator would, for the rollback to have a history to walk back.
    registry.client.set_registered_model_alias(MODEL, "champion", v2)
    back = _runbook("rollback-model.yml", registry, tmp_path, "-e", f"rollback_from_version={v2}")
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    assert str(champion(registry.client, MODEL).version) == v1
    rerun = _runbook("rollback-model.yml", registry, tmp_path, "-e", f"rollback_from_version={v2}")
    assert rerun.returncode == 0 and "rollback already done" in rerun.stdout, rerun.stdout[-3000:]
