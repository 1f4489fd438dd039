"""Load OHLCV bars from CSV or Parquet and validate them with errors that name file, column and row.

Accepted layouts:
- a directory of files, one per ticker (ticker = file stem);
- one file with a ``ticker`` (or ``symbol``) column;
- one file without such a column (ticker = file stem).

Column names are matched case-insensitively; a first unnamed column holding
dates (what ``DataFrame.to_csv`` writes for a date index) is taken as the date.
Row numbers in errors are 1-based data rows (the header is not counted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from financial_mlops.features import RAW_COLUMNS

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
TICKER_COLUMNS = ("ticker", "symbol")
DATE_COLUMNS = ("date", "datetime", "timestamp", "time")
SYNTHETIC_MARKER = "SYNTHETIC.json"


class DataValidationError(ValueError):
    """Raised for unusable market data; the message says where and how to fix it."""

    def __init__(self, source: str, problem: str, column: str | None = None, row: int | None = None):
        where = [f"file {source}"]
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{', '.join(where)}: {problem}")
        self.source = source
        self.column = column
        self.row = row


@dataclass
class TickerSeries:
    ticker: str
    source: str
    frame: pd.DataFrame  # DatetimeIndex (UTC), columns RAW_COLUMNS, float64
    rows: np.ndarray  # 1-based data row of each bar in its source file, for error messages


@dataclass
class MarketData:
    series: dict[str, TickerSeries]
    source: str
    synthetic: dict | None  # contents of SYNTHETIC.json when the data set is labelled synthetic

    @property
    def tickers(self) -> list[str]:
        return sorted(self.series)

    @property
    def n_bars(self) -> int:
        return sum(len(s.frame) for s in self.series.values())


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        frame = pd.read_parquet(path)
        # A date index saved by to_parquet comes back as the index: make it a column.
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        return frame
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(str(path), f"cannot be read as {path.suffix} ({exc})") from exc


def _normalise_columns(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    names = [str(c).strip().lower() for c in frame.columns]
    first_unnamed = bool(names) and (names[0] == "" or names[0].startswith("unnamed:") or names[0] == "index")
    if first_unnamed:
        if any(n in DATE_COLUMNS for n in names[1:]):
            # a plain row counter written by to_csv next to a real date column
            frame, names = frame.iloc[:, 1:], names[1:]
        else:
            names[0] = "date"
    frame = frame.set_axis(names, axis=1)
    if "date" not in frame.columns:
        for alias in DATE_COLUMNS[1:]:
            if alias in frame.columns:
                frame = frame.rename(columns={alias: "date"})
                break
    dupes = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dupes:
        raise DataValidationError(source, f"duplicate columns after case-folding: {dupes}")
    required = ("date", *RAW_COLUMNS)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataValidationError(
            source,
            f"missing required column(s) {missing}; found {list(frame.columns)}. "
            "Expected date/open/high/low/close/volume (case-insensitive; a first unnamed "
            "column is taken as the date)",
            column=missing[0],
        )
    return frame


def _first_bad(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def validate_frame(frame: pd.DataFrame, source: str, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Validate one ticker's bars (normalised column names) and return the clean frame.

    ``rows`` maps each position to its 1-based row in the file (defaults to 1..n).
    """
    if rows is None:
        rows = np.arange(1, len(frame) + 1)
    if len(frame) == 0:
        raise DataValidationError(source, "has no data rows")

    raw_dates = frame["date"]
    dates = pd.to_datetime(raw_dates, errors="coerce", utc=True, format="mixed")
    bad = _first_bad(dates.isna().to_numpy())
    if bad is not None:
        raise DataValidationError(
            source,
            f"unparsable date {raw_dates.iloc[bad]!r}; use ISO 8601 (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
            column="date",
            row=int(rows[bad]),
        )
    ns = dates.astype("int64").to_numpy()
    diffs = np.diff(ns)
    bad = _first_bad(diffs == 0)
    if bad is not None:
        raise DataValidationError(
            source,
            f"duplicate timestamp {dates.iloc[bad + 1].isoformat()} (also at row {int(rows[bad])}); "
            "keep one bar per timestamp",
            column="date",
            row=int(rows[bad + 1]),
        )
    bad = _first_bad(diffs < 0)
    if bad is not None:
        raise DataValidationError(
            source,
            f"dates are not increasing: {dates.iloc[bad + 1].isoformat()} comes after "
            f"{dates.iloc[bad].isoformat()}; sort the file by date",
            column="date",
            row=int(rows[bad + 1]),
        )

    values: dict[str, np.ndarray] = {}
    for col in RAW_COLUMNS:
        raw = frame[col]
        numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
        not_number = np.isnan(numeric) & raw.notna().to_numpy()
        bad = _first_bad(not_number)
        if bad is not None:
            raise DataValidationError(
                source, f"value {raw.iloc[bad]!r} is not a number", column=col, row=int(rows[bad])
            )
        bad = _first_bad(~np.isfinite(numeric))
        if bad is not None:
            raise DataValidationError(
                source,
                f"value is {numeric[bad]} (NaN or inf); fill or drop the bar",
                column=col,
                row=int(rows[bad]),
            )
        if col == "volume":
            bad = _first_bad(numeric < 0)
            if bad is not None:
                raise DataValidationError(
                    source, f"negative volume {numeric[bad]}", column=col, row=int(rows[bad])
                )
        else:
            bad = _first_bad(numeric <= 0)
            if bad is not None:
                raise DataValidationError(
                    source,
                    f"non-positive price {numeric[bad]}; prices must be > 0",
                    column=col,
                    row=int(rows[bad]),
                )
        values[col] = numeric
    bad = _first_bad(values["high"] < values["low"])
    if bad is not None:
        raise DataValidationError(
            source,
            f"high {values['high'][bad]} is below low {values['low'][bad]}",
            column="high",
            row=int(rows[bad]),
        )
    clean = pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date").as_unit("ns"))
    return clean


def _split_tickers(frame: pd.DataFrame, path: Path) -> list[tuple[str, pd.DataFrame, np.ndarray]]:
    rows = np.arange(1, len(frame) + 1)
    ticker_col = next((c for c in TICKER_COLUMNS if c in frame.columns), None)
    if ticker_col is None:
        return [(path.stem, frame, rows)]
    tickers = frame[ticker_col]
    bad = _first_bad(tickers.isna().to_numpy() | (tickers.astype(str).str.strip() == "").to_numpy())
    if bad is not None:
        raise DataValidationError(str(path), "empty ticker", column=ticker_col, row=int(rows[bad]))
    out = []
    for ticker, idx in frame.groupby(tickers.astype(str).str.strip(), sort=True).indices.items():
        out.append((str(ticker), frame.iloc[idx].reset_index(drop=True), rows[idx]))
    return out


def _read_synthetic_marker(directory: Path) -> dict | None:
    marker = directory / SYNTHETIC_MARKER
    if not marker.is_file():
        return None
    return json.loads(marker.read_text())


def load_market(path: str | Path) -> MarketData:
    """Load and validate every ticker under ``path`` (a file or a directory of files)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise DataValidationError(
                str(path), f"directory holds no data files ({', '.join(SUPPORTED_SUFFIXES)})"
            )
        marker_dir = path
    elif path.is_file():
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise DataValidationError(
                str(path), f"unsupported file type {path.suffix!r}; use {', '.join(SUPPORTED_SUFFIXES)}"
            )
        files = [path]
        marker_dir = path.parent
    else:
        raise DataValidationError(str(path), "does not exist; pass a CSV/Parquet file or a directory of them")

    series: dict[str, TickerSeries] = {}
    for file in files:
        frame = _normalise_columns(_read_table(file), str(file))
        for ticker, part, rows in _split_tickers(frame, file):
            source = str(file) if len(files) == 1 and ticker == file.stem else f"{file} (ticker {ticker})"
            if ticker in series:
                raise DataValidationError(
                    source, f"ticker {ticker!r} also comes from {series[ticker].source}; keep one source each"
                )
            clean = validate_frame(part, source, rows)
            series[ticker] = TickerSeries(ticker=ticker, source=source, frame=clean, rows=rows)
    return MarketData(series=series, source=str(path), synthetic=_read_synthetic_marker(marker_dir))


def require_rows(market: MarketData, min_rows: int, reason: str) -> None:
    """Fail naming the first ticker whose file has fewer than ``min_rows`` bars."""
    for ticker in market.tickers:
        s = market.series[ticker]
        if len(s.frame) < min_rows:
            raise DataValidationError(
                s.source,
                f"only {len(s.frame)} rows, need at least {min_rows} ({reason}); "
                "provide a longer history or a smaller --window",
            )
