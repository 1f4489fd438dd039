"""Per-ticker features computed from past and current bars only.

Every feature is a finite-window function of the bars up to and including
row ``t``: rolling statistics use full windows, and the MACD exponential
averages are finite-impulse-response filters (truncated, renormalised EMA
weights). That is what lets serving recompute *identical* inputs from the
last ``WARMUP_BARS + window`` raw bars, whatever came before them, and what
the causality test checks (changing bar ``t+k`` never changes row ``t``).
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


def _fir_ema(values: np.ndarray, span: int) -> np.ndarray:
    """EMA with weights truncated to ``3 * span`` bars and renormalised.

    NaN for the first ``length - 1`` rows and wherever the window holds a NaN.
    """
    length = _fir_ema_length(span)
    alpha = 2.0 / (span + 1.0)
    weights = alpha * (1.0 - alpha) ** np.arange(length)
    weights /= weights.sum()
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] < length:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(values, length)
    # windows[i] holds values[i : i + length]; the newest bar gets weights[0].
    out[length - 1 :] = windows[:, ::-1] @ weights
    return out


def _rsi(close: pd.Series, period: int = 14) -> pd.Series:
    """Cutler's RSI (simple moving averages of gains and losses), 0..100."""
    delta = close.diff()
    gain = delta.clip(lower=0.0).rolling(period, min_periods=period).mean()
    loss = (-delta.clip(upper=0.0)).rolling(period, min_periods=period).mean()
    total = gain + loss
    # A flat stretch (no gains, no losses) is neutral, not undefined.
    rsi = 100.0 * gain / total.where(total > 0)
    return rsi.where(total > 0, 50.0).where(gain.notna())


def compute_features(ohlcv: pd.DataFrame) -> pd.DataFrame:
    """Feature frame for ONE ticker in chronological order.

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
    frame = ohlcv.loc[:, list(RAW_COLUMNS)].astype("float64")
    close, high, low, open_, volume = (frame[c] for c in ("close", "high", "low", "open", "volume"))
    log_close = np.log(close)
    log_ret = log_close.diff()

    feats = pd.DataFrame(index=frame.index)
    feats["ret_1"] = close / close.shift(1) - 1.0
    feats["log_ret_1"] = log_ret
    feats["log_ret_5"] = log_close - log_close.shift(5)
    feats["log_ret_20"] = log_close - log_close.shift(20)
    feats["volatility_10"] = log_ret.rolling(10, min_periods=10).std()
    feats["volatility_20"] = log_ret.rolling(20, min_periods=20).std()
    feats["rsi_14"] = _rsi(close, 14)

    close_np = close.to_numpy()
    macd = (_fir_ema(close_np, _MACD_FAST) - _fir_ema(close_np, _MACD_SLOW)) / close_np
    macd_signal = _fir_ema(macd, _MACD_SIGNAL)
    feats["macd"] = macd
    feats["macd_signal"] = macd_signal
    feats["macd_hist"] = macd - macd_signal

    mean20 = close.rolling(20, min_periods=20).mean()
    std20 = close.rolling(20, min_periods=20).std()
    band = 4.0 * std20
    feats["bollinger_pct_b"] = (
        ((close - (mean20 - 2.0 * std20)) / band.where(band > 0)).where(band > 0, 0.5).where(std20.notna())
    )

    log_vol = np.log1p(volume)
    vol_mean = log_vol.rolling(20, min_periods=20).mean()
    vol_std = log_vol.rolling(20, min_periods=20).std()
    feats["volume_zscore_20"] = (
        ((log_vol - vol_mean) / vol_std.where(vol_std > 0)).where(vol_std > 0, 0.0).where(vol_std.notna())
    )

    feats["range_hl"] = (high - low) / close
    feats["body_oc"] = np.log(close / open_)

    feats = feats.loc[:, list(FEATURE_NAMES)]
    # Rows before the slowest feature is complete are NaN as a whole, so the
    # contract "first complete row is WARMUP_BARS" holds for every column.
    feats.iloc[:WARMUP_BARS] = np.nan
    return feats
