"""The gate's statistics on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from financial_mlops.significance import (
    bootstrap_means,
    holm,
    mean_ci,
    paired_comparison,
    ticker_groups,
    unpaired_comparison,
    window_scores,
)

N = 1200
BLOCK = 10


def _groups(n: int = N, tickers: int = 3) -> list[np.ndarray]:
    names = np.repeat([f"T{i}" for i in range(tickers)], n // tickers)
    return ticker_groups(names, np.tile(np.arange(n // tickers), tickers))


def test_identical_predictions_give_p_one_and_a_zero_interval() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, N)
    scores = window_scores(y, rng.random(N), "accuracy")
    result = paired_comparison(scores, scores, _groups(), BLOCK)
    assert result["p_value"] == 1.0
    assert result["difference"] == 0.0 and result["ci"] == [0.0, 0.0]
    assert result["effective_n"] == N


def test_a_model_right_on_every_window_has_p_near_zero() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, N)
    perfect = window_scores(y, y.astype(float), "accuracy")
    coin = window_scores(y, rng.random(N), "accuracy")
    result = paired_comparison(perfect, coin, _groups(), BLOCK, replicates=2000)
    assert result["p_value"] == pytest.approx(1 / 2001)
    assert result["difference"] == pytest.approx(1.0 - coin.mean())
    assert result["ci"][0] > 0.4
    # ... and the reverse question ("is it worse?") is answered no
    assert paired_comparison(perfect, coin, _groups(), BLOCK, alternative="less")["p_value"] > 0.99


def test_bootstrap_interval_covers_the_true_difference_at_about_the_nominal_rate() -> None:
    """AR(1)-correlated differences with a known mean: the 95% block interval covers it ~95% of the time."""
    rng = np.random.default_rng(3)
    n, true_mean, phi, sims = 600, 0.05, 0.5, 200
    groups = _groups(n, tickers=2)
    covered = 0
    for _ in range(sims):
        e = rng.standard_normal(n)
        d = np.empty(n)
        d[0] = e[0]
        for t in range(1, n):
            d[t] = phi * d[t - 1] + e[t]
        d = true_mean + 0.5 * d
        lo, hi = paired_comparison(d, np.zeros(n), groups, 20, replicates=400, seed=int(rng.integers(1e9)))[
            "ci"
        ]
        covered += lo <= true_mean <= hi
    assert 0.88 <= covered / sims <= 0.99, covered / sims


def test_serial_dependence_shrinks_the_effective_sample_size() -> None:
    rng = np.random.default_rng(4)
    n = 900
    independent = rng.standard_normal(n)
    # each value repeated over 10 consecutive windows: ~90 independent pieces of information
    clustered = np.repeat(rng.standard_normal(n // 10), 10)
    groups = _groups(n, tickers=1)
    assert paired_comparison(independent, np.zeros(n), groups, 20)["effective_n"] > 500
    assert paired_comparison(clustered, np.zeros(n), groups, 20)["effective_n"] < 200


def test_blocks_stay_inside_each_ticker() -> None:
    values = np.concatenate([np.zeros(100), np.ones(100)])
    groups = ticker_groups(np.repeat(["A", "B"], 100), np.tile(np.arange(100), 2))
    # every replicate draws 100 windows from each ticker, so the mean is always exactly 0.5
    means = bootstrap_means(values, groups, 7, 50, np.random.default_rng(0))
    assert np.allclose(means, 0.5)


def test_window_scores_average_to_the_metrics() -> None:
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.4, 0.6])
    assert window_scores(y, p, "accuracy").mean() == 0.5
    assert -window_scores(y, p, "brier").mean() == pytest.approx((0.01 + 0.04 + 0.36 + 0.36) / 4)
    assert -window_scores(y, p, "log_loss").mean() == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.4])))
    with pytest.raises(ValueError, match="unknown metric"):
        window_scores(y, p, "sharpe")


def test_holm_adjustment() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_mean_ci_and_unpaired_comparison() -> None:
    rng = np.random.default_rng(5)
    scores = (rng.random(N) < 0.6).astype(float)
    lo, hi = mean_ci(scores, _groups(), BLOCK)
    assert lo < scores.mean() < hi and hi - lo < 0.1
    other = (rng.random(N) < 0.5).astype(float)
    result = unpaired_comparison(scores, _groups(), other, _groups(), BLOCK)
    assert result["difference"] == pytest.approx(scores.mean() - other.mean())
    assert result["p_value"] < 0.01
