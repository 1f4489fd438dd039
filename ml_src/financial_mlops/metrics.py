"""Classification metrics and the long/flat backtest. Pure functions over numpy arrays."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

# Probabilities are clipped before log loss so a hard 0/1 predictor gets a
# large but finite penalty instead of inf (which JSON cannot carry).
PROB_EPS = 1e-6


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict:
    y = np.asarray(y_true, dtype=np.float64).astype(int)
    p = np.clip(np.asarray(proba, dtype=np.float64), PROB_EPS, 1.0 - PROB_EPS)
    pred = (p >= threshold).astype(int)
    both_classes = np.unique(y).size == 2
    return {
        "n": int(y.size),
        "accuracy": float(accuracy_score(y, pred)) if y.size else None,
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)) if both_classes else None,
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else None,
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if y.size else None,
        "brier": float(brier_score_loss(y, p)) if y.size else None,
        "up_share": float(pred.mean()) if y.size else None,
        "actual_up_share": float(y.mean()) if y.size else None,
        "proba_std": float(p.std()) if y.size else None,
    }


def periods_per_year(dates: np.ndarray) -> float:
    """Annualisation from the median bar spacing: daily -> 252, hourly -> 252 * 6.5, ..."""
    d = np.sort(np.unique(np.asarray(dates, dtype="datetime64[ns]")))
    if d.size < 2:
        return 252.0
    spacing_h = float(np.median(np.diff(d)).astype("timedelta64[s]").astype(np.int64)) / 3600.0
    if spacing_h >= 24 * 5:  # weekly or slower
        return 365.25 * 24 / spacing_h
    if spacing_h >= 20:  # daily bars (weekends/holidays make the median ~24h)
        return 252.0
    return 252.0 * 6.5 / spacing_h  # intraday: a 6.5 h session


def _curve_stats(period_returns: np.ndarray, ppy: float) -> dict:
    if period_returns.size == 0:
        return {"total_return": None, "sharpe": None, "max_drawdown": None, "periods": 0}
    equity = np.cumprod(1.0 + period_returns)
    peak = np.maximum.accumulate(equity)
    std = period_returns.std(ddof=1) if period_returns.size > 1 else 0.0
    sharpe = float(period_returns.mean() / std * math.sqrt(ppy)) if std > 0 else 0.0
    return {
        "total_return": float(equity[-1] - 1.0),
        "sharpe": sharpe,
        "max_drawdown": float((equity / peak - 1.0).min()),
        "periods": int(period_returns.size),
    }


def long_flat_backtest(
    dates: np.ndarray, next_return: np.ndarray, long_signal: np.ndarray
) -> tuple[dict, dict[str, np.ndarray]]:
    """Equal-weight portfolio across tickers: long a ticker for the next bar when predicted up, else flat.

    Buy-and-hold is the same portfolio always long. No costs, no leverage:
    it shows whether the predictions carry money-relevant information.
    """
    dates = np.asarray(dates, dtype="datetime64[ns]")
    order = np.argsort(dates, kind="stable")
    uniq, inverse = np.unique(dates[order], return_inverse=True)
    r = np.asarray(next_return, dtype=np.float64)[order]
    pos = np.asarray(long_signal, dtype=np.float64)[order]
    counts = np.bincount(inverse, minlength=uniq.size)
    strat = np.bincount(inverse, weights=r * pos, minlength=uniq.size) / np.maximum(counts, 1)
    hold = np.bincount(inverse, weights=r, minlength=uniq.size) / np.maximum(counts, 1)
    ppy = periods_per_year(uniq)
    result = {
        "periods_per_year": ppy,
        "strategy": _curve_stats(strat, ppy),
        "buy_and_hold": _curve_stats(hold, ppy),
        "time_in_market": float(pos.mean()) if pos.size else None,
    }
    curves = {
        "dates": uniq,
        "strategy": np.cumprod(1.0 + strat),
        "buy_and_hold": np.cumprod(1.0 + hold),
    }
    return result, curves
