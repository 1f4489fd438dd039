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

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from financial_mlops.features import RAW_COLUMNS

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
TICKER_COLUMNS = ("ticker", "symbol")
DATE_COLUMNS = ("date", "datetime", "timestamp", "time")
SYNTHETIC_MARKER = "SYNTHETIC.json"


# Bad rows listed per file in one error; the rest are counted. Enough to see
# the pattern (one bad column, a shifted block...) without flooding a terminal.
MAX_LISTED_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One bad cell or structural problem of one source."""

    source: str
    message: str
    column: str | None = None
    row: int | None = None
    # >0 for an entry that stands for this many further, unlisted problems
    more: int = 0

    def where(self, with_source: bool = True) -> str:
        parts = [f"file {self.source}"] if with_source else []
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        return ", ".join(parts)


class DataValidationError(ValueError):
    """Raised for unusable market data; the message says where and how to fix it.

    One error carries every problem found (``problems``); ``source``,
    ``column`` and ``row`` are those of the first one.
    """

    def __init__(
        self,
        source: str,
        problem: str = "",
        column: str | None = None,
        row: int | None = None,
        problems: list[Problem] | None = None,
    ):
        self.problems = list(problems) if problems else [Problem(source, problem, column, row)]
        first = self.problems[0]
        super().__init__(_describe(self.problems))
        self.source = first.source
        self.column = first.column
        self.row = first.row


def _describe(problems: list[Problem]) -> str:
    if len(problems) == 1 and not problems[0].more:
        p = problems[0]
        return f"{p.where()}: {p.message}"
    by_source: dict[str, list[Problem]] = {}
    for p in problems:
        by_source.setdefault(p.source, []).append(p)
    total = sum(p.more or 1 for p in problems)
    lines = [f"{total} problems in {len(by_source)} source(s); fix every one and rerun:"]
    for source, found in by_source.items():
        listed = [p for p in found if not p.more]
        unlisted = sum(p.more for p in found) + max(len(listed) - MAX_LISTED_PROBLEMS, 0)
        lines.append(f"file {source}: {len(listed) + sum(p.more for p in found)} problem(s)")
        for p in listed[:MAX_LISTED_PROBLEMS]:
            where = p.where(with_source=False)
            lines.append(f"  {where + ': ' if where else ''}{p.message}")
        if unlisted:
            lines.append(
                f"  ... and {unlisted} more in this file (the first {MAX_LISTED_PROBLEMS} are listed)"
            )
    return "\n".join(lines)


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


_KNOWN_COLUMNS = frozenset((*DATE_COLUMNS, *RAW_COLUMNS, *TICKER_COLUMNS))


def _fold(name: object) -> str:
    return str(name).strip().lower()


def _is_unnamed(folded: str) -> bool:
    return folded == "" or folded.startswith("unnamed:") or folded == "index"


def _wanted(names: list[str]) -> list[int]:
    """Positions of the columns loading can use: known names, and a first unnamed (date) column.

    Everything else is never parsed, so a file with thousands of extra
    columns costs what its six useful ones cost.
    """
    folded = [_fold(n) for n in names]
    return [i for i, f in enumerate(folded) if f in _KNOWN_COLUMNS or (i == 0 and _is_unnamed(f))]


def _csv_header(path: Path) -> list[str] | None:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        return next(csv.reader(fh), None)


def _read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """The usable columns of ``path`` and how many columns the file has in all."""
    try:
        if path.suffix.lower() == ".csv":
            header = _csv_header(path)
            if not header:
                return pd.read_csv(path), 0  # pandas' own message for an empty file
            return pd.read_csv(path, usecols=_wanted(header)), len(header)
        schema = pq.read_schema(path)
        index_columns = {
            c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)
        }
        names = [n for n in schema.names if n not in index_columns]
        frame = pd.read_parquet(path, columns=[names[i] for i in _wanted(names)])
        # A date index saved by to_parquet comes back as the index: make it a column.
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        return frame, len(schema.names)
    except (OSError, ValueError, pd.errors.ParserError, pa.ArrowException) as exc:
        raise DataValidationError(str(path), f"cannot be read as {path.suffix} ({exc})") from exc


def _normalise_columns(frame: pd.DataFrame, source: str, n_columns: int | None = None) -> pd.DataFrame:
    names = [_fold(c) for c in frame.columns]
    first_unnamed = bool(names) and _is_unnamed(names[0])
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
    # pandas renames a repeated header "close" to "close.1": fold that back too
    counts = Counter(re.sub(r"\.\d+$", "", c) if c not in _KNOWN_COLUMNS else c for c in frame.columns)
    dupes = sorted(c for c, k in counts.items() if k > 1 and c in _KNOWN_COLUMNS)
    if dupes:
        raise DataValidationError(source, f"duplicate columns after case-folding: {dupes}")
    required = ("date", *RAW_COLUMNS)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        total = n_columns if n_columns is not None else len(frame.columns)
        raise DataValidationError(
            source,
            f"missing required column(s) {missing}; found {list(frame.columns)} among its {total} "
            "column(s). Expected date/open/high/low/close/volume (case-insensitive; a first unnamed "
            "column is taken as the date)",
            column=missing[0],
        )
    return frame


def _rows_of(mask: np.ndarray, limit: int | None = None) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return idx if limit is None else idx[:limit]


def _parse_dates(raw: pd.Series) -> pd.DatetimeIndex:
    """UTC timestamps, NaT where unparsable.

    ISO 8601 (what to_csv and most exports write) is parsed vectorised; only
    the values it refuses go through pandas' per-value "mixed" parser, which
    alone would dominate validate-data on large files.
    """
    dates = pd.Series(pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601"), index=raw.index)
    retry = (dates.isna() & raw.notna()).to_numpy()
    if retry.any():
        dates[retry] = pd.to_datetime(raw[retry], errors="coerce", utc=True, format="mixed")
    return pd.DatetimeIndex(dates)


def _date_problems(
    frame: pd.DataFrame, source: str, rows: np.ndarray
) -> tuple[pd.DatetimeIndex, list[Problem]]:
    problems: list[Problem] = []
    raw_dates = frame["date"]
    dates = _parse_dates(raw_dates)
    unparsed = dates.isna()
    # Listing stops at the cap, counting does not: slicing first keeps a file
    # of a million bad dates as cheap as one of fifty.
    for i in _rows_of(unparsed, MAX_LISTED_PROBLEMS):
        problems.append(
            Problem(
                source,
                f"unparsable date {raw_dates.iloc[i]!r}; use ISO 8601 (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
                "date",
                int(rows[i]),
            )
        )
    problems.extend(_count_only(source, "date", "unparsable dates", int(unparsed.sum()) - len(problems)))
    # order checks between consecutive PARSED dates only
    valid = np.flatnonzero(~unparsed)
    ns = dates.asi8[valid]
    diffs = np.diff(ns)
    duplicate, backwards = diffs == 0, diffs < 0
    for k in _rows_of(duplicate, MAX_LISTED_PROBLEMS):
        prev, cur = valid[k], valid[k + 1]
        problems.append(
            Problem(
                source,
                f"duplicate timestamp {dates[cur].isoformat()} (also at row {int(rows[prev])}); "
                "keep one bar per timestamp",
                "date",
                int(rows[cur]),
            )
        )
    for k in _rows_of(backwards, MAX_LISTED_PROBLEMS):
        prev, cur = valid[k], valid[k + 1]
        problems.append(
            Problem(
                source,
                f"dates are not increasing: {dates[cur].isoformat()} comes after "
                f"{dates[prev].isoformat()}; sort the file by date",
                "date",
                int(rows[cur]),
            )
        )
    for mask, what in ((duplicate, "duplicate timestamps"), (backwards, "dates out of order")):
        problems.extend(_count_only(source, "date", what, int(mask.sum()) - MAX_LISTED_PROBLEMS))
    return dates, problems


def _count_only(source: str, column: str, what: str, more: int) -> list[Problem]:
    return [Problem(source, f"{more} more {what}", column, more=more)] if more > 0 else []


def _value_problems(frame: pd.DataFrame, source: str, rows: np.ndarray) -> tuple[dict, list[Problem]]:
    problems: list[Problem] = []
    values: dict[str, np.ndarray] = {}
    for col in RAW_COLUMNS:
        raw = frame[col]
        numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
        not_number = np.isnan(numeric) & raw.notna().to_numpy()
        for i in _rows_of(not_number, MAX_LISTED_PROBLEMS):
            problems.append(Problem(source, f"value {raw.iloc[i]!r} is not a number", col, int(rows[i])))
        non_finite = ~np.isfinite(numeric) & ~not_number
        for i in _rows_of(non_finite, MAX_LISTED_PROBLEMS):
            problems.append(
                Problem(
                    source, f"value is {numeric[i]} (NaN or inf); fill or drop the bar", col, int(rows[i])
                )
            )
        with np.errstate(invalid="ignore"):
            if col == "volume":
                negative = numeric < 0
                for i in _rows_of(negative, MAX_LISTED_PROBLEMS):
                    problems.append(Problem(source, f"negative volume {numeric[i]}", col, int(rows[i])))
            else:
                negative = numeric <= 0
                for i in _rows_of(negative, MAX_LISTED_PROBLEMS):
                    problems.append(
                        Problem(
                            source, f"non-positive price {numeric[i]}; prices must be > 0", col, int(rows[i])
                        )
                    )
        listed = sum(min(int(m.sum()), MAX_LISTED_PROBLEMS) for m in (not_number, non_finite, negative))
        total = int(not_number.sum() + non_finite.sum() + negative.sum())
        problems.extend(_count_only(source, col, "bad values", total - listed))
        values[col] = numeric
    with np.errstate(invalid="ignore"):
        inverted = values["high"] < values["low"]
    for i in _rows_of(inverted, MAX_LISTED_PROBLEMS):
        problems.append(
            Problem(source, f"high {values['high'][i]} is below low {values['low'][i]}", "high", int(rows[i]))
        )
    problems.extend(
        _count_only(source, "high", "bars with high < low", int(inverted.sum()) - MAX_LISTED_PROBLEMS)
    )
    return values, problems


def validate_frame(frame: pd.DataFrame, source: str, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Validate one ticker's bars (normalised column names) and return the clean frame.

    ``rows`` maps each position to its 1-based row in the file (defaults to
    1..n). Every bad row is reported in one ``DataValidationError``, sorted
    by row (listing capped at ``MAX_LISTED_PROBLEMS`` per check, the rest counted).
    """
    if rows is None:
        rows = np.arange(1, len(frame) + 1)
    if len(frame) == 0:
        raise DataValidationError(source, "has no data rows")
    dates, problems = _date_problems(frame, source, rows)
    values, value_problems = _value_problems(frame, source, rows)
    problems += value_problems
    if problems:
        problems.sort(key=lambda p: (p.row is None, p.row or 0))
        raise DataValidationError(source, problems=problems)
    return pd.DataFrame(values, index=pd.DatetimeIndex(dates, name="date").as_unit("ns"))


def _split_tickers(frame: pd.DataFrame, path: Path) -> list[tuple[str, pd.DataFrame, np.ndarray]]:
    rows = np.arange(1, len(frame) + 1)
    ticker_col = next((c for c in TICKER_COLUMNS if c in frame.columns), None)
    if ticker_col is None:
        return [(path.stem, frame, rows)]
    names = frame[ticker_col].astype(str).str.strip()
    empty = frame[ticker_col].isna().to_numpy() | (names == "").to_numpy()
    if empty.any():
        problems = [
            Problem(str(path), "empty ticker", ticker_col, int(rows[i]))
            for i in _rows_of(empty, MAX_LISTED_PROBLEMS)
        ]
        problems += _count_only(str(path), ticker_col, "empty tickers", int(empty.sum()) - len(problems))
        raise DataValidationError(str(path), problems=problems)
    out = []
    for ticker, idx in frame.groupby(names, sort=True).indices.items():
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
    sources: dict[str, str] = {}
    problems: list[Problem] = []
    # Every file is checked even after a bad one: one run lists all that is wrong.
    for file in files:
        try:
            table, n_columns = _read_table(file)
            frame = _normalise_columns(table, str(file), n_columns)
            parts = _split_tickers(frame, file)
        except DataValidationError as exc:
            problems += exc.problems
            continue
        for ticker, part, rows in parts:
            source = str(file) if len(files) == 1 and ticker == file.stem else f"{file} (ticker {ticker})"
            if ticker in sources:
                problems.append(
                    Problem(
                        source, f"ticker {ticker!r} also comes from {sources[ticker]}; keep one source each"
                    )
                )
                continue
            sources[ticker] = source
            try:
                clean = validate_frame(part, source, rows)
            except DataValidationError as exc:
                problems += exc.problems
                continue
            series[ticker] = TickerSeries(ticker=ticker, source=source, frame=clean, rows=rows)
    if problems:
        raise DataValidationError(str(path), problems=problems)
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
