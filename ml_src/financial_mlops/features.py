"""Per-ticker features computed from past and current bars only.

Every feature is a finite-window function of the bars up to and including
row ``t``: rolling statistics use full windows, and the MACD exponential
averages are finite-impulse-response filters (truncated, renormalised EMA
weights). That is what lets serving recompute *identical* inputs from the
last ``WARMUP_BARS + window`` raw bars, whatever came before them, and what
the causality test checks (changing bar ``t+k`` never changes row ``t``).

One implementation serves training, evaluation, the pipeline's ``features``
step and the server: ``feature_array`` works on plain float64 arrays along
the last axis, so a batch of series ``[B, bars]`` (the server's raw-bar
requests) is computed in one pass with no Python loop over series or bars.
``compute_features`` is the DataFrame wrapper training code calls.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RAW_COLUMNS = ("open", "high", "low", "close", "volume")

FEATURE_NAMES: tuple[str, ...] = (
    "ret_1",
    "log_ret_1",
    "log_ret_5",
    "log_ret_20",
    "volatility_10",
    "volatility_20",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bollinger_pct_b",
    "volume_zscore_20",
    "range_hl",
    "body_oc",
)

# Truncation length of each FIR-EMA: three spans keeps >99% of the weight of
# the infinite EMA while staying a fixed, reproducible lookback.
_EMA_SPAN_LENGTH_FACTOR = 3
_MACD_FAST, _MACD_SLOW, _MACD_SIGNAL = 12, 26, 9


def _fir_ema_length(span: int) -> int:
    return _EMA_SPAN_LENGTH_FACTOR * span


# The slowest chain is the MACD signal line: an EMA over MACD values, each of
# which needs a full slow EMA window of closes.
WARMUP_BARS: int = _fir_ema_length(_MACD_SLOW) - 1 + _fir_ema_length(_MACD_SIGNAL) - 1


def _fir_weights(span: int) -> np.ndarray:
    """Renormalised EMA weights, oldest bar first (so a window dot weights is the average)."""
    length = _fir_ema_length(span)
    alpha = 2.0 / (span + 1.0)
    weights = alpha * (1.0 - alpha) ** np.arange(length)
    weights /= weights.sum()
    return np.ascontiguousarray(weights[::-1])


_WEIGHTS = {span: _fir_weights(span) for span in (_MACD_FAST, _MACD_SLOW, _MACD_SIGNAL)}


def _windows(values: np.ndarray, length: int) -> np.ndarray:
    """Read-only view [..., n - length + 1, length]: row i holds values[..., i : i + length].

    What ``sliding_window_view(values, length, axis=-1)`` returns, built
    directly: its argument checks cost about twice the strided view itself,
    and a raw-bar request makes six of them.
    """
    step = values.strides[-1]
    return np.lib.stride_tricks.as_strided(
        values,
        shape=(*values.shape[:-1], values.shape[-1] - length + 1, length),
        strides=(*values.strides, step),
        writeable=False,
    )


def _window_sums(values: np.ndarray, length: int) -> np.ndarray:
    """Sum of each full window, [..., n - length + 1].

    einsum over the strided view: a reduction along the last axis of a
    window view is about 2.5x slower with ``.sum(axis=-1)`` (strided inner
    loop), and this is the hot path of a raw-bar request.
    """
    return np.einsum("...i->...", _windows(values, length))


def _flat_windows(values: np.ndarray, length: int) -> np.ndarray:
    """True where a full window holds one value only, [..., n - length + 1].

    Counted exactly in integers (changes between neighbours, as a cumulative
    count), not as max == min over the window view, which costs two strided
    reductions. A NaN compares unequal to everything, so a window holding one
    is never flat (its statistics stay NaN), as with max == min.
    """
    changed = np.zeros((*values.shape[:-1], values.shape[-1]), dtype=np.int64)
    np.cumsum(values[..., 1:] != values[..., :-1], axis=-1, out=changed[..., 1:])
    return changed[..., length - 1 :] == changed[..., : changed.shape[-1] - length + 1]


def _nan_prefixed(tail: np.ndarray, n: int) -> np.ndarray:
    """[..., n] array ending with ``tail`` (a rolling result), NaN before it."""
    out = np.full((*tail.shape[:-1], n), np.nan)
    if tail.shape[-1]:
        out[..., n - tail.shape[-1] :] = tail
    return out


def _fir_ema(values: np.ndarray, span: int) -> np.ndarray:
    """EMA with weights truncated to ``3 * span`` bars and renormalised.

    NaN for the first ``length - 1`` rows and wherever the window holds a NaN.
    """
    weights = _WEIGHTS[span]
    n = values.shape[-1]
    if n < weights.size:
        return np.full(values.shape, np.nan)
    return _nan_prefixed(_windows(values, weights.size) @ weights, n)


def _lag(values: np.ndarray, k: int) -> np.ndarray:
    """values shifted k bars later along the last axis (NaN for the first k)."""
    out = np.full(values.shape, np.nan)
    out[..., k:] = values[..., : values.shape[-1] - k]
    return out


def _rolling_mean_std(values: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling mean and sample standard deviation (ddof=1) over full windows of the last axis.

    Two-pass (mean, then squared deviations), so it does not drift over long
    series as a running-sum formula would. A window of identical values gets
    a standard deviation of exactly 0 rather than a rounding residue, so the
    ``std > 0`` guards below treat flat stretches as flat. Several series
    stacked on a leading axis cost one pass: the server's per-request cost
    is the number of NumPy calls, not the number of values.
    """
    n = values.shape[-1]
    if n < length:
        nan = np.full(values.shape, np.nan)
        return nan, nan
    win = _windows(values, length)
    mean = _window_sums(values, length) / length
    dev = win - mean[..., None]
    std = np.sqrt(np.einsum("...i,...i->...", dev, dev) / (length - 1))
    std[_flat_windows(values, length)] = 0.0
    return _nan_prefixed(mean, n), _nan_prefixed(std, n)


def _rolling_mean(values: np.ndarray, length: int) -> np.ndarray:
    n = values.shape[-1]
    if n < length:
        return np.full(values.shape, np.nan)
    return _nan_prefixed(_window_sums(values, length) / length, n)


def _guarded_ratio(num: np.ndarray, den: np.ndarray, flat_value: float) -> np.ndarray:
    """num / den where den > 0, ``flat_value`` where den == 0, NaN where den is NaN."""
    ok = den > 0
    out = np.divide(num, den, out=np.full(num.shape, flat_value), where=ok)
    out[np.isnan(den)] = np.nan
    return out


def feature_array(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> np.ndarray:
    """Features ``[..., bars, len(FEATURE_NAMES)]`` (float64) of series given as ``[..., bars]`` arrays.

    Bars run oldest first along the last axis; leading axes are independent
    series (tickers or request windows). Row ``t`` uses bars ``<= t`` only;
    the first ``WARMUP_BARS`` rows are NaN as a whole.
    """
    open_, high, low, close, volume = (
        np.asarray(a, dtype=np.float64) for a in (open_, high, low, close, volume)
    )
    out = np.empty((*close.shape, len(FEATURE_NAMES)))
    col = {name: out[..., i] for i, name in enumerate(FEATURE_NAMES)}
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        log_close = np.log(close)
        log_ret = log_close - _lag(log_close, 1)
        delta = close - _lag(close, 1)
        log_vol = np.log1p(volume)

        col["ret_1"][...] = close / _lag(close, 1) - 1.0
        col["log_ret_1"][...] = log_ret
        col["log_ret_5"][...] = log_close - _lag(log_close, 5)
        col["log_ret_20"][...] = log_close - _lag(log_close, 20)

        # the three 20-bar statistics in one pass: log returns, closes, log volumes
        mean20, std20 = _rolling_mean_std(np.stack([log_ret, close, log_vol]), 20)
        col["volatility_10"][...] = _rolling_mean_std(log_ret, 10)[1]
        col["volatility_20"][...] = std20[0]
        # %B = (close - lower band) / (upper - lower), bands at mean +- 2 std
        lower, width = mean20[1] - 2.0 * std20[1], 4.0 * std20[1]
        col["bollinger_pct_b"][...] = _guarded_ratio(close - lower, width, 0.5)
        col["volume_zscore_20"][...] = _guarded_ratio(log_vol - mean20[2], std20[2], 0.0)

        # Cutler's RSI: simple 14-bar means of gains and losses, 0..100; np.maximum
        # keeps the first bar's NaN, so windows holding it stay NaN
        gain_loss = _rolling_mean(np.stack([np.maximum(delta, 0.0), np.maximum(-delta, 0.0)]), 14)
        gain, total = gain_loss[0], gain_loss[0] + gain_loss[1]
        # a flat stretch (no gains, no losses) is neutral, not undefined
        col["rsi_14"][...] = _guarded_ratio(100.0 * gain, total, 50.0)

        macd = (_fir_ema(close, _MACD_FAST) - _fir_ema(close, _MACD_SLOW)) / close
        macd_signal = _fir_ema(macd, _MACD_SIGNAL)
        col["macd"][...] = macd
        col["macd_signal"][...] = macd_signal
        col["macd_hist"][...] = macd - macd_signal

        col["range_hl"][...] = (high - low) / close
        col["body_oc"][...] = np.log(close / open_)
    # Rows before the slowest feature is complete are NaN as a whole, so the
    # contract "first complete row is WARMUP_BARS" holds for every column.
    out[..., :WARMUP_BARS, :] = np.nan
    return out


def compute_features(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Feature frame for ONE ticker in chronological order (a wrapper of ``feature_array``).

    ``ohlcv`` needs the lowercase ``RAW_COLUMNS``; the result has the same
    index and the columns ``FEATURE_NAMES``, NaN in the first ``WARMUP_BARS``
    rows. Only bars at or before each row are used.
    """
    missing = [c for c in RAW_COLUMNS if c not in ohlcv.columns]
    if missing:
        raise ValueError(
            f"compute_features needs columns {list(RAW_COLUMNS)}; missing {missing}. "
            "Load data with financial_mlops.data.load_market, which normalises column names."
        )
    arrays = [ohlcv[c].to_numpy(dtype=np.float64) for c in RAW_COLUMNS]
    return pd.DataFrame(feature_array(*arrays), index=ohlcv.index, columns=list(FEATURE_NAMES))
