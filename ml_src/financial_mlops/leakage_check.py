"""The leakage check: the trained pipeline must be a coin flip on a pure random walk.

On a random walk nothing in the past predicts the next bar, so any accuracy
clearly away from 50% means the feature code sees the future (the old
application's "90% accuracy" came from a next-day return in its features).
The check runs the SAME feature code and scaler as training on fresh
synthetic data (``synth --signal none``) with a seed unrelated to training.

The report key ``sanity.random_walk`` and the MLflow tag ``sanity_random_walk_passed``
keep their historical names: registered versions carry them, and the gate reads them
from every champion ever registered.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from financial_mlops.data import MarketData, TickerSeries
from financial_mlops.dataset import all_windows
from financial_mlops.metrics import classification_metrics
from financial_mlops.spec import FeatureSpec
from financial_mlops.synth import generate_market

# ~7,400 windows: the standard error of accuracy is ~0.006, so the band is
# about +-8 standard errors wide -- an honest model essentially never fails it,
# while a feature that includes the next bar's return lands far outside.
CHANCE_BAND = (0.45, 0.55)
RANDOM_WALK_TICKERS = 4
RANDOM_WALK_BARS = 2000
RANDOM_WALK_SEED_OFFSET = 104_729


def random_walk_market(
    seed: int, n_tickers: int = RANDOM_WALK_TICKERS, n_bars: int = RANDOM_WALK_BARS
) -> MarketData:
    frames = generate_market(n_tickers=n_tickers, n_bars=n_bars, seed=seed, signal="none")
    series = {
        t: TickerSeries(
            ticker=t, source=f"<synthetic random walk {t}>", frame=f, rows=np.arange(1, len(f) + 1)
        )
        for t, f in frames.items()
    }
    return MarketData(series=series, source="<synthetic random walk>", synthetic={"signal": "none"})


def random_walk_check(
    predict_scaled: Callable[[np.ndarray], np.ndarray], spec: FeatureSpec, seed: int
) -> dict:
    """``predict_scaled`` maps SCALED windows [B, T, F] to P(up)."""
    windows = all_windows(random_walk_market(seed + RANDOM_WALK_SEED_OFFSET), spec)
    proba = predict_scaled(windows.X)
    m = classification_metrics(windows.y, proba)
    lo, hi = CHANCE_BAND
    return {
        "accuracy": m["accuracy"],
        "roc_auc": m["roc_auc"],
        "up_share": m["up_share"],
        "n": m["n"],
        "band": [lo, hi],
        "passed": bool(lo <= m["accuracy"] <= hi),
    }
