"""The validation gate's rules on plain evidence: promote, reject, and never promote on missing data."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from financial_mlops.serving.gate import (
    DECISION_SCHEMA,
    MISSING,
    REQUIRED_ARTIFACTS,
    Evidence,
    GateThresholds,
    evaluate_gate,
)

TICKERS, PER_TICKER, FOLDS = 4, 300, 4


def walk_forward(model_accuracy: float, seed: int = 0, offset: int = 0) -> dict:
    """Per-window walk-forward evidence: the model right on ~``model_accuracy`` of 1,200 windows,
    the baselines at chance (the labels are the same for every ``seed``: same windows, same truth)."""
    truth = np.random.default_rng(99)
    y = truth.integers(0, 2, TICKERS * PER_TICKER)
    rng = np.random.default_rng(seed)
    right = rng.random(y.size) < model_accuracy
    model = np.where(right == (y == 1), 0.7, 0.3)
    noise = np.random.default_rng(7)
    days = np.arange(PER_TICKER) + offset
    return {
        "k": FOLDS,
        "block_length": 10,
        "windows": {
            "ticker": np.repeat([f"T{i}" for i in range(TICKERS)], PER_TICKER).tolist(),
            "date": [f"2020-01-01T00:00:00Z+{d:05d}" for d in np.tile(days, TICKERS)],
            "fold": np.tile(np.arange(PER_TICKER) * FOLDS // PER_TICKER, TICKERS).tolist(),
            "y": y.tolist(),
            "model": model.tolist(),
            "baselines": {
                "majority": np.full(y.size, 0.52).tolist(),
                "previous_bar": (noise.random(y.size) < 0.5).astype(float).tolist(),
                "logistic_regression": (0.5 + 0.05 * noise.standard_normal(y.size)).tolist(),
            },
        },
    }


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
    "walk_forward": walk_forward(0.62),
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


def champion(accuracy: float | None = 0.55, version: str = "1", offset: int = 0) -> Evidence:
    """The champion's own walk-forward predictions (same windows unless ``offset`` shifts the dates)."""
    metrics = copy.deepcopy(GOOD_METRICS)
    if accuracy is None:
        del metrics["walk_forward"]
    else:
        metrics["walk_forward"] = walk_forward(accuracy, seed=1, offset=offset)
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
    assert record["alpha"] == 0.05 and record["metric"] == "accuracy"
    against = [c["against"] for c in record["comparisons"]]
    assert against == ["majority", "previous_bar", "logistic_regression", "champion v1"]
    for c in record["comparisons"]:
        assert c["passed"] and c["p_adjusted"] <= 0.05 and c["ci"][0] > 0 < c["difference"]
        assert c["p_adjusted"] >= c["p_value"] and 0 < c["effective_n"] <= 1200
    assert [f["fold"] for f in record["fold_comparisons"]] == [0, 1, 2, 3]
    json.dumps(record)  # the record must be JSON as written to disk and MLflow


def test_first_promotion_needs_no_champion() -> None:
    decision = evaluate_gate(candidate(), None)
    assert decision.promote
    assert "first promotion" in next(c.detail for c in decision.checks if c.name == "vs_champion")


STRICT = GateThresholds(superiority_over=("majority", "previous_bar", "logistic_regression"))


def test_reject_when_not_better_than_best_baseline() -> None:
    """The strict reading (superiority over every baseline): a copy of a baseline is rejected."""
    metrics = copy.deepcopy(GOOD_METRICS)
    windows = metrics["walk_forward"]["windows"]
    windows["model"] = list(windows["baselines"]["logistic_regression"])  # the same predictions
    decision = evaluate_gate(candidate(metrics=metrics), None, STRICT)
    assert not decision.promote
    assert statuses(decision)["beats_baselines"] == "fail"
    assert any("logistic_regression" in r for r in decision.reasons)
    same = next(c for c in decision.comparisons if c["against"] == "logistic_regression")
    assert same["p_value"] == 1.0 and same["difference"] == 0.0 and not same["passed"]


def optimal_rule_market() -> dict:
    """A market whose best forecaster is an informed rule: previous_bar right on 60 % of windows."""
    metrics = copy.deepcopy(GOOD_METRICS)
    windows = metrics["walk_forward"]["windows"]
    y = np.asarray(windows["y"])
    right = np.random.default_rng(5).random(y.size) < 0.60
    windows["baselines"]["previous_bar"] = np.where(right, y, 1 - y).astype(float).tolist()
    return metrics


def test_a_model_matching_the_optimal_informed_rule_is_promoted() -> None:
    """On AR(1)-like data the last bar's sign is the optimal rule: no model can be significantly better
    than it, so the default policy asks for superiority over the uninformed baseline and only
    non-inferiority to the informed ones."""
    metrics = optimal_rule_market()
    windows = metrics["walk_forward"]["windows"]
    windows["model"] = [0.7 if v else 0.3 for v in windows["baselines"]["previous_bar"]]
    decision = evaluate_gate(candidate(metrics=metrics), None)
    assert decision.promote, decision.reasons
    rows = {c["against"]: c for c in decision.comparisons}
    assert rows["majority"]["test"] == "superiority" and rows["majority"]["p_adjusted"] <= 0.05
    same = rows["previous_bar"]
    assert same["test"] == "non-inferiority" and same["margin"] == GateThresholds().non_inferiority_margin
    assert same["difference"] == 0.0 and same["p_value"] < 0.01 and same["passed"]
    # the strict reading rejects it, naming the rule it merely ties
    strict = evaluate_gate(candidate(metrics=metrics), None, STRICT)
    assert not strict.promote and any("previous_bar" in r for r in strict.reasons)


def test_a_model_clearly_worse_than_an_informed_rule_is_rejected() -> None:
    metrics = optimal_rule_market()
    windows = metrics["walk_forward"]["windows"]
    y = np.asarray(windows["y"])
    right = np.random.default_rng(6).random(y.size) < 0.55  # beats majority, trails previous_bar by ~5 pt
    windows["model"] = np.where(right == (y == 1), 0.7, 0.3).tolist()
    decision = evaluate_gate(candidate(metrics=metrics), None)
    assert not decision.promote
    assert statuses(decision)["beats_baselines"] == "fail"
    assert any("previous_bar (not worse by > 0.0200?)" in r for r in decision.reasons), decision.reasons


def test_a_copy_of_the_uninformed_baseline_is_rejected_by_default() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    windows = metrics["walk_forward"]["windows"]
    windows["model"] = list(windows["baselines"]["majority"])
    decision = evaluate_gate(candidate(metrics=metrics), None)
    assert not decision.promote
    same = next(c for c in decision.comparisons if c["against"] == "majority")
    assert same["p_value"] == 1.0 and same["difference"] == 0.0 and not same["passed"]


def test_superiority_over_an_unknown_baseline_is_missing_evidence() -> None:
    decision = evaluate_gate(candidate(), None, GateThresholds(superiority_over=("persistence",)))
    assert statuses(decision)["beats_baselines"] == MISSING and not decision.promote
    assert any("persistence" in r and "gate_policy.yml" in r for r in decision.reasons)


def test_an_edge_within_luck_is_rejected_and_the_record_says_why() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    metrics["walk_forward"] = walk_forward(0.51)  # a coin with a lucky streak
    decision = evaluate_gate(candidate(metrics=metrics), None)
    assert statuses(decision)["beats_baselines"] == "fail" and not decision.promote
    assert any("Holm p=" in r for r in decision.reasons)
    # switching significance off (alpha = 1) lets only the observed-difference floor decide
    relaxed = evaluate_gate(candidate(metrics=metrics), None, GateThresholds(min_edge_over_baselines=-0.5))
    assert not relaxed.promote
    relaxed = evaluate_gate(
        candidate(metrics=metrics), None, GateThresholds(min_edge_over_baselines=-0.5, alpha=1.0)
    )
    assert relaxed.promote, relaxed.reasons


def test_reject_when_a_fold_is_significantly_worse() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    windows = metrics["walk_forward"]["windows"]
    y = np.asarray(windows["y"])
    last = np.asarray(windows["fold"]) == FOLDS - 1
    # wrong on every window of the last fold: far worse than the baselines there
    windows["model"] = np.where(last, np.where(y == 1, 0.1, 0.9), windows["model"]).tolist()
    decision = evaluate_gate(candidate(metrics=metrics), None)
    assert statuses(decision)["folds_not_worse"] == "fail" and not decision.promote
    worse = [f["fold"] for f in decision.fold_comparisons if f["significantly_worse"]]
    assert worse == [FOLDS - 1]


def test_gate_on_log_loss_punishes_confident_nonsense() -> None:
    metrics = copy.deepcopy(GOOD_METRICS)
    windows = metrics["walk_forward"]["windows"]
    y = np.asarray(windows["y"])
    # right on 62% at 0.99 confidence, wrong on the rest at 0.99: accuracy fine, log loss awful
    right = np.asarray(windows["model"]) == np.where(y == 1, 0.7, 0.3)
    windows["model"] = np.where(right == (y == 1), 0.99, 0.01).tolist()
    assert evaluate_gate(candidate(metrics=metrics), None).promote
    on_loss = evaluate_gate(candidate(metrics=metrics), None, GateThresholds(metric="log_loss"))
    assert statuses(on_loss)["beats_baselines"] == "fail"
    assert on_loss.record("t")["metric"] == "log_loss"


def test_reject_when_worse_than_champion() -> None:
    decision = evaluate_gate(candidate(), champion(0.70))
    assert not decision.promote
    assert statuses(decision)["vs_champion"] == "fail"
    # As good as the champion is not enough either: the gate wants evidence of an improvement.
    assert statuses(evaluate_gate(candidate(), champion(0.62)))["vs_champion"] == "fail"
    # With significance off (alpha = 1), the tolerance on the observed difference decides
    # (before the statistical gate, this tolerance alone let a slightly worse model through).
    relaxed = GateThresholds(max_regression_vs_champion=0.1, alpha=1.0)
    assert evaluate_gate(candidate(), champion(0.70), relaxed).promote


def test_champion_on_other_windows_is_compared_unpaired() -> None:
    decision = evaluate_gate(candidate(), champion(0.50, offset=10_000))
    row = next(c for c in decision.comparisons if c["against"] == "champion v1")
    assert row["pairing"].startswith("unpaired") and row["passed"]


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
        ({"metrics": {k: v for k, v in GOOD_METRICS.items() if k != "walk_forward"}}, "beats_baselines"),
        ({"metrics": {k: v for k, v in GOOD_METRICS.items() if k != "walk_forward"}}, "folds_not_worse"),
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
    metrics["walk_forward"]["windows"]["model"][0] = float("nan")
    assert statuses(evaluate_gate(candidate(metrics=metrics), None))["beats_baselines"] == MISSING
    metrics["walk_forward"]["windows"]["model"][0] = "0.9x"
    assert statuses(evaluate_gate(candidate(metrics=metrics), None))["beats_baselines"] == MISSING
    metrics["test"]["n"] = float("nan")
    assert statuses(evaluate_gate(candidate(metrics=metrics), None))["test_samples"] == MISSING


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="min_test_samples"):
        GateThresholds(min_test_samples=0)
    with pytest.raises(ValueError, match="max_regression_vs_champion"):
        GateThresholds(max_regression_vs_champion=-0.1)
    with pytest.raises(ValueError, match="alpha"):
        GateThresholds(alpha=0.0)
    with pytest.raises(ValueError, match="metric"):
        GateThresholds(metric="sharpe")
