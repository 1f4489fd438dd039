"""The features step's folder: train --features sees exactly the windows `prepare` made, or refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from financial_mlops.dataset import SPLITS, SplitConfig, prepare
from financial_mlops.feature_files import (
    ARRAYS_FILE,
    FeatureFilesError,
    data_section,
    load_features,
    save_features,
)

from .helpers import market_from_frames, ohlcv_frame

CONFIG = SplitConfig(window=10)


@pytest.fixture
def prepared_market():
    market = market_from_frames({"AAA": ohlcv_frame(400, seed=1), "BBB": ohlcv_frame(380, seed=2)})
    return market, prepare(market, CONFIG)


def test_round_trip_keeps_every_array_spec_and_split(prepared_market, tmp_path: Path) -> None:
    market, prepared = prepared_market
    manifest = save_features(prepared, data_section(market, prepared), tmp_path)
    loaded, data = load_features(tmp_path)
    assert data == json.loads(json.dumps(data_section(market, prepared)))
    assert manifest["data"]["split_sizes"] == {s: prepared.splits[s].n for s in SPLITS}
    assert loaded.spec == prepared.spec and loaded.config == prepared.config
    assert loaded.cut_times == prepared.cut_times
    for split in SPLITS:
        a, b = prepared.splits[split], loaded.splits[split]
        for name in ("X", "y", "X_raw_last", "next_return", "end_index", "dates"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=f"{split}.{name}")
        assert list(a.ticker) == list(b.ticker)


def test_a_changed_array_file_is_refused(prepared_market, tmp_path: Path) -> None:
    market, prepared = prepared_market
    save_features(prepared, data_section(market, prepared), tmp_path)
    with (tmp_path / ARRAYS_FILE).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(FeatureFilesError, match=r"sha256 mismatch.*rerun the features step"):
        load_features(tmp_path)


def test_a_folder_without_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(FeatureFilesError, match=r"no FEATURES.json; pass the folder written by"):
        load_features(tmp_path)
