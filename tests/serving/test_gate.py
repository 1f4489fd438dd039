"""The validation gate's rules on plain evidence: promote, reject, and never promote on missing data."""

from __future__ import annotations

import copy
import json

import pytest
from financial_mlops.serving.gate import (
    DECISION_SCHEMA,
    MISSING,
    REQUIRED_ARTIFACTS,
    Evidence,
    GateThresholds,
    evaluate_gate,
)

GOOD_METRICS = {
    "model": {"variant": "baseline"},
    "test": {"accuracy": 0.56, "n": 1200, "up_share": 0.52},
    "baselines": {
        "majority": {"accuracy": 0.51},
        "previous_bar": {"accuracy": 0.49},
        "logistic_regression": {"accuracy": 0.53},
    },
    "checks": {"constant_predictor": False},
    "sanity": {"random_walk": {"accuracy": 0.501, "passed": True}},
}


def candidate(**changes: object) -> Evidence:
    ev = Evidence(
        model="financial-lstm-baseline",
        version="2",
        run_id="run-2",
        metrics=copy.deepcopy(GOOD_METRICS),
        sanity_tag="true",
        artifacts=set(REQUIRED_ARTIFACTS),
        variant="baseline",
    )
    for key, value in changes.items():
        setattr(ev, key, value)
    return ev


def champion(accuracy: float | None = 0.55, version: str = "1") -> Evidence:
    metrics = copy.deepcopy(GOOD_METRICS)
    if accuracy is None:
        del metrics["test"]["accuracy"]
    else:
        metrics["test"]["accuracy"] = accuracy
    return Evidence(model="financial-lstm-baseline", version=version, run_id="run-1", metrics=metrics)


def statuses(decision) -> dict[str, str]:
    return {c.name: c.status for c in decision.checks}


def test_good_candidate_is_promoted_over_a_weaker_champion() -> None:
    decision = evaluate_gate(candidate(), champion(0.55))
    assert decision.promote, decision.reasons
    assert set(statuses(decision).values()) == {"pass"}
    record = decision.record("2026-01-01T00:00:00Z")
    assert record["decision"] == "promote"
    assert record["schema"] == DECISION_SCHEMA
    assert record["champion_version"] == "1"
    json.dumps(record)  # the record must be JSON as written to disk and MLflow


def test_first_promotion_needs_no_champion() -> None:
    decision = evaluate_gate(candidate(), None)
    assert decision.promote
    assert "first promotion" in next(c.detail for c in decision.checks if c.name == "vs_champion")


def test_reject_when_not_better_than_best_baseline() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    metrics["test"]["accuracy"] = 0.532  # beats logistic_regression (0.53) by less than 0.005
    decision = evaluate_gate(candidate(metrics=metrics), None)
    assert not decision.promote
    assert statuses(decision)["beats_baselines"] == "fail"
    assert any("logistic_regression" in r for r in decision.reasons)


def test_reject_when_worse_than_champion() -> None:
    decision = evaluate_gate(candidate(), champion(0.58))
    assert not decision.promote
    assert statuses(decision)["vs_champion"] == "fail"
    # A tolerance lets a slightly worse but otherwise sound model through.
    assert evaluate_gate(candidate(), champion(0.58), GateThresholds(max_regression_vs_champion=0.03)).promote


def test_reject_when_sanity_check_failed_or_disagrees() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    metrics["sanity"]["random_walk"] = {"accuracy": 0.62, "passed": False}
    failed = evaluate_gate(candidate(metrics=metrics, sanity_tag="false"), None)
    assert statuses(failed)["sanity_random_walk"] == "fail" and not failed.promote
    disagree = evaluate_gate(candidate(sanity_tag="false"), None)
    assert statuses(disagree)["sanity_random_walk"] == "fail" and not disagree.promote


def test_reject_constant_predictor_and_wrong_variant() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    metrics["checks"]["constant_predictor"] = True
    assert statuses(evaluate_gate(candidate(metrics=metrics), None))["not_constant"] == "fail"
    decision = evaluate_gate(candidate(variant="enhanced", model="financial-lstm-enhanced"), None)
    assert statuses(decision)["variant"] == "fail" and not decision.promote


def test_reject_when_too_few_test_samples() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    metrics["test"]["n"] = 50
    decision = evaluate_gate(candidate(metrics=metrics), None)
    assert statuses(decision)["test_samples"] == "fail" and not decision.promote


def test_reject_when_artifacts_incomplete() -> None:
    decision = evaluate_gate(candidate(artifacts={"bundle/metrics.json"}), None)
    assert statuses(decision)["artifacts"] == "fail"
    assert any("model.pt" in r for r in decision.reasons)


@pytest.mark.parametrize(
    ("changes", "missing_check"),
    [
        ({"metrics": None}, "metrics"),
        ({"sanity_tag": None}, "sanity_random_walk"),
        ({"artifacts": None}, "artifacts"),
        ({"metrics": {k: v for k, v in GOOD_METRICS.items() if k != "baselines"}}, "beats_baselines"),
        ({"metrics": {k: v for k, v in GOOD_METRICS.items() if k != "test"}}, "test_samples"),
        ({"metrics": {k: v for k, v in GOOD_METRICS.items() if k != "checks"}}, "not_constant"),
    ],
)
def test_missing_data_never_promotes(changes: dict, missing_check: str) -> None:
    decision = evaluate_gate(candidate(**changes), None)
    assert not decision.promote
    assert statuses(decision)[missing_check] == MISSING
    assert missing_check in decision.record("t")["missing"]


def test_missing_champion_metrics_never_promotes() -> None:
    decision = evaluate_gate(candidate(), champion(None))
    assert not decision.promote
    assert statuses(decision)["vs_champion"] == MISSING


def test_non_numeric_or_non_finite_metrics_count_as_missing() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    metrics["test"]["accuracy"] = float("nan")
    assert statuses(evaluate_gate(candidate(metrics=metrics), None))["beats_baselines"] == MISSING
    metrics["test"]["accuracy"] = "0.9"
    assert statuses(evaluate_gate(candidate(metrics=metrics), None))["beats_baselines"] == MISSING


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="min_test_samples"):
        GateThresholds(min_test_samples=0)
    with pytest.raises(ValueError, match="max_regression_vs_champion"):
        GateThresholds(max_regression_vs_champion=-0.1)
