"""Walk-forward folds, calibration table and the backtest after costs."""

from __future__ import annotations

import numpy as np
import pytest
from financial_mlops.dataset import SplitConfig, prepare
from financial_mlops.folds import make_folds, pooled_windows, walk_forward
from financial_mlops.metrics import calibration_table, downsample_curves, long_flat_backtest
from financial_mlops.train import TrainConfig

from .helpers import synthetic_market


@pytest.fixture(scope="module")
def prepared():
    return prepare(synthetic_market(2, 900, seed=3, signal="none"), SplitConfig(window=10))


def test_folds_are_chronological_expanding_and_gapped(prepared) -> None:
    pool, oos = pooled_windows(prepared)
    gap = prepared.config.effective_gap
    folds = make_folds(pool, oos, 4, gap)
    assert len(folds) == 4
    tested = np.concatenate([test for _, test in folds])
    # every out-of-sample window is tested exactly once, training windows never
    assert sorted(tested.tolist()) == np.flatnonzero(oos).tolist()
    previous_train = 0
    for i, (train, test) in enumerate(folds):
        assert train.size > previous_train  # expanding
        previous_train = train.size
        assert pool.dates[train].max() < pool.dates[test].min()
        for ticker in np.unique(pool.ticker[test]):
            own_train = train[pool.ticker[train] == ticker]
            own_test = test[pool.ticker[test] == ticker]
            # no input bar or target bar shared: more than gap >= window bars apart
            assert pool.end_index[own_test].min() > pool.end_index[own_train].max() + gap
        if i:
            assert pool.dates[test].min() > pool.dates[folds[i - 1][1]].max()


def test_too_many_folds_is_a_clear_error(prepared) -> None:
    pool, oos = pooled_windows(prepared)
    with pytest.raises(ValueError, match="fewer --folds"):
        make_folds(pool, oos, 1000, prepared.config.effective_gap)


def test_walk_forward_report_pairs_model_and_baselines(prepared, capsys) -> None:
    config = TrainConfig(epochs=1, batch_size=256, seed=0, progress=False)
    result = walk_forward(prepared, "lightweight", config, epochs=1, k=3)
    # every refit says which fold is running (the demo's progress line shows the last one)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("walk-forward:")]
    assert [n.split(":")[1].split()[1] for n in notes] == ["1/3", "2/3", "3/3"]
    assert [f["fold"] for f in result["folds"]] == [0, 1, 2]
    for fold in result["folds"]:
        assert fold["train_end"] < fold["test_start"] <= fold["test_end"]
        assert set(fold["baselines"]) == {"majority", "previous_bar", "logistic_regression"}
        assert fold["model"]["n"] == fold["n"]
    windows = result["walk_forward"]["windows"]
    n = result["pooled"]["n"]
    assert n == sum(f["n"] for f in result["folds"]) == len(windows["y"]) == len(windows["model"])
    assert all(len(v) == n for v in windows["baselines"].values())
    lo, hi = result["pooled"]["model"]["accuracy_ci"]
    assert lo <= result["pooled"]["model"]["accuracy"] <= hi
    # the same seed gives the same out-of-sample predictions (the gate's p-values reproduce)
    assert (
        walk_forward(prepared, "lightweight", config, epochs=1, k=3)["walk_forward"] == result["walk_forward"]
    )


def test_calibration_table_counts_every_prediction() -> None:
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.05, 0.15, 0.55, 0.95, 1.0])
    bins = calibration_table(y, p, 10)["bins"]
    assert len(bins) == 10 and sum(b["n"] for b in bins) == 5
    assert bins[0] == {"lo": 0.0, "hi": 0.1, "n": 1, "mean_predicted": 0.05, "observed_up_rate": 0.0}
    assert bins[9]["n"] == 2 and bins[9]["observed_up_rate"] == 0.5
    assert bins[3]["mean_predicted"] is None and bins[3]["observed_up_rate"] is None


def test_costs_are_paid_on_every_entry_and_exit() -> None:
    dates = np.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"], dtype="datetime64[ns]")
    r = np.array([0.10, -0.50, 0.10, -0.10])
    signal = np.array([True, False, True, True])
    result, curves = long_flat_backtest(dates, r, signal, ticker=np.array(["A"] * 4), cost_bps=100)
    # entries on bars 1 and 3, exit on bar 2: three trades of 1%
    assert result["trades"] == 3
    assert result["strategy_after_costs"]["total_return"] == pytest.approx(1.09 * 0.99 * 1.09 * 0.9 - 1)
    assert result["strategy"]["total_return"] == pytest.approx(1.1 * 1.1 * 0.9 - 1)
    assert result["cost_bps"] == 100.0
    curve = downsample_curves(curves, max_points=3)
    assert curve["dates"] == ["2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-04T00:00:00Z"]
    assert set(curve) == {"dates", "strategy", "strategy_after_costs", "buy_and_hold"}
