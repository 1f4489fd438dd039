"""Loading and validation: accepted layouts, and one clear error per broken-input case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from financial_mlops.data import DataValidationError, load_market, require_rows

from .helpers import ohlcv_frame, write_csv


def _csv_with(tmp_path, mutate, name="ACME.csv"):
    frame = ohlcv_frame(50).reset_index()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame = frame.astype(object)
    mutate(frame)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _error(path) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        load_market(path)
    return info.value


def test_directory_of_per_ticker_files_uses_file_stem_as_ticker(tmp_path):
    write_csv(ohlcv_frame(40, seed=1), tmp_path / "AAA.csv")
    ohlcv_frame(40, seed=2).to_parquet(tmp_path / "BBB.parquet")
    market = load_market(tmp_path)
    assert market.tickers == ["AAA", "BBB"]
    assert list(market.series["BBB"].frame.columns) == ["open", "high", "low", "close", "volume"]
    assert market.synthetic is None


def test_single_file_with_ticker_column_and_mixed_case_unnamed_date(tmp_path):
    a, b = ohlcv_frame(30, seed=1), ohlcv_frame(30, seed=2)
    both = pd.concat([a.assign(Ticker="AAA"), b.assign(Ticker="BBB")])
    both.columns = [c.upper() if c != "Ticker" else c for c in both.columns]
    both.index.name = None  # to_csv writes an unnamed first column holding the dates
    path = tmp_path / "all.csv"
    both.to_csv(path)
    market = load_market(path)
    assert market.tickers == ["AAA", "BBB"]
    np.testing.assert_allclose(market.series["BBB"].frame["close"].to_numpy(), b["close"].to_numpy())


def test_row_counter_column_next_to_a_date_column_is_ignored(tmp_path):
    frame = ohlcv_frame(30).reset_index()
    frame.to_csv(tmp_path / "IDX.csv")  # writes an unnamed 0..n-1 column before "date"
    market = load_market(tmp_path / "IDX.csv")
    assert market.series["IDX"].frame.index[0] == pd.Timestamp("2020-01-01", tz="UTC")


def test_intraday_bars_are_accepted(tmp_path):
    path = write_csv(ohlcv_frame(60, freq="5min"), tmp_path / "FX.csv")
    frame = load_market(path).series["FX"].frame
    assert (frame.index[1] - frame.index[0]) == pd.Timedelta(minutes=5)


def test_missing_column_names_the_column(tmp_path):
    path = _csv_with(tmp_path, lambda f: f.pop("volume"))
    err = _error(path)
    assert err.column == "volume" and "missing required column" in str(err) and "ACME.csv" in str(err)


def test_unparsable_date_names_row_and_value(tmp_path):
    path = _csv_with(tmp_path, lambda f: f.__setitem__("date", f["date"].where(f.index != 7, "not-a-date")))
    err = _error(path)
    assert (err.column, err.row) == ("date", 8) and "not-a-date" in str(err)


def test_non_increasing_dates(tmp_path):
    def swap(f):
        f.loc[10, "date"], f.loc[11, "date"] = f.loc[11, "date"], f.loc[10, "date"]

    err = _error(_csv_with(tmp_path, swap))
    assert (err.column, err.row) == ("date", 12) and "not increasing" in str(err)


def test_duplicate_timestamp(tmp_path):
    err = _error(
        _csv_with(
            tmp_path, lambda f: f.__setitem__("date", f["date"].where(f.index != 20, f.loc[19, "date"]))
        )
    )
    assert (err.column, err.row) == ("date", 21) and "duplicate timestamp" in str(err)


def test_nan_value(tmp_path):
    err = _error(
        _csv_with(tmp_path, lambda f: f.__setitem__("close", f["close"].where(f.index != 5, np.nan)))
    )
    assert (err.column, err.row) == ("close", 6) and "NaN or inf" in str(err)


def test_inf_value(tmp_path):
    err = _error(
        _csv_with(tmp_path, lambda f: f.__setitem__("volume", f["volume"].where(f.index != 3, np.inf)))
    )
    assert (err.column, err.row) == ("volume", 4) and "inf" in str(err)


def test_non_numeric_value(tmp_path):
    err = _error(_csv_with(tmp_path, lambda f: f.__setitem__("open", f["open"].where(f.index != 9, "abc"))))
    assert (err.column, err.row) == ("open", 10) and "not a number" in str(err)


def test_non_positive_price(tmp_path):
    err = _error(_csv_with(tmp_path, lambda f: f.__setitem__("low", f["low"].where(f.index != 30, 0.0))))
    assert (err.column, err.row) == ("low", 31) and "non-positive price" in str(err)


def test_high_below_low(tmp_path):
    def invert(f):
        f.loc[12, "high"], f.loc[12, "low"] = f.loc[12, "low"], f.loc[12, "high"]

    err = _error(_csv_with(tmp_path, invert))
    assert (err.column, err.row) == ("high", 13) and "below low" in str(err)


def test_too_few_rows_for_window_and_splits(tmp_path):
    market = load_market(write_csv(ohlcv_frame(50), tmp_path / "SHORT.csv"))
    with pytest.raises(DataValidationError, match=r"SHORT\.csv.*only 50 rows, need at least 400"):
        require_rows(market, 400, "test")


def test_row_numbers_refer_to_the_source_file_with_ticker_column(tmp_path):
    a, b = ohlcv_frame(10, seed=1), ohlcv_frame(10, seed=2)
    b.iloc[4, b.columns.get_loc("close")] = -1.0
    path = tmp_path / "both.csv"
    pd.concat([a.assign(ticker="A"), b.assign(ticker="B")]).to_csv(path)
    err = _error(path)
    # B's fifth bar is the 15th data row of the file
    assert err.row == 15 and "ticker B" in str(err)
