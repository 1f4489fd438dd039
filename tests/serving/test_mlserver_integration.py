"""End to end: train a tiny model, export it from the registry, serve it with a real `mlserver start`.

Predictions over REST must equal the in-process bundle's; every class of bad
request must get a 400 (gRPC INVALID_ARGUMENT) that says what was expected,
and the server must keep answering afterwards.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from financial_mlops.bundle import ModelBundle, load_bundle
from financial_mlops.data import load_market
from financial_mlops.features import RAW_COLUMNS, compute_features
from financial_mlops.serving.export import export_from_registry
from financial_mlops.serving.local_server import MLServerProcess, start_mlserver
from financial_mlops.serving.settings import RuntimeConfig
from mlserver.grpc import dataplane_pb2_grpc
from mlserver.grpc.converters import ModelInferRequestConverter
from mlserver.types import InferenceRequest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "financial-lstm-lightweight"
MAX_BATCH = 4


@pytest.fixture(scope="module")
def served(
    tiny_training: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("served")
    reg = tiny_training["registry"]
    export = export_from_registry(
        reg.client, MODEL, root / "model", alias="challenger", config=RuntimeConfig(max_batch_size=MAX_BATCH)
    )
    server = start_mlserver(export.out_dir, root / "mlserver.log")
    try:
        yield {"server": server, "bundle": load_bundle(export.out_dir), "data": tiny_training["data"]}
    finally:
        server.stop(timeout=20)


def post(server: MLServerProcess, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        f"{server.url}/v2/models/{MODEL}/infer",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def tensor(name: str, arr: np.ndarray, datatype: str = "FP64") -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": list(arr.shape), "data": arr.reshape(-1).tolist()}


def raw_bars(data: Path, n_bars: int, count: int) -> np.ndarray:
    """``count`` series of the last ``n_bars`` real bars (different end points), [count, n_bars, 5]."""
    series = next(iter(load_market(data).series.values()))
    values = series.frame.loc[:, list(RAW_COLUMNS)].to_numpy(dtype=np.float64)
    return np.stack([values[len(values) - n_bars - k * 7 : len(values) - k * 7] for k in range(count)])


def in_process(bundle: ModelBundle, bars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(feature windows, probabilities) computed the way training code does, without the server."""
    window = bundle.feature_spec.window
    windows = np.stack(
        [
            compute_features(pd.DataFrame(b, columns=list(RAW_COLUMNS))).to_numpy()[-window:] for b in bars
        ]  # same code as training
    )
    return windows, bundle.predict_proba(windows)


def good_request(served: dict[str, Any]) -> dict[str, Any]:
    spec = served["bundle"].feature_spec
    windows, _ = in_process(served["bundle"], raw_bars(served["data"], spec.min_bars, 1))
    return {"inputs": [tensor("features", windows, "FP64")]}


def test_predictions_equal_in_process_results(served: dict[str, Any]) -> None:
    bundle, server = served["bundle"], served["server"]
    spec = bundle.feature_spec
    bars = raw_bars(served["data"], spec.min_bars + 40, 3)
    windows, expected = in_process(bundle, bars)

    status, body = post(server, {"inputs": [tensor("features", windows.astype(np.float32), "FP32")]})
    assert status == 200, body
    outputs = {o["name"]: o for o in body["outputs"]}
    # FP32 on the wire rounds the inputs; compare against the same rounding.
    assert np.allclose(
        outputs["probability"]["data"], bundle.predict_proba(windows.astype(np.float32)), atol=1e-6
    )

    status, body = post(server, {"inputs": [tensor("ohlcv", bars)]})
    assert status == 200, body
    outputs = {o["name"]: o for o in body["outputs"]}
    assert np.allclose(outputs["probability"]["data"], expected, atol=1e-9)
    assert outputs["direction"]["data"] == ["up" if p >= 0.5 else "down" for p in expected]

    named = {"inputs": [tensor(c, bars[:, :, i]) for i, c in enumerate(RAW_COLUMNS)]}
    status, body = post(server, named)
    assert status == 200, body
    assert np.allclose(body["outputs"][0]["data"], expected, atol=1e-9)


def bad_requests(served: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    """Every class of bad request -> (body, fragment the 400 message must contain)."""
    spec = served["bundle"].feature_spec
    n_feat = len(spec.feature_names)
    ok = np.zeros((1, spec.window, n_feat))
    bars = raw_bars(served["data"], spec.min_bars, 1)
    zero_price = bars.copy()
    zero_price[0, 5, 3] = 0.0
    return {
        "wrong_shape": (
            {"inputs": [tensor("features", np.zeros((1, spec.window - 1, n_feat)))]},
            f"{spec.window}",
        ),
        "wrong_rank": ({"inputs": [tensor("features", np.zeros((spec.window, n_feat)))]}, "expected [batch"),
        "wrong_dtype": (
            {"inputs": [{"name": "features", "datatype": "BYTES", "shape": [1], "data": ["x"]}]},
            "expected FP32 or FP64",
        ),
        "bool_dtype": ({"inputs": [tensor("features", ok.astype(bool), "BOOL")]}, "expected FP32 or FP64"),
        "strings_in_numbers": (
            {
                "inputs": [
                    {
                        "name": "features",
                        "datatype": "FP64",
                        "shape": list(ok.shape),
                        "data": ["NaN"] * ok.size,
                    }
                ]
            },
            "non-numeric",
        ),
        "shape_data_mismatch": (
            {
                "inputs": [
                    {"name": "features", "datatype": "FP64", "shape": [1, spec.window, n_feat], "data": [1.0]}
                ]
            },
            "carries 1 values",
        ),
        "too_few_bars": (
            {"inputs": [tensor("ohlcv", bars[:, -(spec.min_bars - 1) :, :])]},
            f"{spec.min_bars}",
        ),
        "non_positive_price": ({"inputs": [tensor("ohlcv", zero_price)]}, "strictly positive"),
        "batch_above_limit": (
            {"inputs": [tensor("features", np.zeros((MAX_BATCH + 1, spec.window, n_feat)))]},
            f"limit of {MAX_BATCH}",
        ),
        "missing_input": (
            {"inputs": [tensor(c, bars[:, :, i]) for i, c in enumerate(RAW_COLUMNS) if c != "volume"]},
            "missing input(s) ['volume']",
        ),
        "no_inputs": ({"inputs": []}, "no inputs"),
        "unknown_input": ({"inputs": [tensor("prices", ok)]}, "unexpected inputs ['prices']"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong_shape",
        "wrong_rank",
        "wrong_dtype",
        "bool_dtype",
        "strings_in_numbers",
        "shape_data_mismatch",
        "too_few_bars",
        "non_positive_price",
        "batch_above_limit",
        "missing_input",
        "no_inputs",
        "unknown_input",
    ],
)
def test_bad_request_is_a_400_and_the_server_keeps_serving(served: dict[str, Any], case: str) -> None:
    body, fragment = bad_requests(served)[case]
    status, answer = post(served["server"], body)
    assert status == 400, answer
    assert fragment in answer["error"], answer["error"]
    status, answer = post(served["server"], good_request(served))
    assert status == 200, answer


@pytest.mark.parametrize("bad_value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_invalid_argument_over_grpc(served: dict[str, Any], bad_value: float) -> None:
    """JSON has no NaN/inf (MLServer's REST parser refuses them); gRPC carries them to the model."""
    windows = np.array(good_request(served)["inputs"][0]["data"])
    windows[3] = bad_value
    spec = served["bundle"].feature_spec
    request = InferenceRequest.model_validate(
        {
            "inputs": [
                {
                    "name": "features",
                    "datatype": "FP64",
                    "shape": [1, spec.window, len(spec.feature_names)],
                    "data": windows.tolist(),
                }
            ]
        }
    )
    with grpc.insecure_channel(served["server"].grpc_address) as channel:
        stub = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ModelInfer(
                ModelInferRequestConverter.from_types(request, model_name=MODEL, model_version=None)
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "NaN or inf" in err.value.details()
    status, _ = post(served["server"], good_request(served))
    assert status == 200


def test_grpc_answers_what_rest_answers(served: dict[str, Any]) -> None:
    """Seldon's mesh talks gRPC: the same request gives the same outputs (direction as BYTES)."""
    body = good_request(served)
    status, rest = post(served["server"], body)
    assert status == 200, rest
    request = ModelInferRequestConverter.from_types(
        InferenceRequest.model_validate(body), model_name=MODEL, model_version=None
    )
    with grpc.insecure_channel(served["server"].grpc_address) as channel:
        answer = dataplane_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request)
    outputs = {o.name: o for o in answer.outputs}
    assert list(outputs["probability"].contents.fp64_contents) == rest["outputs"][0]["data"]
    assert [b.decode() for b in outputs["direction"].contents.bytes_contents] == rest["outputs"][1]["data"]


def test_rest_json_with_nan_token_is_refused_before_the_model(served: dict[str, Any]) -> None:
    body = json.dumps(good_request(served)).replace("[", "[NaN, ", 1).encode()
    req = urllib.request.Request(
        f"{served['server'].url}/v2/models/{MODEL}/infer",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert 400 <= err.value.code < 500
    assert post(served["server"], good_request(served))[0] == 200
