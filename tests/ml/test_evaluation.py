"""The report calls out a constant predictor, a model no better than baselines, and leaky features."""

from __future__ import annotations

import financial_mlops.dataset as dataset_module
import numpy as np
import pandas as pd
import pytest
from financial_mlops.dataset import SplitConfig, prepare
from financial_mlops.evaluation import evaluate_split, judge
from financial_mlops.features import FEATURE_NAMES, compute_features
from financial_mlops.leakage_check import random_walk_check
from financial_mlops.metrics import classification_metrics, long_flat_backtest, periods_per_year

from .helpers import synthetic_market


@pytest.fixture(scope="module")
def prepared():
    return prepare(synthetic_market(2, 900, seed=3, signal="none"), SplitConfig(window=10))


def test_constant_up_predictor_is_called_out(prepared):
    proba = np.full(prepared.splits["test"].n, 0.53)
    _, _, _, checks, warnings = evaluate_split(proba, prepared)
    assert checks["constant_predictor"] is True
    assert any(w.startswith("CONSTANT PREDICTOR") for w in warnings)


def test_model_no_better_than_baselines_is_called_out(prepared):
    test = prepared.splits["test"]
    # "predict the previous bar again" with a little noise: exactly as good as the previous_bar baseline
    proba = np.where(test.X_raw_last[:, FEATURE_NAMES.index("ret_1")] > 0, 0.6, 0.4)
    metrics, baselines, _, checks, warnings = evaluate_split(proba, prepared)
    assert metrics["accuracy"] == pytest.approx(baselines["previous_bar"]["accuracy"])
    assert checks["beats_all_baselines"] is False
    assert any(w.startswith("NO BETTER THAN BASELINES") for w in warnings)


def test_a_genuinely_better_model_is_not_flagged():
    metrics = classification_metrics(np.array([1, 0] * 1000), np.array([0.8, 0.2] * 900 + [0.2, 0.8] * 100))
    base = {
        "majority": {"accuracy": 0.5},
        "previous_bar": {"accuracy": 0.5},
        "logistic_regression": {"accuracy": 0.51},
    }
    checks, warnings = judge(metrics, base)
    assert checks["beats_all_baselines"] and checks["edge_significant"] and not checks["constant_predictor"]
    assert warnings == []


def test_metrics_values_on_a_known_case():
    m = classification_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.2, 0.6]))
    assert m["accuracy"] == 0.5 and m["up_share"] == 0.5 and m["roc_auc"] == 0.75
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.04 + 0.36) / 4)


def test_backtest_long_flat_and_drawdown():
    dates = np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[ns]")
    r = np.array([0.10, -0.50, 0.10, -0.10])
    result, curves = long_flat_backtest(dates, r, np.array([True, False, True, True]))
    assert result["strategy"]["total_return"] == pytest.approx(1.1 * 1.1 * 0.9 - 1)
    assert result["buy_and_hold"]["max_drawdown"] == pytest.approx(1.1 * 0.5 * 1.1 * 0.9 / 1.1 - 1)
    assert result["periods_per_year"] == 252.0
    assert curves["strategy"][-1] == pytest.approx(1.089)


def test_periods_per_year_intraday():
    dates = pd.date_range("2024-01-01", periods=50, freq="1h").values
    assert periods_per_year(dates) == pytest.approx(252 * 6.5)


def test_sanity_check_passes_honest_features_and_fails_a_leaky_one(prepared, monkeypatch):
    spec = prepared.spec
    i = FEATURE_NAMES.index("ret_1")

    def last_step_momentum(x):  # any honest rule over the window: random walk -> coin flip
        return 1 / (1 + np.exp(-5 * x[:, -1, i]))

    honest = random_walk_check(last_step_momentum, spec, seed=0)
    assert honest["passed"] and 0.45 <= honest["accuracy"] <= 0.55 and honest["n"] > 5000

    def leaky_features(ohlcv):
        feats = compute_features(ohlcv)
        # the old application's bug: a "return" that is really the next bar's return
        feats["ret_1"] = ohlcv["close"].shift(-1) / ohlcv["close"] - 1.0
        return feats.fillna(0.0)

    monkeypatch.setattr(dataset_module, "compute_features", leaky_features)
    leaky = random_walk_check(last_step_momentum, spec, seed=0)
    assert not leaky["passed"] and leaky["accuracy"] > 0.9
