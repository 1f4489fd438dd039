"""Gate, promote, rollback and export against a real (SQLite) MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from financial_mlops.bundle import load_bundle
from financial_mlops.cli import main as cli_main
from financial_mlops.serving import CHAMPION_ALIAS, RUNTIME_IMPLEMENTATION
from financial_mlops.serving.export import export_from_registry
from financial_mlops.serving.lifecycle import PromotionRefused, promote, rollback, run_gate
from financial_mlops.serving.registry import RegistryError, champion, champion_history
from financial_mlops.serving.settings import RuntimeConfig
from serving_fixtures import Registry

MODEL = "financial-lstm-baseline"


def champion_version(registry: Registry) -> str | None:
    mv = champion(registry.client, MODEL)
    return str(mv.version) if mv else None


def test_gate_writes_and_logs_the_decision_record(registry: Registry, tmp_path: Path) -> None:
    version = registry.register()
    gate = run_gate(registry.client, MODEL, version=version, record_path=tmp_path / "decision.json")
    assert gate.decision.promote, gate.decision.reasons
    on_disk = json.loads((tmp_path / "decision.json").read_text())
    assert on_disk == gate.record
    mv = registry.client.get_model_version(MODEL, version)
    assert mv.tags["gate_decision"] == "promote"
    logged = [a.path for a in registry.client.list_artifacts(mv.run_id, "gate")]
    assert len(logged) == 1 and logged[0].startswith(f"gate/decision-v{version}-")
    # The same decision on unchanged evidence is not recorded twice.
    again = run_gate(registry.client, MODEL, version=version, record_path=tmp_path / "decision.json")
    assert not again.changed
    assert len(registry.client.list_artifacts(mv.run_id, "gate")) == 1
    # Once the version is champion there is nothing left to decide.
    promote(registry.client, MODEL, version=version, decision_record=gate.record)
    assert run_gate(registry.client, MODEL, version=version).already_champion


def test_gate_rejects_a_version_without_sanity_tag_or_bundle(registry: Registry) -> None:
    no_tag = registry.register(sanity_tag=None)
    no_bundle = registry.register(upload_bundle=False)
    tagless = run_gate(registry.client, MODEL, version=no_tag, log_to_mlflow=False)
    assert not tagless.decision.promote
    assert "sanity_random_walk" in tagless.record["missing"]
    bundleless = run_gate(registry.client, MODEL, version=no_bundle, log_to_mlflow=False)
    assert not bundleless.decision.promote
    assert any(r.startswith("artifacts:") and "model.pt" in r for r in bundleless.record["reasons"])
    # Without the bundle there is no metrics.json either: those checks are missing, not passed.
    assert "beats_baselines" in bundleless.record["missing"]


def test_promote_moves_champion_uploads_serving_and_is_idempotent(registry: Registry) -> None:
    v1 = registry.register(accuracy=0.55)
    first = promote(registry.client, MODEL, version=v1)
    assert first["changed"] and first["serving_artifacts_uploaded"]
    assert champion_version(registry) == v1
    mv = registry.client.get_model_version(MODEL, v1)
    serving = {a.path for a in registry.client.list_artifacts(mv.run_id, "serving")}
    assert {"serving/model-settings.json", "serving/model.pt", "serving/feature_spec.json"} <= serving

    again = promote(registry.client, MODEL, version=v1)
    assert not again["changed"]
    assert champion_history(registry.client, MODEL) == [v1]


def test_promote_refuses_a_rejected_version_and_keeps_the_champion(registry: Registry) -> None:
    v1 = registry.register(accuracy=0.56)
    promote(registry.client, MODEL, version=v1)
    worse = registry.register(accuracy=0.54)
    with pytest.raises(PromotionRefused, match="vs_champion"):
        promote(registry.client, MODEL, version=worse)
    assert champion_version(registry) == v1


def test_promote_refuses_a_stale_or_foreign_decision_record(registry: Registry) -> None:
    v1 = registry.register(accuracy=0.55)
    v2 = registry.register(accuracy=0.57)
    record_for_v2 = run_gate(registry.client, MODEL, version=v2).record
    with pytest.raises(PromotionRefused, match="not financial-lstm-baseline v1"):
        promote(registry.client, MODEL, version=v1, decision_record=record_for_v2)
    promote(registry.client, MODEL, version=v1)
    # The gate saw no champion; now v1 is champion, so the record is stale.
    with pytest.raises(PromotionRefused, match=r"champion of .* changed"):
        promote(registry.client, MODEL, version=v2, decision_record=record_for_v2)


def test_rollback_restores_the_previous_champion(registry: Registry) -> None:
    v1 = registry.register(accuracy=0.55)
    v2 = registry.register(accuracy=0.57)
    promote(registry.client, MODEL, version=v1)
    promote(registry.client, MODEL, alias=None, version=v2)
    assert champion_history(registry.client, MODEL) == [v1, v2]

    result = rollback(registry.client, MODEL, expected_current=v2)
    assert result["changed"] and result["champion"] == v1
    assert champion_version(registry) == v1
    assert champion_history(registry.client, MODEL) == [v1]
    # Re-running the same rollback (same expected current) changes nothing.
    assert not rollback(registry.client, MODEL, expected_current=v2)["changed"]
    with pytest.raises(RegistryError, match="no champion before"):
        rollback(registry.client, MODEL)
    assert champion_version(registry) == v1
    assert registry.client.get_model_version(MODEL, v2).tags.get("rolled_back_at")


def test_export_from_registry_by_alias(registry: Registry, tmp_path: Path) -> None:
    version = registry.register()
    registry.client.set_registered_model_alias(MODEL, CHAMPION_ALIAS, version)
    result = export_from_registry(
        registry.client, MODEL, tmp_path / "out", alias=CHAMPION_ALIAS, config=RuntimeConfig(max_batch_size=8)
    )
    settings = json.loads((tmp_path / "out" / "model-settings.json").read_text())
    assert settings["implementation"] == RUNTIME_IMPLEMENTATION
    assert settings["parameters"]["version"] == version
    assert settings["parameters"]["extra"]["max_batch_size"] == 8
    assert settings["parameters"]["extra"]["provenance"]["run_id"] == result.run_id
    assert load_bundle(tmp_path / "out").variant == "baseline"


def test_cli_gate_promote_rollback_round_trip(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = registry.register(accuracy=0.55)
    v2 = registry.register(accuracy=0.57)
    base = ["--tracking-uri", registry.uri]
    record = tmp_path / "decision.json"
    assert cli_main(["gate", "--variant", "baseline", "--version", v1, "--record", str(record), *base]) == 0
    assert (
        cli_main(["promote", "--variant", "baseline", "--version", v1, "--decision", str(record), *base]) == 0
    )
    assert cli_main(["promote", "--variant", "baseline", "--version", v2, *base]) == 0
    capsys.readouterr()
    assert cli_main(["rollback", "--variant", "baseline", "--expected-current", v2, *base]) == 0
    assert json.loads(capsys.readouterr().out)["champion"] == v1
    # A rejected gate exits 3; an operator error exits 1 with one line on stderr.
    worse = registry.register(accuracy=0.50)
    assert cli_main(["gate", "--variant", "baseline", "--version", worse, "--no-log", *base]) == 3
    assert cli_main(["promote", "--variant", "enhanced", *base]) == 1
    assert "financial-lstm-enhanced" in capsys.readouterr().err
