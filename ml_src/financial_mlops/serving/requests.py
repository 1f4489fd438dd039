"""Turn a V2 inference request into UNSCALED feature windows, or say exactly what was wrong.

Three request forms are accepted (see docs/serving.md):

* ``features``: one FP32/FP64 tensor ``[batch, window, n_features]`` of
  already-computed, unscaled features (columns ``FEATURE_NAMES``);
* ``ohlcv``: one tensor ``[batch, bars, 5]`` of raw bars, columns
  ``open, high, low, close, volume``, oldest bar first;
* five named tensors ``open``, ``high``, ``low``, ``close``, ``volume``,
  each ``[batch, bars]``.

Raw bars go through ``financial_mlops.features.compute_features``, the same
code training used, and the last ``window`` rows become the model input.
Every rejection is a ``BadRequest`` (HTTP 400) whose message names the
input, what it got and what it expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, RequestInput

from financial_mlops.bundle import FeatureSpec
from financial_mlops.features import RAW_COLUMNS, compute_features

FEATURES_INPUT = "features"
OHLCV_INPUT = "ohlcv"
NUMERIC_DATATYPES = frozenset(
    {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
)


class BadRequest(MLServerError):
    """A request the model cannot answer; MLServer turns it into HTTP 400."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, status_code=400)


@dataclass(frozen=True)
class RequestLimits:
    max_batch_size: int
    max_bars: int


def expected_forms(spec: FeatureSpec) -> str:
    n = len(spec.feature_names)
    return (
        f"send either input '{FEATURES_INPUT}' FP32/FP64 [batch, {spec.window}, {n}] (unscaled features "
        f"{', '.join(spec.feature_names)}), or input '{OHLCV_INPUT}' [batch, bars, 5] "
        f"(columns {', '.join(RAW_COLUMNS)}), or the five inputs {', '.join(RAW_COLUMNS)} each "
        f"[batch, bars]; raw forms need at least {spec.min_bars} bars "
        f"({spec.warmup_bars} warm-up + {spec.window} window)"
    )


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        out: list[Any] = []
        for item in value:
            out.extend(_flatten(item))
        return out
    return [value]


def _tensor(inp: RequestInput, rank: int, what: str) -> np.ndarray:
    """The input as a float64 array of the declared shape, finite, of the expected rank."""
    if inp.datatype not in NUMERIC_DATATYPES:
        raise BadRequest(
            f"input '{inp.name}' has datatype {inp.datatype}; expected FP32 or FP64 (integers are accepted)"
        )
    shape = [int(d) for d in inp.shape]
    if len(shape) != rank or any(d < 1 for d in shape):
        raise BadRequest(f"input '{inp.name}' has shape {shape}; expected {what}")
    raw = inp.data.root if hasattr(inp.data, "root") else inp.data
    # The common case, a flat list of JSON numbers, is checked in one pass;
    # anything else is flattened and checked for non-numbers. bool is an int
    # subclass, hence exact types (and "NaN" strings must not be parsed).
    numeric = isinstance(raw, list) and all(type(v) is float or type(v) is int for v in raw)
    flat = raw if numeric else _flatten(raw)
    if len(flat) != math.prod(shape):
        raise BadRequest(
            f"input '{inp.name}' declares shape {shape} ({math.prod(shape)} values) but carries "
            f"{len(flat)} values"
        )
    if not numeric and any(isinstance(v, bool | np.bool_ | str | bytes) or v is None for v in flat):
        raise BadRequest(f"input '{inp.name}' holds non-numeric values; expected numbers only")
    try:
        arr = np.asarray(flat, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"input '{inp.name}' holds values that are not numbers: {exc}") from None
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise BadRequest(
            f"input '{inp.name}' contains NaN or inf (first at index {bad}); all values must be finite"
        )
    return arr


def _check_batch(batch: int, limits: RequestLimits) -> None:
    if batch > limits.max_batch_size:
        raise BadRequest(
            f"batch of {batch} windows is above this model's limit of {limits.max_batch_size}; "
            "split the request (the limit is the max_batch_size parameter of model-settings.json)"
        )


def _features_from_raw(bars: np.ndarray, spec: FeatureSpec, limits: RequestLimits, source: str) -> np.ndarray:
    """[B, bars, 5] raw OHLCV -> [B, window, F] unscaled features computed like training did."""
    batch, n_bars, _ = bars.shape
    _check_batch(batch, limits)
    if n_bars < spec.min_bars:
        raise BadRequest(
            f"{source} has {n_bars} bars; the model needs at least {spec.min_bars} "
            f"({spec.warmup_bars} warm-up bars for the features + a window of {spec.window})"
        )
    if n_bars > limits.max_bars:
        raise BadRequest(
            f"{source} has {n_bars} bars, above the limit of {limits.max_bars}; send the last "
            f"{spec.min_bars} bars (more do not change the prediction)"
        )
    prices, volume = bars[..., :4], bars[..., 4]
    if (prices <= 0).any():
        raise BadRequest(f"{source}: open/high/low/close must be strictly positive prices")
    if (volume < 0).any():
        raise BadRequest(f"{source}: volume must not be negative")
    # Only the last min_bars bars can influence the last window (features use
    # finite look-backs), so older bars are not worth computing.
    bars = bars[:, -spec.min_bars :, :]
    out = np.empty((batch, spec.window, len(spec.feature_names)), dtype=np.float64)
    names = list(spec.feature_names)
    for b in range(batch):
        feats = compute_features(pd.DataFrame(bars[b], columns=list(RAW_COLUMNS)))
        out[b] = feats.loc[:, names].to_numpy()[-spec.window :]
    if not np.isfinite(out).all():
        raise BadRequest(
            f"{source}: the bars give non-finite features; check for flat or corrupt price series"
        )
    return out


def decode_request(payload: InferenceRequest, spec: FeatureSpec, limits: RequestLimits) -> np.ndarray:
    """Unscaled feature windows [B, window, F] (float64) for ``payload``; raises BadRequest."""
    inputs = list(payload.inputs or [])
    names = [inp.name for inp in inputs]
    by_name = {inp.name: inp for inp in inputs}
    if len(by_name) != len(names):
        raise BadRequest(f"duplicate input names {names}; {expected_forms(spec)}")
    n_feat = len(spec.feature_names)

    if names == [FEATURES_INPUT]:
        what = f"[batch, {spec.window}, {n_feat}]"
        windows = _tensor(by_name[FEATURES_INPUT], 3, what)
        if windows.shape[1:] != (spec.window, n_feat):
            raise BadRequest(f"input '{FEATURES_INPUT}' has shape {list(windows.shape)}; expected {what}")
        _check_batch(windows.shape[0], limits)
        return windows

    if names == [OHLCV_INPUT]:
        what = "[batch, bars, 5] with columns " + ", ".join(RAW_COLUMNS)
        bars = _tensor(by_name[OHLCV_INPUT], 3, what)
        if bars.shape[2] != len(RAW_COLUMNS):
            raise BadRequest(f"input '{OHLCV_INPUT}' has shape {list(bars.shape)}; expected {what}")
        return _features_from_raw(bars, spec, limits, f"input '{OHLCV_INPUT}'")

    if set(names) & set(RAW_COLUMNS) and not set(names) - set(RAW_COLUMNS):
        missing = [c for c in RAW_COLUMNS if c not in by_name]
        if missing:
            raise BadRequest(f"missing input(s) {missing}; the raw form needs all of {list(RAW_COLUMNS)}")
        columns = [_tensor(by_name[c], 2, "[batch, bars]") for c in RAW_COLUMNS]
        shapes = {c: list(a.shape) for c, a in zip(RAW_COLUMNS, columns, strict=True)}
        if len({tuple(s) for s in shapes.values()}) != 1:
            raise BadRequest(f"inputs {list(RAW_COLUMNS)} must share one shape [batch, bars]; got {shapes}")
        return _features_from_raw(np.stack(columns, axis=-1), spec, limits, "the raw inputs")

    if not names:
        raise BadRequest(f"the request has no inputs; {expected_forms(spec)}")
    raise BadRequest(f"unexpected inputs {names}; {expected_forms(spec)}")
