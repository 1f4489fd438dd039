"""Features use only past and current bars, and serving can recompute them from a short history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from financial_mlops import features
from financial_mlops.features import FEATURE_NAMES, WARMUP_BARS, bar_features, compute_features

from .helpers import ohlcv_frame


def test_warmup_rows_are_nan_then_complete():
    feats = compute_features(ohlcv_frame(400))
    assert list(feats.columns) == list(FEATURE_NAMES)
    assert feats.iloc[:WARMUP_BARS].isna().all().all()
    assert np.isfinite(feats.iloc[WARMUP_BARS:].to_numpy()).all()


@pytest.mark.parametrize("cut", [WARMUP_BARS, WARMUP_BARS + 37, 299])
@pytest.mark.parametrize("column", ["close", "volume", "high", "open"])
def test_changing_a_future_bar_never_changes_past_features(cut, column):
    base = ohlcv_frame(300)
    changed = base.copy()
    # scale every bar after `cut` wildly (keeping high >= low)
    changed.iloc[cut + 1 :, changed.columns.get_loc(column)] *= 3.7
    before = compute_features(base).iloc[: cut + 1]
    after = compute_features(changed).iloc[: cut + 1]
    pd.testing.assert_frame_equal(before, after)


def test_current_bar_does_change_the_current_row():
    base = ohlcv_frame(300)
    changed = base.copy()
    changed.iloc[-1, changed.columns.get_loc("close")] *= 1.05
    assert not np.allclose(compute_features(base).iloc[-1], compute_features(changed).iloc[-1])


def test_short_history_reproduces_full_history_features():
    """What serving does: WARMUP_BARS + window raw bars give the same last window as training."""
    full = ohlcv_frame(500)
    window = 30
    tail = full.iloc[-(WARMUP_BARS + window) :]
    np.testing.assert_allclose(
        compute_features(tail).iloc[-window:].to_numpy(),
        compute_features(full).iloc[-window:].to_numpy(),
        rtol=1e-9,
        atol=1e-12,
    )


def test_missing_raw_column_is_reported():
    with pytest.raises(ValueError, match="missing \\['volume'\\]"):
        compute_features(ohlcv_frame(50).drop(columns=["volume"]))


def test_a_nan_bar_spoils_exactly_the_windows_that_hold_it():
    """The kernel keeps NumPy's NaN semantics: no silent 0 or 50 where a window holds a NaN."""
    bars = ohlcv_frame(300)
    spoiled = bars.copy()
    spoiled.iloc[200, spoiled.columns.get_loc("close")] = np.nan
    before, after = compute_features(bars), compute_features(spoiled)
    pd.testing.assert_frame_equal(before.iloc[:200], after.iloc[:200])
    # every feature but the volume z-score reads the current close, so row 200
    # is NaN in those and only those
    price_features = [f for f in after.columns if f != "volume_zscore_20"]
    assert after.iloc[200][price_features].isna().all()
    assert np.isfinite(after["volume_zscore_20"].iloc[200])
    # 20-bar statistics stay NaN while their window holds bar 200; RSI's 14
    # one-bar changes reach one bar further back
    assert after["bollinger_pct_b"].iloc[200:220].isna().all() and np.isfinite(
        after["bollinger_pct_b"].iloc[220]
    )
    assert after["rsi_14"].iloc[200:215].isna().all() and np.isfinite(after["rsi_14"].iloc[215])


def test_zero_prices_and_volumes_give_ieee_values_not_exceptions():
    """Division by zero is inf/NaN as in NumPy (error_model="numpy"), never ZeroDivisionError."""
    bars = ohlcv_frame(200)
    bars.iloc[150, bars.columns.get_loc("close")] = 0.0
    bars["volume"] = 0.0
    feats = compute_features(bars)
    assert not np.isfinite(feats["range_hl"].iloc[150])
    assert (feats["volume_zscore_20"].iloc[WARMUP_BARS:] == 0.0).all()  # a flat (zero) volume window


def test_a_wrong_bars_shape_is_named():
    with pytest.raises(ValueError, match=r"\[\.\.\., bars, 5\].*got shape \[10, 4\]"):
        bar_features(np.ones((10, 4)))


def test_kernel_compiles_uncached_where_numba_has_nowhere_to_cache(monkeypatch):
    """A read-only image with an unwritable HOME: numba refuses cache=True; features still work."""
    real_njit = features.numba.njit
    calls = []

    def njit(fn, **kwargs):
        calls.append(kwargs["cache"])
        if kwargs["cache"]:
            raise RuntimeError(f"cannot cache function {fn.__name__!r}: no locator available for file 'x'")
        return real_njit(fn, **kwargs)

    monkeypatch.setattr(features.numba, "njit", njit)

    def twice(x):
        return 2.0 * x

    assert features._jit(twice)(1.5) == 3.0
    assert calls == [True, False]
