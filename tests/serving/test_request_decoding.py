"""decode_request without a server: the fast path keeps every rejection of the old decoder."""

from __future__ import annotations

import numpy as np
import pytest
from financial_mlops.features import FEATURE_NAMES, RAW_COLUMNS, WARMUP_BARS, compute_features
from financial_mlops.serving.codec import BadRequest, RequestLimits, decode_request
from financial_mlops.spec import FeatureSpec
from financial_mlops.synth import generate_market
from mlserver.types import InferenceRequest

N = len(FEATURE_NAMES)
SPEC = FeatureSpec(list(FEATURE_NAMES), 30, WARMUP_BARS, [0.0] * N, [1.0] * N)
LIMITS = RequestLimits(max_batch_size=8, max_bars=4096)


def _request(name: str, shape: list[int], data: list, datatype: str = "FP32") -> InferenceRequest:
    return InferenceRequest.model_validate(
        {"inputs": [{"name": name, "datatype": datatype, "shape": shape, "data": data}]}
    )


def test_features_decode_into_float32_of_the_declared_shape():
    values = np.arange(2 * 30 * N, dtype=np.float64) / 7
    out = decode_request(_request("features", [2, 30, N], values.tolist()), SPEC, LIMITS)
    assert out.dtype == np.float32 and out.shape == (2, 30, N)
    np.testing.assert_array_equal(out.reshape(-1), values.astype(np.float32))


def test_integers_are_numbers_and_nested_lists_are_accepted():
    flat = [1] * (30 * N)
    assert decode_request(_request("features", [1, 30, N], flat), SPEC, LIMITS).sum() == 30 * N
    nested = np.ones((1, 30, N)).tolist()
    assert decode_request(_request("features", [1, 30, N], nested), SPEC, LIMITS).shape == (1, 30, N)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([True] * (30 * N), "non-numeric"),
        ([1.0] * (30 * N - 1) + ["1.0"], "non-numeric"),
        ([1.0] * (30 * N - 1) + [None], "non-numeric"),
        ([1.0] * 5, "carries 5 values"),
    ],
)
def test_fast_path_rejections_name_the_input(data, fragment):
    with pytest.raises(BadRequest, match=fragment) as info:
        decode_request(_request("features", [1, 30, N], data), SPEC, LIMITS)
    assert "'features'" in str(info.value) and info.value.status_code == 400


def test_raw_bars_of_a_batch_equal_training_features():
    frames = list(generate_market(n_tickers=3, n_bars=SPEC.min_bars + 10, seed=5).values())
    bars = np.stack([f.loc[:, list(RAW_COLUMNS)].to_numpy() for f in frames])
    out = decode_request(_request("ohlcv", list(bars.shape), bars.ravel().tolist(), "FP64"), SPEC, LIMITS)
    assert out.dtype == np.float64
    for b, frame in enumerate(frames):
        np.testing.assert_allclose(out[b], compute_features(frame).to_numpy()[-SPEC.window :], rtol=1e-12)
