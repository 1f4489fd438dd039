"""The pipeline's order: gate a training run, register it only if it passed, then promote that version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from financial_mlops.cli import main as cli_main
from financial_mlops.serving.gate import GateThresholds
from financial_mlops.serving.lifecycle import PromotionRefused, promote, register_run, run_gate
from financial_mlops.serving.registry import champion
from financial_mlops.tracking import CHALLENGER_ALIAS, EVALUATION_ARTIFACT
from serving_fixtures import Registry

MODEL = "financial-lstm-baseline"
STRICT = GateThresholds(require_reevaluation=True)


def _log_evaluation(registry: Registry, run_id: str, accuracy: float = 0.56, n: int = 1200) -> None:
    report = {"test": {"accuracy": accuracy, "n": n}, "sanity": {"random_walk": {"passed": True}}}
    registry.client.log_dict(run_id, report, EVALUATION_ARTIFACT)


def _checks(record: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in record["checks"]}


def test_a_run_without_reevaluation_is_rejected_and_not_registered(
    registry: Registry, tmp_path: Path
) -> None:
    run_id = registry.run()
    gate = run_gate(registry.client, MODEL, run_id=run_id, thresholds=STRICT, record_path=tmp_path / "d.json")
    assert not gate.decision.promote
    assert gate.record["version"] is None and gate.record["run_id"] == run_id
    assert _checks(gate.record)["reevaluation"] == "missing"
    assert registry.client.get_run(run_id).data.tags["gate_decision"] == "reject"
    with pytest.raises(PromotionRefused, match=f"the gate rejected run {run_id}.*not registered"):
        register_run(registry.client, MODEL, gate.record)
    assert registry.client.search_model_versions(f"name='{MODEL}'") == []


def test_a_reevaluation_that_does_not_reproduce_training_fails(registry: Registry) -> None:
    run_id = registry.run(accuracy=0.56)
    _log_evaluation(registry, run_id, accuracy=0.61)
    gate = run_gate(registry.client, MODEL, run_id=run_id, thresholds=STRICT, log_to_mlflow=False)
    assert _checks(gate.record)["reevaluation"] == "fail"
    assert any("does not reproduce" in r for r in gate.record["reasons"])


def test_gate_register_promote_of_a_run(registry: Registry, tmp_path: Path) -> None:
    run_id = registry.run()
    _log_evaluation(registry, run_id)
    gate = run_gate(registry.client, MODEL, run_id=run_id, thresholds=STRICT, record_path=tmp_path / "d.json")
    assert gate.decision.promote, gate.decision.reasons
    assert not run_gate(
        registry.client, MODEL, run_id=run_id, thresholds=STRICT, record_path=tmp_path / "d.json"
    ).changed

    first = register_run(registry.client, MODEL, gate.record)
    assert first["changed"] and first["run_id"] == run_id
    mv = registry.client.get_model_version_by_alias(MODEL, CHALLENGER_ALIAS)
    assert str(mv.version) == first["version"] and mv.run_id == run_id
    assert mv.tags["gate_decision"] == "promote" and mv.tags["gate_fingerprint"] == gate.record["fingerprint"]
    # A retried register step creates no second version.
    again = register_run(registry.client, MODEL, gate.record)
    assert not again["changed"] and again["version"] == first["version"]
    assert len(registry.client.search_model_versions(f"name='{MODEL}'")) == 1

    # The run's decision is accepted for the version registered from that run ...
    result = promote(registry.client, MODEL, version=first["version"], decision_record=gate.record)
    assert result["changed"] and str(champion(registry.client, MODEL).version) == first["version"]
    # ... and refused for a version of another run.
    other_run = registry.run()
    other = registry.client.create_model_version(MODEL, "file:///nowhere", run_id=other_run)
    with pytest.raises(PromotionRefused, match=f"is for {MODEL} run {run_id}, not {MODEL} v{other.version}"):
        promote(registry.client, MODEL, version=str(other.version), decision_record=gate.record)


def test_cli_gate_register_promote_with_records(registry: Registry, tmp_path: Path, capsys) -> None:
    run_id = registry.run()
    _log_evaluation(registry, run_id)
    report = tmp_path / "train" / "report.json"
    report.parent.mkdir()
    report.write_text(json.dumps({"mlflow": {"run_id": run_id}}))
    uri = ["--tracking-uri", registry.uri]
    decision, registration = tmp_path / "gate.json", tmp_path / "registration.json"
    assert cli_main(["gate", "--variant", "baseline", "--train-report", str(report),
                     "--record", str(decision), "--require-reevaluation", *uri]) == 0  # fmt: skip
    assert cli_main(["register", "--variant", "baseline", "--decision", str(decision),
                     "--out", str(registration), *uri]) == 0  # fmt: skip
    assert cli_main(["promote", "--variant", "baseline", "--registration", str(registration),
                     "--decision", str(decision), *uri]) == 0  # fmt: skip
    version = json.loads(registration.read_text())["version"]
    assert str(champion(registry.client, MODEL).version) == version
    capsys.readouterr()
    # A registration of another model is refused, naming both.
    assert cli_main(["promote", "--variant", "enhanced", "--registration", str(registration), *uri]) == 1
    assert f"registers {MODEL}, not financial-lstm-enhanced" in capsys.readouterr().err
