"""Paired comparisons of per-window scores that respect serial dependence.

Two models scored on the same test windows give per-window score
differences ``d``. Adjacent windows of one ticker share ``window - 1`` input
bars, so the predictions (and thus ``d``) are serially correlated: an i.i.d.
standard error would be too small and promote luck. The moving-block
bootstrap below resamples, inside each ticker, blocks of consecutive windows
whose length is the window (the span over which two windows share inputs),
keeping that correlation in every replicate. It gives the confidence
interval of the mean difference, a one-sided p-value (centred bootstrap:
how often a replicate deviates from the observed mean by at least the
observed mean) and an effective sample size (the number of independent
windows that would give the same variance). Holm's step-down correction
adjusts the p-values of a family of comparisons (every baseline plus the
champion) so that the family-wise error stays at alpha.

Everything is seeded (``policy.BOOTSTRAP_SEED``): the same inputs give the
same p-values, so a re-evaluation reproduces a decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from financial_mlops import policy
from financial_mlops.metrics import PROB_EPS

# Float noise allowed when a replicate ties the observed difference (identical models: p = 1).
_TIE = 1e-12


def window_scores(y: np.ndarray, proba: np.ndarray, metric: str) -> np.ndarray:
    """Per-window score, higher is better, whose mean is the metric (or minus the loss)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(proba, dtype=np.float64), PROB_EPS, 1.0 - PROB_EPS)
    if metric == "accuracy":
        return ((p >= 0.5) == (y >= 0.5)).astype(np.float64)
    if metric == "log_loss":
        return y * np.log(p) + (1.0 - y) * np.log(1.0 - p)
    if metric == "brier":
        return -((p - y) ** 2)
    raise ValueError(f"unknown metric {metric!r}; choose one of {list(policy.METRICS)}")


def metric_value(scores_mean: float, metric: str) -> float:
    """The metric from a mean window score (losses are stored negated)."""
    return scores_mean if metric == "accuracy" else -scores_mean


def ticker_groups(ticker: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
    """Indices of each ticker's windows in chronological order (``order``: dates or bar indices)."""
    ticker = np.asarray(ticker).astype(str)
    order = np.asarray(order)
    groups = []
    for name in np.unique(ticker):
        idx = np.flatnonzero(ticker == name)
        groups.append(idx[np.argsort(order[idx], kind="stable")])
    return groups


def bootstrap_means(
    values: np.ndarray, groups: Sequence[np.ndarray], block: int, replicates: int, rng: np.random.Generator
) -> np.ndarray:
    """``replicates`` moving-block bootstrap means of ``values`` (blocks never cross tickers)."""
    values = np.asarray(values, dtype=np.float64)
    total = np.zeros(replicates)
    n = 0
    for idx in groups:
        g = values[idx]
        size = g.size
        if size == 0:
            continue
        n += size
        length = max(1, min(block, size))
        cs = np.concatenate([[0.0], np.cumsum(g)])
        full, rest = divmod(size, length)
        starts = rng.integers(0, size - length + 1, size=(replicates, full))
        total += (cs[starts + length] - cs[starts]).sum(axis=1)
        if rest:
            tail = rng.integers(0, size - rest + 1, size=replicates)
            total += cs[tail + rest] - cs[tail]
    return total / max(n, 1)


def _rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(policy.BOOTSTRAP_SEED if seed is None else seed)


def _interval(boot: np.ndarray, level: float) -> list[float]:
    lo, hi = np.quantile(boot, [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0])
    return [float(lo), float(hi)]


def mean_ci(
    values: np.ndarray,
    groups: Sequence[np.ndarray],
    block: int,
    level: float = policy.CI_LEVEL,
    replicates: int = policy.BOOTSTRAP_REPLICATES,
    seed: int | None = None,
) -> list[float]:
    """Percentile block-bootstrap interval of the mean of ``values`` (e.g. accuracy from 0/1 scores)."""
    if np.asarray(values).size == 0:
        return [float("nan"), float("nan")]
    return _interval(bootstrap_means(values, groups, block, replicates, _rng(seed)), level)


def _summary(
    observed: float,
    boot: np.ndarray,
    iid_var: float,
    n: int,
    alternative: str,
    level: float,
    null: float = 0.0,
) -> dict:
    """``iid_var``: the variance of the mean if the windows were independent (for effective n).

    ``null``: the difference under the null hypothesis (0: superiority; ``-margin``
    with ``greater``: non-inferiority, "the model trails by at most the margin").
    """
    centred = boot - observed
    if alternative == "greater":
        extreme = int(np.count_nonzero(centred >= observed - null - _TIE))
    elif alternative == "less":
        extreme = int(np.count_nonzero(centred <= observed - null + _TIE))
    else:
        raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    var_boot = float(boot.var(ddof=1)) if boot.size > 1 else 0.0
    effective = n * iid_var / var_boot if var_boot > 0 and iid_var > 0 else float(n)
    return {
        "difference": float(observed),
        "ci": _interval(boot, level),
        "p_value": (1 + extreme) / (boot.size + 1),
        "effective_n": float(min(effective, n)) if n else 0.0,
        "n": int(n),
    }


def paired_comparison(
    score_a: np.ndarray,
    score_b: np.ndarray,
    groups: Sequence[np.ndarray],
    block: int,
    alternative: str = "greater",
    level: float = policy.CI_LEVEL,
    replicates: int = policy.BOOTSTRAP_REPLICATES,
    seed: int | None = None,
    null: float = 0.0,
) -> dict:
    """Is mean(a - b) > ``null`` (``greater``) or < ``null`` (``less``) on the same windows?

    Returns the observed difference, its interval, the one-sided p-value, the
    effective sample size and n. Identical scores give p = 1 against a null of
    0, and p near 0 against a null below 0 (identical is "not worse").
    """
    d = np.asarray(score_a, dtype=np.float64) - np.asarray(score_b, dtype=np.float64)
    if d.size == 0:
        raise ValueError("a paired comparison needs at least one window")
    boot = bootstrap_means(d, groups, block, replicates, _rng(seed))
    iid_var = float(d.var(ddof=1)) / d.size if d.size > 1 else 0.0
    return _summary(float(d.mean()), boot, iid_var, d.size, alternative, level, null)


def unpaired_comparison(
    score_a: np.ndarray,
    groups_a: Sequence[np.ndarray],
    score_b: np.ndarray,
    groups_b: Sequence[np.ndarray],
    block: int,
    alternative: str = "greater",
    level: float = policy.CI_LEVEL,
    replicates: int = policy.BOOTSTRAP_REPLICATES,
    seed: int | None = None,
) -> dict:
    """mean(a) - mean(b) when a and b were scored on different windows (independent bootstraps)."""
    a, b = np.asarray(score_a, dtype=np.float64), np.asarray(score_b, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("an unpaired comparison needs windows on both sides")
    rng = _rng(seed)
    boot_a = bootstrap_means(a, groups_a, block, replicates, rng)
    boot_b = bootstrap_means(b, groups_b, block, replicates, rng)
    iid_var = sum(float(v.var(ddof=1)) / v.size for v in (a, b) if v.size > 1)
    return _summary(
        float(a.mean() - b.mean()), boot_a - boot_b, iid_var, min(a.size, b.size), alternative, level
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
