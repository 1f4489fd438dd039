"""Chronological split with gaps, train-only scaler, single-ticker windows, next-bar target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from financial_mlops.dataset import SplitConfig, prepare
from financial_mlops.features import WARMUP_BARS, compute_features

from .helpers import market_from_frames, ohlcv_frame

WINDOW = 12


@pytest.fixture(scope="module")
def prepared():
    # B starts later and ends later than A, C is a different price level entirely
    frames = {
        "A": ohlcv_frame(700, seed=1, start="2020-01-01"),
        "B": ohlcv_frame(650, seed=2, start="2020-03-01"),
        "C": ohlcv_frame(700, seed=3, start="2020-01-01") * [1000, 1000, 1000, 1000, 1],
    }
    return frames, prepare(market_from_frames(frames), SplitConfig(window=WINDOW))


def test_splits_are_chronological_and_separated_by_at_least_the_window(prepared):
    _, data = prepared
    for ts in data.tickers:
        train, val, test = (ts.ends[s] for s in ("train", "val", "test"))
        assert train.size and val.size and test.size
        assert val.min() - train.max() > WINDOW, ts.ticker
        assert test.min() - val.max() > WINDOW, ts.ticker
        # no window of a later split contains a bar of an earlier split's windows or targets
        assert val.min() - WINDOW + 1 > train.max() + 1
        assert test.min() - WINDOW + 1 > val.max() + 1
    t1, t2 = data.cut_times
    assert data.splits["train"].dates.max() <= np.datetime64(t1.tz_localize(None))
    assert data.splits["val"].dates.min() > np.datetime64(t1.tz_localize(None))
    assert data.splits["test"].dates.min() > np.datetime64(t2.tz_localize(None))


def test_gap_smaller_than_window_is_rejected():
    with pytest.raises(ValueError, match="at least the window"):
        SplitConfig(window=20, gap=10)


def test_every_window_is_one_tickers_own_rows(prepared):
    frames, data = prepared
    mean, scale = np.asarray(data.spec.scaler_mean), np.asarray(data.spec.scaler_scale)
    for split in ("train", "val", "test"):
        arr = data.splits[split]
        for ticker, frame in frames.items():
            own = (compute_features(frame).to_numpy() - mean) / scale
            rows = np.flatnonzero(arr.ticker == ticker)
            for i in rows[:: max(len(rows) // 25, 1)]:
                end = arr.end_index[i]
                np.testing.assert_allclose(arr.X[i], own[end - WINDOW + 1 : end + 1], rtol=1e-5, atol=1e-5)
                assert end - WINDOW + 1 >= WARMUP_BARS


def test_target_is_next_bar_direction(prepared):
    frames, data = prepared
    arr = data.splits["test"]
    for ticker, frame in frames.items():
        close = frame["close"].to_numpy()
        sel = arr.ticker == ticker
        ends = arr.end_index[sel]
        np.testing.assert_array_equal(arr.y[sel], (close[ends + 1] > close[ends]).astype(np.float32))
        np.testing.assert_allclose(arr.next_return[sel], close[ends + 1] / close[ends] - 1.0)


def test_scaler_is_fitted_on_training_rows_only(prepared):
    frames, data = prepared
    # blow up every bar after the training period: the scaler must not move
    t1 = data.cut_times[0].tz_localize(None)
    wrecked = {}
    for ticker, frame in frames.items():
        f = frame.copy()
        after = f.index > t1 + pd.Timedelta(days=2)
        f.loc[after, ["open", "high", "low", "close"]] *= np.linspace(1, 50, after.sum())[:, None]
        f.loc[after, "volume"] *= 100
        wrecked[ticker] = f
    again = prepare(market_from_frames(wrecked), SplitConfig(window=WINDOW))
    np.testing.assert_allclose(again.spec.scaler_mean, data.spec.scaler_mean)
    np.testing.assert_allclose(again.spec.scaler_scale, data.spec.scaler_scale)
    train = data.splits["train"]
    assert np.abs(train.X.reshape(-1, train.X.shape[-1]).mean(axis=0)).max() < 0.2
