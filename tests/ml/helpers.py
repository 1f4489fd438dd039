"""Small builders shared by the ML tests (kept out of conftest so imports stay explicit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from financial_mlops.data import MarketData, TickerSeries
from financial_mlops.synth import generate_market


def ohlcv_frame(n: int = 300, seed: int = 0, start: str = "2020-01-01", freq: str = "D") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(0.01 * rng.standard_normal(n)))
    open_ = close * np.exp(0.002 * rng.standard_normal(n))
    high = np.maximum(open_, close) * 1.003
    low = np.minimum(open_, close) * 0.997
    volume = rng.integers(1_000, 5_000, n).astype(float)
    index = pd.date_range(start, periods=n, freq=freq, name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path)
    return path


def market_from_frames(frames: dict[str, pd.DataFrame]) -> MarketData:
    return MarketData(
        series={
            t: TickerSeries(ticker=t, source=f"<memory {t}>", frame=f, rows=np.arange(1, len(f) + 1))
            for t, f in frames.items()
        },
        source="<memory>",
        synthetic=None,
    )


def synthetic_market(n_tickers: int, n_bars: int, seed: int, signal: str) -> MarketData:
    return market_from_frames(generate_market(n_tickers=n_tickers, n_bars=n_bars, seed=seed, signal=signal))
