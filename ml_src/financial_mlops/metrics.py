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


def calibration_table(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> dict:
    """Reliability table: equal-width bins of P(up), the mean prediction and the observed up-rate in each."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(proba, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # the last bin is closed on the right so that p = 1.0 is counted
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        rows.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "n": n,
                "mean_predicted": float(p[mask].mean()) if n else None,
                "observed_up_rate": float(y[mask].mean()) if n else None,
            }
        )
    return {"bins": rows}


def downsample_curves(curves: dict[str, np.ndarray], max_points: int = 500) -> dict[str, list]:
    """Equity curves as JSON lists, at most ``max_points`` evenly spaced points (first and last kept)."""
    n = len(curves["dates"])
    idx = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int)) if n else np.zeros(0, int)
    dates = np.asarray(curves["dates"], dtype="datetime64[s]")[idx]
    out: dict[str, list] = {"dates": [f"{d}Z" for d in np.datetime_as_string(dates)]}
    for name, values in curves.items():
        if name != "dates":
            out[name] = [float(v) for v in np.asarray(values)[idx]]
    return out


def _trades(pos: np.ndarray, ticker: np.ndarray | None) -> np.ndarray:
    """Position changes per window (entering from flat counts), within each ticker in date order."""
    change = np.abs(np.diff(pos, prepend=0.0))
    if ticker is not None and ticker.size:
        first_of_ticker = np.concatenate([[True], ticker[1:] != ticker[:-1]])
        change[first_of_ticker] = pos[first_of_ticker]
    return change


def long_flat_backtest(
    dates: np.ndarray,
    next_return: np.ndarray,
    long_signal: np.ndarray,
    ticker: np.ndarray | None = None,
    cost_bps: float = 0.0,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Equal-weight portfolio across tickers: long a ticker for the next bar when predicted up, else flat.

    Buy-and-hold is the same portfolio always long. ``strategy`` has no costs;
    ``strategy_after_costs`` pays ``cost_bps`` basis points of the notional on
    every entry and exit (``ticker`` tells which windows follow each other).
    An illustration of the test period, not a forecast: no leverage,
    slippage beyond the flat cost, or capacity limits.
    """
    dates = np.asarray(dates, dtype="datetime64[ns]")
    tk = None if ticker is None else np.asarray(ticker).astype(str)
    order = np.lexsort((dates, tk)) if tk is not None else np.argsort(dates, kind="stable")
    sorted_dates = dates[order]
    uniq, inverse = np.unique(sorted_dates, return_inverse=True)
    r = np.asarray(next_return, dtype=np.float64)[order]
    pos = np.asarray(long_signal, dtype=np.float64)[order]
    trades = _trades(pos, None if tk is None else tk[order])
    cost = trades * cost_bps / 1e4
    counts = np.bincount(inverse, minlength=uniq.size)

    def portfolio(per_window: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, weights=per_window, minlength=uniq.size) / np.maximum(counts, 1)

    strat = portfolio(r * pos)
    strat_net = portfolio(r * pos - cost)
    hold = portfolio(r)
    ppy = periods_per_year(uniq)
    result = {
        "periods_per_year": ppy,
        "strategy": _curve_stats(strat, ppy),
        "strategy_after_costs": _curve_stats(strat_net, ppy),
        "buy_and_hold": _curve_stats(hold, ppy),
        "cost_bps": float(cost_bps),
        "trades": int(np.count_nonzero(trades)),
        "time_in_market": float(pos.mean()) if pos.size else None,
        "note": "illustration of the test period (equal weight, long/flat), not a forecast",
    }
    curves = {
        "dates": uniq,
        "strategy": np.cumprod(1.0 + strat),
        "strategy_after_costs": np.cumprod(1.0 + strat_net),
        "buy_and_hold": np.cumprod(1.0 + hold),
    }
    return result, curves
