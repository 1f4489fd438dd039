"""Features use only past and current bars, and serving can recompute them from a short history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from financial_mlops.features import FEATURE_NAMES, WARMUP_BARS, compute_features

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
