"""Where a request's time goes inside our runtime, without the server around it.

Builds the benchmark's random-weight bundle, loads ``FinancialLSTMRuntime``
as MLServer would, and times each step of one request in-process (median of
``--n`` calls, microseconds): parsing the JSON body into an
``InferenceRequest`` (MLServer's work, paid by the echo floor too), decoding,
scaling + forward + sigmoid, encoding, the whole ``predict`` coroutine, and
the forward the latency benchmark calls "bare forward" (the served ONNX
Runtime graph on a scaled window), and torch's module forward for reference.
``--cprofile N`` adds cProfile's top N functions of ``predict`` by own time.

The server adds what ``benchmarks/serving_latency.py`` measures as the echo
floor; this script shows what is ours.

Run:  .venv/bin/python benchmarks/serving_profile.py [--form features|ohlcv] [--cprofile 25]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from financial_mlops.bundle import load_bundle
from financial_mlops.serving.codec import decode_request
from financial_mlops.serving.export import build_serving_dir
from financial_mlops.serving.runtime import FinancialLSTMRuntime, encode_outputs
from financial_mlops.serving.settings import MODEL_SETTINGS_FILE, RuntimeConfig
from mlserver.settings import ModelSettings
from mlserver.types import InferenceRequest, InferenceResponse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serving_latency


def median_us(fn: Callable[[], Any], n: int) -> float:
    for _ in range(min(n, 200)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def load_runtime(work: Path, variant: str, torch_threads: int) -> FinancialLSTMRuntime:
    bundle_dir = serving_latency.build_bundle(variant, work / "bundle", None, None)
    folder = build_serving_dir(
        bundle_dir, work / "model", "profiled", "1", RuntimeConfig(torch_threads=torch_threads)
    )
    settings_file = folder / MODEL_SETTINGS_FILE
    settings = ModelSettings.model_validate(json.loads(settings_file.read_text()))
    # MLServer resolves the relative "uri" against the settings file's folder.
    settings._source = str(settings_file)
    return FinancialLSTMRuntime(settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", default="baseline")
    parser.add_argument("--form", choices=["features", "ohlcv"], default="features")
    parser.add_argument("--n", type=int, default=2000, help="timed calls per step")
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="N", help="print cProfile's top N of predict"
    )
    args = parser.parse_args(argv)

    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="finmlops-profile-") as tmp:
        runtime = load_runtime(Path(tmp), args.variant, args.torch_threads)
        loop.run_until_complete(runtime.load())
        spec = load_bundle(Path(tmp) / "bundle").feature_spec
        n_feat = len(spec.feature_names)
        if args.form == "features":
            body = json.dumps(serving_latency.features_request("features", spec.window, n_feat))
        else:
            body = json.dumps(serving_latency.ohlcv_request(spec.min_bars))
        payload = InferenceRequest.model_validate_json(body)
        limits = runtime._limits
        windows = decode_request(payload, spec, limits)
        proba = runtime._proba(windows)
        scaled = spec.transform(windows)
        module, x = runtime._bundle.model, torch.from_numpy(scaled)

        def predict() -> InferenceResponse:
            return loop.run_until_complete(runtime.predict(payload))

        def module_forward() -> None:
            with torch.inference_mode():
                module(x)

        steps = {
            "parse JSON body -> InferenceRequest (MLServer)": lambda: InferenceRequest.model_validate_json(
                body
            ),
            "decode_request": lambda: decode_request(payload, spec, limits),
            "scale + forward + sigmoid (_proba)": lambda: runtime._proba(windows),
            "encode_outputs": lambda: encode_outputs(proba, 0.5),
            "predict() incl. one event-loop turn": predict,
            "event-loop turn alone": lambda: loop.run_until_complete(asyncio.sleep(0)),
            "served forward ('bare forward' of serving_latency.py)": lambda: runtime._forward(scaled),
            "torch module forward (reference)": module_forward,
        }
        print(
            f"{args.variant}, {args.form} request, torch threads {args.torch_threads}; "
            f"median of {args.n} calls"
        )
        for name, fn in steps.items():
            print(f"  {median_us(fn, args.n):8.1f} us  {name}")
        if args.cprofile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.n):
                predict()
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(args.cprofile)
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
