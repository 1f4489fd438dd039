"""Turn a V2 inference request into UNSCALED feature windows, or say exactly what was wrong.

Three request forms are accepted (see docs/serving.md):

* ``features``: one FP32/FP64 tensor ``[batch, window, n_features]`` of
  already-computed, unscaled features (columns ``FEATURE_NAMES``);
* ``ohlcv``: one tensor ``[batch, bars, 5]`` of raw bars, columns
  ``open, high, low, close, volume``, oldest bar first;
* five named tensors ``open``, ``high``, ``low``, ``close``, ``volume``,
  each ``[batch, bars]``.

Raw bars go through ``financial_mlops.features.bar_features``, the same
code training used (the whole batch in one call), and the last ``window``
rows become the model input.
Every rejection is a ``BadRequest`` (HTTP 400) whose message names the
input, what it got and what it expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, RequestInput

from financial_mlops.features import FEATURE_NAMES, RAW_COLUMNS, bar_features
from financial_mlops.spec import FeatureSpec

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


# Exact types, not isinstance: bool is an int subclass and must be refused.
_NUMBER_TYPES = frozenset({float, int})


def _values(raw: Any, name: str, shape: list[int], dtype: type) -> np.ndarray:
    """The flat values of an input as ``dtype``, or a BadRequest saying why not.

    Fast path, the form every client sends (a flat list of JSON numbers, or
    what MLServer's gRPC decoder builds): the element types are checked by
    ``set(map(type, ...))`` and the list is copied into a preallocated array,
    both in C, no Python bytecode per value. Anything else (nested lists,
    strings, a size mismatch) takes the slow path that explains the problem.
    """
    size = math.prod(shape)
    if isinstance(raw, list) and len(raw) == size and set(map(type, raw)) <= _NUMBER_TYPES:
        out = np.empty(size, dtype=dtype)
        try:
            out[:] = raw
        except OverflowError:
            raise BadRequest(f"input '{name}' holds a number too large for {np.dtype(dtype).name}") from None
        return out
    if isinstance(raw, np.ndarray) and raw.dtype.kind in "fiu" and raw.size == size:
        return raw.astype(dtype, copy=False).reshape(-1)
    flat = _flatten(raw)
    if len(flat) != size:
        raise BadRequest(
            f"input '{name}' declares shape {shape} ({size} values) but carries {len(flat)} values"
        )
    if any(isinstance(v, bool | np.bool_ | str | bytes) or v is None for v in flat):
        raise BadRequest(f"input '{name}' holds non-numeric values; expected numbers only")
    try:
        return np.asarray(flat, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequest(f"input '{name}' holds values that are not numbers: {exc}") from None


def _tensor(inp: RequestInput, rank: int, what: str, dtype: type = np.float64) -> np.ndarray:
    """The input as a ``dtype`` array of the declared shape, finite, of the expected rank."""
    if inp.datatype not in NUMERIC_DATATYPES:
        raise BadRequest(
            f"input '{inp.name}' has datatype {inp.datatype}; expected FP32 or FP64 (integers are accepted)"
        )
    shape = [int(d) for d in inp.shape]
    if len(shape) != rank or any(d < 1 for d in shape):
        raise BadRequest(f"input '{inp.name}' has shape {shape}; expected {what}")
    raw = inp.data.root if hasattr(inp.data, "root") else inp.data
    arr = _values(raw, inp.name, shape, dtype).reshape(shape)
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
    # one reduction for both checks: each column's lowest value
    lowest = bars.min(axis=(0, 1)).tolist()
    if min(lowest[:4]) <= 0:
        raise BadRequest(f"{source}: open/high/low/close must be strictly positive prices")
    if lowest[4] < 0:
        raise BadRequest(f"{source}: volume must not be negative")
    # Only the last min_bars bars can influence the last window (features use
    # finite look-backs), so older bars are not worth computing. The whole
    # batch goes through the compiled kernel in one call.
    feats = bar_features(bars[:, -spec.min_bars :, :])[:, -spec.window :, :]
    out = feats if spec.feature_names == list(FEATURE_NAMES) else feats[..., _columns(spec)]
    if not np.isfinite(out).all():
        raise BadRequest(
            f"{source}: the bars give non-finite features; check for flat or corrupt price series"
        )
    return out


def _columns(spec: FeatureSpec) -> list[int]:
    """Positions of the spec's features in FEATURE_NAMES (a bundle may order them differently)."""
    return [FEATURE_NAMES.index(name) for name in spec.feature_names]


def decode_request(payload: InferenceRequest, spec: FeatureSpec, limits: RequestLimits) -> np.ndarray:
    """Unscaled feature windows [B, window, F] for ``payload``; raises BadRequest.

    float32 for the ``features`` form (decoded straight into the model's
    dtype), float64 for the raw forms (computed like training computes them).
    """
    inputs = list(payload.inputs or [])
    names = [inp.name for inp in inputs]
    by_name = {inp.name: inp for inp in inputs}
    if len(by_name) != len(names):
        raise BadRequest(f"duplicate input names {names}; {expected_forms(spec)}")
    n_feat = len(spec.feature_names)

    if names == [FEATURES_INPUT]:
        what = f"[batch, {spec.window}, {n_feat}]"
        windows = _tensor(by_name[FEATURES_INPUT], 3, what, np.float32)
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
