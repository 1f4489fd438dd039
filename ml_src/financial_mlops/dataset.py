"""From validated bars to model tensors: features, target, chronological split with a gap, windows.

Rules enforced here (and tested):
- features are computed per ticker, so no rolling statistic crosses tickers;
- the target of the sample ending at bar t is the direction of bar t+1;
- split cut points are timestamps shared by every ticker (no cross-ticker
  look-ahead), and within each ticker consecutive splits are separated by at
  least ``gap >= window`` bars, so no window straddles two splits;
- the scaler is fitted on the feature rows the training windows can see only;
- a window is a slice of one ticker's rows: windows never mix tickers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from financial_mlops.data import DataValidationError, MarketData, require_rows
from financial_mlops.features import FEATURE_NAMES, WARMUP_BARS, compute_features
from financial_mlops.spec import FeatureSpec

SPLITS = ("train", "val", "test")
MIN_SAMPLES_PER_SPLIT = 16


@dataclass(frozen=True)
class SplitConfig:
    window: int = 30
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    gap: int | None = None  # bars between consecutive splits; defaults to (and must be >=) window

    @property
    def effective_gap(self) -> int:
        return self.window if self.gap is None else self.gap

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"window must be >= 2 bars, got {self.window}")
        if self.gap is not None and self.gap < self.window:
            raise ValueError(f"gap ({self.gap}) must be at least the window length ({self.window})")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1):
            raise ValueError("val_fraction and test_fraction must be in (0, 1)")
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError("val_fraction + test_fraction must leave at least 10% for training")


@dataclass
class TickerSamples:
    """Per-ticker arrays aligned on bars."""

    ticker: str
    dates: pd.DatetimeIndex
    features: np.ndarray  # [n_bars, F] unscaled, NaN during warmup
    target: np.ndarray  # [n_bars] 1.0 if close[t+1] > close[t]; NaN on the last bar
    next_return: np.ndarray  # [n_bars] close[t+1]/close[t]-1; NaN on the last bar
    ends: dict[str, np.ndarray] = field(default_factory=dict)  # split -> bar indices ending a window


@dataclass
class SplitArrays:
    X: np.ndarray  # [N, window, F] float32, scaled
    y: np.ndarray  # [N] float32
    X_raw_last: np.ndarray  # [N, F] unscaled last-step features (for baselines)
    next_return: np.ndarray  # [N]
    ticker: np.ndarray  # [N] ticker name of each window
    end_index: np.ndarray  # [N] bar index of the window's last row within its ticker
    dates: np.ndarray  # [N] datetime64 of the window's last bar

    @property
    def n(self) -> int:
        return int(self.y.shape[0])


@dataclass
class PreparedData:
    spec: FeatureSpec
    config: SplitConfig
    splits: dict[str, SplitArrays]
    tickers: list[TickerSamples]
    cut_times: tuple[pd.Timestamp, pd.Timestamp]


def ticker_samples(ticker: str, frame: pd.DataFrame) -> TickerSamples:
    feats = compute_features(frame).to_numpy(dtype=np.float64)
    close = frame["close"].to_numpy(dtype=np.float64)
    nxt = np.full_like(close, np.nan)
    nxt[:-1] = close[1:] / close[:-1] - 1.0
    target = np.where(np.isnan(nxt), np.nan, (nxt > 0).astype(np.float64))
    # nanosecond unit everywhere: asi8 and datetime64 comparisons assume it (pandas 3 defaults to us)
    dates = pd.DatetimeIndex(frame.index)
    dates = (dates.tz_localize("UTC") if dates.tz is None else dates.tz_convert("UTC")).as_unit("ns")
    return TickerSamples(ticker=ticker, dates=dates, features=feats, target=target, next_return=nxt)


def candidate_ends(ts: TickerSamples, window: int) -> np.ndarray:
    """Bar indices that can end a window: full window of complete features, known target."""
    complete = np.isfinite(ts.features).all(axis=1)
    n = len(ts.target)
    idx = np.arange(n)
    ok = (idx >= WARMUP_BARS + window - 1) & np.isfinite(ts.target)
    if ok.any():
        # every row of the window must be complete (guards against NaN inside the history)
        csum = np.concatenate([[0], np.cumsum(~complete)])
        bad_in_window = csum[idx + 1] - csum[np.maximum(idx + 1 - window, 0)]
        ok &= bad_in_window == 0
    return idx[ok]


def assign_splits(samples: list[TickerSamples], config: SplitConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Fill ``ends`` of every ticker; returns the two cut timestamps."""
    window, gap = config.window, config.effective_gap
    all_ends = {s.ticker: candidate_ends(s, window) for s in samples}
    times = np.sort(np.concatenate([s.dates.asi8[all_ends[s.ticker]] for s in samples]))
    if times.size == 0:
        raise DataValidationError(
            ", ".join(s.ticker for s in samples), "no complete windows: history too short"
        )
    train_frac = 1.0 - config.val_fraction - config.test_fraction
    t1 = times[int(train_frac * (times.size - 1))]
    t2 = times[int((train_frac + config.val_fraction) * (times.size - 1))]
    for s in samples:
        ends = all_ends[s.ticker]
        t = s.dates.asi8[ends]
        train = ends[t <= t1]
        last = train[-1] if train.size else -np.inf
        val = ends[(t > t1) & (t <= t2) & (ends > last + gap)]
        last = val[-1] if val.size else last
        test = ends[(t > t2) & (ends > last + gap)]
        s.ends = {"train": train, "val": val, "test": test}
    return pd.Timestamp(t1, tz="UTC"), pd.Timestamp(t2, tz="UTC")


def fit_scaler(samples: list[TickerSamples], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean/std of the feature rows covered by training windows only."""
    rows = []
    for s in samples:
        ends = s.ends["train"]
        if ends.size == 0:
            continue
        first = max(int(ends[0]) - window + 1, 0)
        rows.append(s.features[first : int(ends[-1]) + 1])
    stacked = np.concatenate(rows)
    stacked = stacked[np.isfinite(stacked).all(axis=1)]
    mean = stacked.mean(axis=0)
    scale = stacked.std(axis=0)
    # A constant feature carries no information; scale 1 keeps it finite.
    scale = np.where(scale > 1e-12, scale, 1.0)
    return mean, scale


def build_windows(samples: list[TickerSamples], split: str, spec: FeatureSpec) -> SplitArrays:
    """Stack the windows of one split; each window is a slice of a single ticker's rows.

    The [N, window, F] float32 tensor is allocated once and filled ticker by
    ticker (no per-ticker copies concatenated afterwards): peak memory is the
    tensor itself plus one ticker's windows.
    """
    window = spec.window
    n_feat = len(spec.feature_names)
    chosen = [s for s in samples if s.ends[split].size]
    total = sum(s.ends[split].size for s in chosen)
    X = np.empty((total, window, n_feat), dtype=np.float32)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("y", "last", "ret", "tk", "end", "dt")}
    pos = 0
    for s in chosen:
        ends = s.ends[split]
        first = int(ends[0]) - window + 1
        # scale only the rows this split's windows cover
        scaled = spec.transform(np.nan_to_num(s.features[first : int(ends[-1]) + 1]))
        # sliding_window_view row i covers rows i..i+window-1: the window ending at e is row e-window+1.
        view = np.lib.stride_tricks.sliding_window_view(scaled, window, axis=0)  # [rows-w+1, F, w]
        X[pos : pos + ends.size] = view[ends - window + 1 - first].transpose(0, 2, 1)
        pos += ends.size
        parts["y"].append(s.target[ends].astype(np.float32))
        parts["last"].append(s.features[ends])
        parts["ret"].append(s.next_return[ends])
        parts["tk"].append(np.full(ends.size, s.ticker, dtype=object))
        parts["end"].append(ends)
        parts["dt"].append(s.dates.tz_convert(None).to_numpy()[ends])
    if not chosen:
        return SplitArrays(
            X=X,
            y=np.zeros(0, np.float32),
            X_raw_last=np.zeros((0, n_feat)),
            next_return=np.zeros(0),
            ticker=np.zeros(0, dtype=object),
            end_index=np.zeros(0, dtype=np.int64),
            dates=np.zeros(0, dtype="datetime64[ns]"),
        )
    return SplitArrays(
        X=X,
        y=np.concatenate(parts["y"]),
        X_raw_last=np.concatenate(parts["last"]),
        next_return=np.concatenate(parts["ret"]),
        ticker=np.concatenate(parts["tk"]),
        end_index=np.concatenate(parts["end"]),
        dates=np.concatenate(parts["dt"]),
    )


def min_rows_per_ticker(config: SplitConfig) -> int:
    # warmup + one window + target bar, and room for two gaps and a few samples per split
    return WARMUP_BARS + config.window + 1 + 2 * config.effective_gap + 3 * MIN_SAMPLES_PER_SPLIT


def prepare(market: MarketData, config: SplitConfig) -> PreparedData:
    require_rows(
        market,
        min_rows_per_ticker(config),
        f"{WARMUP_BARS} warmup bars + window {config.window} + 2 gaps of {config.effective_gap} "
        f"+ {MIN_SAMPLES_PER_SPLIT} samples per split",
    )
    samples = [ticker_samples(t, market.series[t].frame) for t in market.tickers]
    cut_times = assign_splits(samples, config)
    for split in SPLITS:
        n = sum(s.ends[split].size for s in samples)
        if n < MIN_SAMPLES_PER_SPLIT:
            raise DataValidationError(
                market.source,
                f"the {split} split has only {n} windows (need >= {MIN_SAMPLES_PER_SPLIT}); "
                "provide a longer history, fewer overlapping dates or a smaller --window",
            )
    mean, scale = fit_scaler(samples, config.window)
    spec = FeatureSpec(
        feature_names=list(FEATURE_NAMES),
        window=config.window,
        warmup_bars=WARMUP_BARS,
        scaler_mean=[float(v) for v in mean],
        scaler_scale=[float(v) for v in scale],
    )
    splits = {split: build_windows(samples, split, spec) for split in SPLITS}
    return PreparedData(spec=spec, config=config, splits=splits, tickers=samples, cut_times=cut_times)


def windows_for_spec(market: MarketData, spec: FeatureSpec, config: SplitConfig) -> PreparedData:
    """Same split as ``prepare`` but scaled with an existing (trained) feature spec."""
    require_rows(market, min_rows_per_ticker(config), "window + splits")
    samples = [ticker_samples(t, market.series[t].frame) for t in market.tickers]
    cut_times = assign_splits(samples, config)
    splits = {split: build_windows(samples, split, spec) for split in SPLITS}
    return PreparedData(spec=spec, config=config, splits=splits, tickers=samples, cut_times=cut_times)


def all_windows(market: MarketData, spec: FeatureSpec) -> SplitArrays:
    """Every complete window of every ticker (no split), scaled with ``spec``: for out-of-sample checks."""
    require_rows(market, spec.warmup_bars + spec.window + 1, "warmup + one window + the target bar")
    samples = [ticker_samples(t, market.series[t].frame) for t in market.tickers]
    for s in samples:
        s.ends = {"all": candidate_ends(s, spec.window)}
    return build_windows(samples, "all", spec)
