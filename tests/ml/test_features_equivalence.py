"""The NumPy features equal the original pandas definition on random and adversarial bar series.

``reference_features`` below is the pandas implementation the project
trained with before features became array code: it stays here, frozen, as the
oracle. If the array code ever drifts from it (a changed warm-up, a window
off by one, a flat-stretch rule), training and serving would drift with it;
this test fails first.

The generators build bars the validator accepts (positive prices, high >=
max(open, close), low <= min(open, close), non-negative volume) with flat
stretches, gaps (x10 / /10 jumps), tiny and huge volumes. Log prices move on
a grid of 1e-3 steps: two closes in a window are then either identical or
differ by at least 0.1%. Windows whose values differ by a few ulps only
(neither flat nor not) make ANY two implementations of a standard deviation
disagree beyond 1e-9 after a division by it, old vs old across pandas
versions included; they are not a property of the feature definition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from financial_mlops.features import (
    FEATURE_NAMES,
    RAW_COLUMNS,
    WARMUP_BARS,
    bar_features,
    compute_features,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TOLERANCE = 1e-9

# --------------------------------------------------------------------------
# the oracle: the pandas implementation as it was (do not "improve" it)
# --------------------------------------------------------------------------


def _ref_fir_ema(values: np.ndarray, span: int) -> np.ndarray:
    length = 3 * span
    alpha = 2.0 / (span + 1.0)
    weights = alpha * (1.0 - alpha) ** np.arange(length)
    weights /= weights.sum()
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] < length:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(values, length)
    out[length - 1 :] = windows[:, ::-1] @ weights
    return out


def _pandas_rolling(series: pd.Series, length: int, stat: str) -> pd.Series:
    return getattr(series.rolling(length, min_periods=length), stat)()


def _exact_rolling(series: pd.Series, length: int, stat: str) -> pd.Series:
    """The same statistic, two-pass in extended precision, shifted by each window's first value.

    pandas' rolling mean/std keep running sums (values added as they enter
    the window, subtracted as they leave), so a window's result carries
    rounding residue from values long gone: after a x1000 gap the std of a
    later window can be off by 1e-3 relative, and a flat window gets a std
    of ~1e-7 x price instead of 0. This is the definition without that
    residue; identical values give exactly 0.
    """
    values = series.to_numpy(dtype=np.longdouble)
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= length:
        win = np.lib.stride_tricks.sliding_window_view(values, length)
        shifted = win - win[:, :1]
        mean = shifted.sum(axis=1) / length
        if stat == "mean":
            result = win[:, 0] + mean
        else:
            dev = shifted - mean[:, None]
            result = np.sqrt((dev * dev).sum(axis=1) / (length - 1))
        out[length - 1 :] = result.astype(np.float64)
    return pd.Series(out, index=series.index)


def _ref_rsi(close: pd.Series, period: int = 14, rolling=_pandas_rolling) -> pd.Series:
    delta = close.diff()
    gain = rolling(delta.clip(lower=0.0), period, "mean")
    loss = rolling(-delta.clip(upper=0.0), period, "mean")
    total = gain + loss
    rsi = 100.0 * gain / total.where(total > 0)
    return rsi.where(total > 0, 50.0).where(gain.notna())


def reference_features(ohlcv: pd.DataFrame, exact_rolling: bool = False) -> pd.DataFrame:
    """The original implementation; ``exact_rolling`` swaps pandas' rolling statistics for exact ones."""
    rolling = _exact_rolling if exact_rolling else _pandas_rolling
    frame = ohlcv.loc[:, list(RAW_COLUMNS)].astype("float64")
    close, high, low, open_, volume = (frame[c] for c in ("close", "high", "low", "open", "volume"))
    log_close = np.log(close)
    log_ret = log_close.diff()
    feats = pd.DataFrame(index=frame.index)
    feats["ret_1"] = close / close.shift(1) - 1.0
    feats["log_ret_1"] = log_ret
    feats["log_ret_5"] = log_close - log_close.shift(5)
    feats["log_ret_20"] = log_close - log_close.shift(20)
    feats["volatility_10"] = rolling(log_ret, 10, "std")
    feats["volatility_20"] = rolling(log_ret, 20, "std")
    feats["rsi_14"] = _ref_rsi(close, 14, rolling)
    close_np = close.to_numpy()
    macd = (_ref_fir_ema(close_np, 12) - _ref_fir_ema(close_np, 26)) / close_np
    macd_signal = _ref_fir_ema(macd, 9)
    feats["macd"] = macd
    feats["macd_signal"] = macd_signal
    feats["macd_hist"] = macd - macd_signal
    mean20 = rolling(close, 20, "mean")
    std20 = rolling(close, 20, "std")
    band = 4.0 * std20
    feats["bollinger_pct_b"] = (
        ((close - (mean20 - 2.0 * std20)) / band.where(band > 0)).where(band > 0, 0.5).where(std20.notna())
    )
    log_vol = np.log1p(volume)
    vol_mean = rolling(log_vol, 20, "mean")
    vol_std = rolling(log_vol, 20, "std")
    feats["volume_zscore_20"] = (
        ((log_vol - vol_mean) / vol_std.where(vol_std > 0)).where(vol_std > 0, 0.0).where(vol_std.notna())
    )
    feats["range_hl"] = (high - low) / close
    feats["body_oc"] = np.log(close / open_)
    feats = feats.loc[:, list(FEATURE_NAMES)]
    feats.iloc[:103] = np.nan
    return feats


# --------------------------------------------------------------------------
# bar series generators
# --------------------------------------------------------------------------

_GRID = 1e-3  # log-price step
_GAP = round(np.log(10.0) / _GRID)  # a x10 jump, on the grid


@st.composite
def bar_series(
    draw: st.DrawFn, min_bars: int = WARMUP_BARS, max_bars: int = 400, gaps: bool = False
) -> pd.DataFrame:
    n = draw(st.integers(min_bars, max_bars))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # per-bar move in grid steps: ordinary, flat stretches, all flat, a trend; or gaps
    regime = "gaps" if gaps else draw(st.sampled_from(["random", "flat_runs", "all_flat", "trend"]))
    steps = rng.integers(-30, 31, n)
    if regime in ("flat_runs", "gaps"):
        flat = rng.random(n) < draw(st.floats(0.2, 0.95))
        steps[flat] = 0
    if regime == "gaps":
        jumps = rng.random(n) < 0.03
        steps[jumps] = rng.choice([-_GAP, _GAP], jumps.sum())
    if regime == "all_flat":
        steps[:] = 0
    if regime == "trend":
        steps = np.full(n, draw(st.sampled_from([-5, 1, 7])))
    start = draw(st.sampled_from([1e-3, 0.5, 37.0, 4_000.0, 2e5]))
    log_close = np.log(start) + np.cumsum(steps) * _GRID
    close = np.exp(log_close)
    body = rng.integers(-10, 11, n) * _GRID
    if regime == "all_flat":
        body[:] = 0
    open_ = np.exp(log_close + body)
    high = np.maximum(open_, close) * np.exp(rng.integers(0, 5, n) * _GRID)
    low = np.minimum(open_, close) * np.exp(-rng.integers(0, 5, n) * _GRID)
    volume_kind = draw(st.sampled_from(["ordinary", "tiny", "huge", "mixed", "zero_runs", "constant"]))
    magnitude = {"ordinary": (3, 6), "tiny": (-6, -1), "huge": (10, 14), "mixed": (-6, 14)}
    if volume_kind == "constant":
        volume = np.full(n, draw(st.sampled_from([0.0, 1e-6, 1_000.0, 1e13])))
    else:
        lo, hi = magnitude.get(volume_kind, (2, 5))
        # volumes on a grid too: equal or at least 1/9 apart
        volume = 10.0 ** rng.integers(lo, hi + 1, n) * (1.0 + rng.integers(0, 8, n) / 8.0)
        if volume_kind == "zero_runs":
            volume[rng.random(n) < 0.5] = 0.0
    index = pd.date_range("2021-01-01", periods=n, freq="h", name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def _error(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """|new - old|, relative above 1 and absolute below (0 where both are NaN)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(np.abs(new - old) / np.maximum(1.0, np.abs(old)), nan=0.0)


def assert_same(new: np.ndarray, old: np.ndarray, where: np.ndarray | None = None) -> None:
    """Same NaN cells, and every other cell (of ``where``, default all) equal to TOLERANCE."""
    assert new.shape == old.shape
    np.testing.assert_array_equal(np.isnan(new), np.isnan(old), err_msg="NaN positions differ")
    err = _error(new, old) if where is None else np.where(where, _error(new, old), 0.0)
    if err.max(initial=0.0) > TOLERANCE:
        row, col = np.unravel_index(int(err.argmax()), err.shape)
        raise AssertionError(
            f"feature {FEATURE_NAMES[col]} row {row}: {new[row, col]!r} vs {old[row, col]!r} "
            f"(differs by {err[row, col]:.3g} > {TOLERANCE})"
        )


# --------------------------------------------------------------------------
# the properties
# --------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bar_series())
def test_array_features_equal_the_pandas_definition(bars: pd.DataFrame) -> None:
    """Random walks, trends, flat stretches, tiny / huge / zero / constant volumes: equal to 1e-9."""
    old = reference_features(bars).to_numpy()
    exact = reference_features(bars, exact_rolling=True).to_numpy()
    new = compute_features(bars).to_numpy()
    assert_same(bar_features(bars.loc[:, list(RAW_COLUMNS)].to_numpy()), new)
    assert_same(new, exact)
    # pandas' own residue (see _exact_rolling) puts a flat window's %B at
    # 0.5 +- 1e-8 instead of 0.5: compare where pandas is exact to 1e-10
    assert_same(new, old, where=_error(old, exact) <= 1e-10)
    flat_windows = _error(old, exact) > 1e-10
    assert not flat_windows[:, [i for i, n in enumerate(FEATURE_NAMES) if n != "bollinger_pct_b"]].any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bar_series(gaps=True))
def test_gapped_series_equal_the_definition_where_pandas_is_exact(bars: pd.DataFrame) -> None:
    """x10 gaps: pandas' running sums drift (its std can be off by 1e-3 after prices fell 1000x);
    the array code equals the definition itself everywhere, and pandas wherever pandas is exact."""
    old = reference_features(bars).to_numpy()
    exact = reference_features(bars, exact_rolling=True).to_numpy()
    new = compute_features(bars).to_numpy()
    assert_same(new, exact)
    assert_same(new, old, where=_error(old, exact) <= 1e-10)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bar_series(min_bars=WARMUP_BARS + 30, max_bars=WARMUP_BARS + 30), min_size=1, max_size=6))
def test_a_batch_of_series_equals_each_series_alone(series: list[pd.DataFrame]) -> None:
    """What the server does with a [batch, bars, 5] request: one call for the whole batch."""
    stacked = np.stack([s.loc[:, list(RAW_COLUMNS)].to_numpy() for s in series])  # [B, bars, 5]
    batch = bar_features(stacked)
    for b, s in enumerate(series):
        assert_same(batch[b], reference_features(s, exact_rolling=True).to_numpy())
        np.testing.assert_array_equal(batch[b], compute_features(s).to_numpy())


@pytest.mark.parametrize("n", [0, 1, 20, WARMUP_BARS, WARMUP_BARS + 1])
def test_short_series_are_all_warmup(n: int) -> None:
    bars = pd.DataFrame(
        {c: np.linspace(10.0, 11.0, n) for c in RAW_COLUMNS}, index=pd.RangeIndex(n), dtype=float
    )
    new = compute_features(bars).to_numpy()
    assert_same(new, reference_features(bars).to_numpy())
    assert np.isnan(new[:WARMUP_BARS]).all()
    assert np.isfinite(new[WARMUP_BARS:]).all()
