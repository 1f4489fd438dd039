"""Serving benchmark: our runtime against MLServer's own floor, both request forms, both worker settings.

Starts ``mlserver start`` on loopback for every MLServer worker setting
measured (``--parallel-workers 0 1``: inference in the server process, or in
one worker process), each with

  (a) ``financial_mlops.serving.runtime.FinancialLSTMRuntime`` serving a
      bundle of the chosen variant (default: baseline);
  (b) ``EchoRuntime`` below, which returns its input: what MLServer itself
      costs for the same request (the floor);
  (c) with ``--with-mlflow``, ``mlserver_mlflow.MLflowRuntime`` serving the
      same weights as an MLflow pytorch model.

Requests: one window of unscaled features (FP32 [1, window, n_features]) and
the raw bars of the same window (FP64 ``ohlcv`` [1, warm-up + window, 5],
features computed in the server), over REST (keep-alive HTTP/1.1) and over
gRPC (the protocol Seldon's mesh uses). The servers of one worker setting run
side by side and their measurements are interleaved, so background load hits
each alike; the settings are measured one after the other. Reported:
p50/p99 at concurrency 1, requests/s at concurrency 8, the bare forward time
(the served ONNX Runtime graph, and torch's for reference), and the issue's
targets with met / NOT met for the chosen setting
(``financial_mlops.serving.settings.SERVER_PARALLEL_WORKERS``).

Latency depends on the architecture, not the weight values, so by default a
bundle with random weights is built; ``--registry-model NAME@ALIAS`` uses a
registered version instead.

Run:  .venv/bin/python benchmarks/serving_latency.py [--variant baseline] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from financial_mlops.serving.local_server import MLServerProcess, start_mlserver
from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput

# Targets of issue 18 (checked for the chosen worker setting, printed for every one).
RAW_P50_FACTOR = 1.1  # raw ohlcv p50 <= 1.1 x features p50 of the same server
RAW_RPS_FACTOR = 0.9  # raw ohlcv req/s at c=8 >= 0.9 x features req/s
OVERHEAD_BUDGET_MS = 0.25  # features p50 <= echo p50 + bare forward + 0.25 ms
ECHO_RPS_FACTOR = 0.9  # features req/s at c=8 >= 0.9 x echo's


class EchoRuntime(MLModel):
    """Returns its inputs unchanged: the cost of MLServer's own request path."""

    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        outputs = [
            ResponseOutput(name=i.name, datatype=i.datatype, shape=i.shape, data=i.data)
            for i in payload.inputs
        ]
        return InferenceResponse(model_name=self.name, outputs=outputs)


# --------------------------------------------------------------------------
# model folders
# --------------------------------------------------------------------------


def _write_settings(folder: Path, settings: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model-settings.json").write_text(json.dumps(settings, indent=2))
    return folder


def build_bundle(variant: str, out: Path, registry_model: str | None, tracking_uri: str | None) -> Path:
    """A bundle directory for ``variant`` (random weights) or of a registered version."""
    from financial_mlops.bundle import save_bundle
    from financial_mlops.features import FEATURE_NAMES, WARMUP_BARS
    from financial_mlops.models import build_model
    from financial_mlops.spec import FeatureSpec

    if registry_model:
        from financial_mlops.mlflow_logging import download_bundle

        local = download_bundle(registry_model, tracking_uri)
        shutil.copytree(local, out, dirs_exist_ok=True)
        return out
    import torch

    torch.manual_seed(0)
    model = build_model(variant, len(FEATURE_NAMES)).eval()
    n = len(FEATURE_NAMES)
    spec = FeatureSpec(list(FEATURE_NAMES), 30, WARMUP_BARS, [0.0] * n, [1.0] * n)
    return save_bundle(out, model, variant, spec, {"note": "benchmark bundle, random weights"})


def mlflow_model_dir(bundle_dir: Path, out: Path) -> Path:
    """The same weights as an MLflow pytorch model (unscaled windows in, P(up) out), like training logs it."""
    import mlflow.pytorch
    import numpy as np
    import torch
    from financial_mlops.bundle import load_bundle
    from financial_mlops.models import ProbabilityModel
    from mlflow.models import infer_signature

    bundle = load_bundle(bundle_dir)
    spec = bundle.feature_spec
    module = ProbabilityModel.from_spec(bundle.model, spec)
    example = np.zeros((1, spec.window, len(spec.feature_names)), dtype=np.float32)
    with torch.inference_mode():
        signature = infer_signature(example, module(torch.from_numpy(example)).numpy())
    mlflow.pytorch.save_model(module, str(out / "model"), signature=signature, input_example=example)
    return out


# --------------------------------------------------------------------------
# server process
# --------------------------------------------------------------------------


def start_server(folder: Path, workdir: Path, parallel_workers: int, torch_threads: int) -> MLServerProcess:
    return start_mlserver(
        folder,
        workdir / f"{folder.name}-w{parallel_workers}.log",
        extra_env={
            "MLSERVER_PARALLEL_WORKERS": str(parallel_workers),
            # Request logging would be part of every measured request.
            "MLSERVER_DEBUG": "false",
            # Same for every server: idle OpenMP threads of a torch
            # process otherwise spin-wait after each request and steal
            # the CPU of the servers measured beside it on a small
            # machine. Production pods set it too (containers/).
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
            # The echo and MLflow servers import torch too; give every server
            # the thread count our runtime sets, so none spins up more.
            "OMP_NUM_THREADS": str(torch_threads),
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH", "")]
            ),
        },
        # a loaded shared machine needs minutes to start four servers with torch
        timeout=600.0,
    )


# --------------------------------------------------------------------------
# clients: one call = one request, answer checked
# --------------------------------------------------------------------------

Caller = Callable[[], None]


class Target:
    """One (server, protocol, request) combination; ``connect`` gives a caller with its own connection."""

    def __init__(self, label: str, server: MLServerProcess, protocol: str, model: str, request: dict):
        self.label, self.server, self.protocol, self.model = label, server, protocol, model
        if protocol == "rest":
            self._body = json.dumps(request).encode()
        else:
            from mlserver.grpc.converters import ModelInferRequestConverter

            self._grpc_request = ModelInferRequestConverter.from_types(
                InferenceRequest.model_validate(request), model_name=model, model_version=None
            )

    def connect(self) -> tuple[Caller, Callable[[], None]]:
        return self._rest() if self.protocol == "rest" else self._grpc()

    def _rest(self) -> tuple[Caller, Callable[[], None]]:
        path, body = f"/v2/models/{self.model}/infer", self._body
        headers = {"Content-Type": "application/json"}
        state: dict[str, http.client.HTTPConnection] = {}

        def connect() -> http.client.HTTPConnection:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=30)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state["conn"] = conn
            return conn

        def send() -> None:
            conn = state["conn"]
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{self.label}: {path} answered {resp.status}: {payload[:300]!r}")

        def call() -> None:
            try:
                send()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # uvicorn closes a keep-alive connection idle for 5 s, which a
                # round over every target can exceed on a loaded machine
                state["conn"].close()
                connect()
                send()

        connect()
        return call, lambda: state["conn"].close()

    def _grpc(self) -> tuple[Caller, Callable[[], None]]:
        import grpc
        from mlserver.grpc.dataplane_pb2_grpc import GRPCInferenceServiceStub

        channel = grpc.insecure_channel(self.server.grpc_address)
        stub = GRPCInferenceServiceStub(channel)
        request = self._grpc_request

        def call() -> None:
            stub.ModelInfer(request, timeout=30)  # raises grpc.RpcError on any non-OK status

        return call, channel.close


def measure_interleaved(
    targets: list[Target], warmup: int, n: int, local: dict[str, Caller] | None = None
) -> dict[str, list[float]]:
    """Concurrency 1: one request to each target in turn, ``n`` rounds; latency per request.

    ``local`` adds in-process calls (the bare forward) to every round, so
    they are timed under the same background load as the requests they are
    compared with, not in a separate phase.

    The order changes every round (seeded, so runs repeat): in a fixed order
    each target always follows the same neighbour, and the first one of a
    round always follows the last, whose server (with a worker process, still
    finishing its bookkeeping) competes with it for the CPU and leaves it cold
    caches; shuffling spreads that cost over all targets instead of charging
    one.
    """
    connections = {t.label: t.connect() for t in targets}
    callers = {label: call for label, (call, _) in connections.items()} | dict(local or {})
    latencies: dict[str, list[float]] = {label: [] for label in callers}
    order = list(callers)
    shuffle = random.Random(0).shuffle
    for i in range(warmup + n):
        shuffle(order)
        for label in order:
            call = callers[label]
            start = time.perf_counter()
            call()
            if i >= warmup:
                latencies[label].append(time.perf_counter() - start)
    for _, close in connections.values():
        close()
    return latencies


def measure_throughput_rounds(
    targets: list[Target], concurrency: int, seconds: float, rounds: int
) -> dict[str, float]:
    """Requests/s per target at ``concurrency``: ``rounds`` alternating slices of ``seconds / rounds``."""
    done: dict[str, list[float]] = {t.label: [] for t in targets}
    for _ in range(rounds):
        for t in targets:
            done[t.label].append(measure_throughput(t, concurrency, seconds / rounds))
    return {label: statistics.mean(values) for label, values in done.items()}


def measure_throughput(target: Target, concurrency: int, seconds: float) -> float:
    counts = [0] * concurrency
    errors: list[BaseException] = []
    stop = threading.Event()
    barrier = threading.Barrier(concurrency + 1)

    def worker(k: int) -> None:
        try:
            call, close = target.connect()
            call()
            barrier.wait()
            while not stop.is_set():
                call()
                counts[k] += 1
            close()
        except BaseException as exc:  # reported after the run
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"load generator for {target.label} failed: {errors[0]}")
    return sum(counts) / elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


FORWARD_LABEL = "bare/forward"


def served_forward_call(bundle: Any, scaled: Any, threads: int) -> Caller:
    """One in-process call of the forward the runtime serves with, on the scaled window ``scaled``."""
    from financial_mlops.serving.forward import ProbabilityForward

    forward = ProbabilityForward(bundle.model, threads)
    return lambda: forward(scaled)


def one_window(bundle_dir: Path) -> tuple[Any, Any, Any]:
    """(bundle, an unscaled random window [1, T, F], the same window scaled) for in-process timing."""
    import numpy as np
    from financial_mlops.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    spec = bundle.feature_spec
    windows = np.random.default_rng(0).normal(size=(1, spec.window, len(spec.feature_names)))
    return bundle, windows, spec.transform(windows)


def bare_forward_seconds(
    window: tuple[Any, Any, Any], served: Caller, n: int, threads: int
) -> dict[str, float]:
    """Median in-process times (seconds) for one window, the three calls interleaved.

    ``window``: what ``one_window`` returns. ``served``: the call from
    ``served_forward_call``, here timed warm, back to back. ``torch``: the
    torch module forward of the same weights, for reference.
    ``predict_proba``: ``ModelBundle.predict_proba`` incl. scaling.
    """
    import torch

    torch.set_num_threads(threads)
    bundle, windows, scaled = window
    x = torch.from_numpy(scaled)
    calls: dict[str, Callable[[], Any]] = {
        "served": served,
        "torch": lambda: bundle.model(x),
        "predict_proba": lambda: bundle.predict_proba(windows),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    with torch.inference_mode():
        for fn in calls.values():
            for _ in range(50):
                fn()
        for _ in range(n):
            for name, fn in calls.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(values) for name, values in times.items()}


# --------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------


def features_request(name: str, window: int, n_features: int) -> dict[str, Any]:
    import numpy as np

    data = np.random.default_rng(1).normal(size=window * n_features).astype(np.float32).tolist()
    return {"inputs": [{"name": name, "datatype": "FP32", "shape": [1, window, n_features], "data": data}]}


def ohlcv_request(min_bars: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(2)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, min_bars)))
    open_ = close * np.exp(rng.normal(0, 0.002, min_bars))
    high, low = np.maximum(open_, close) * 1.002, np.minimum(open_, close) * 0.998
    volume = rng.uniform(1e5, 2e5, min_bars)
    bars = np.stack([open_, high, low, close, volume], axis=-1)
    return {
        "inputs": [
            {"name": "ohlcv", "datatype": "FP64", "shape": [1, min_bars, 5], "data": bars.ravel().tolist()}
        ]
    }


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from financial_mlops.bundle import load_bundle
    from financial_mlops.serving.export import build_serving_dir
    from financial_mlops.serving.settings import SERVER_PARALLEL_WORKERS, RuntimeConfig

    work = Path(tempfile.mkdtemp(prefix="finmlops-bench-"))
    bundle_dir = build_bundle(args.variant, work / "bundle", args.registry_model, args.tracking_uri)
    spec = load_bundle(bundle_dir).feature_spec
    n_feat = len(spec.feature_names)
    model = f"financial-lstm-{args.variant}"
    config = RuntimeConfig(torch_threads=args.torch_threads)
    ours_dir = build_serving_dir(bundle_dir, work / "ours", model, "1", config)
    echo_dir = _write_settings(
        work / "echo", {"name": "echo", "implementation": "serving_latency.EchoRuntime"}
    )
    features = features_request("features", spec.window, n_feat)
    folders: list[tuple[str, Path, str, list[tuple[str, dict]]]] = [
        ("ours", ours_dir, model, [("features", features), ("ohlcv", ohlcv_request(spec.min_bars))]),
        ("echo", echo_dir, "echo", [("features", features)]),
    ]
    skipped: dict[str, str] = {}
    if args.with_mlflow:
        try:
            import mlserver_mlflow  # noqa: F401

            mlflow_dir = mlflow_model_dir(bundle_dir, work / "mlflow")
            _write_settings(
                mlflow_dir,
                {
                    "name": "mlflow",
                    "implementation": "mlserver_mlflow.MLflowRuntime",
                    "parameters": {"uri": "./model"},
                },
            )
            mlflow_request = features_request("input-0", spec.window, n_feat)
            folders.append(("mlflow", mlflow_dir, "mlflow", [("features", mlflow_request)]))
        except ImportError as exc:
            skipped["mlflow"] = (
                f"mlserver-mlflow is not installed ({exc}); pip install mlserver-mlflow==1.7.1"
            )

    load_before = os.getloadavg()
    targets: list[Target] = []
    latencies: dict[str, list[float]] = {}
    window = one_window(bundle_dir)
    forward_call = served_forward_call(window[0], window[2], args.torch_threads)
    forward_p50: dict[int, float] = {}
    rps: dict[str, float] = {}
    # One worker setting at a time: its servers (ours, echo, ...) run side by
    # side and are measured interleaved; the other setting's servers are not
    # running. A one-worker server is still busy (its worker hand-off) after
    # answering, and interleaved with the in-process servers it charged that
    # CPU to whichever request came next (echo p50 2.8 -> 3.3 ms in one run).
    for workers in args.parallel_workers:
        servers: list[MLServerProcess] = []
        group: list[Target] = []
        try:
            for runtime, folder, name, requests in folders:
                server = start_server(folder, work, workers, args.torch_threads)
                servers.append(server)
                for form, request in requests:
                    for protocol in args.protocols:
                        label = f"{runtime}/{form}/{protocol}/w{workers}"
                        group.append(Target(label, server, protocol, name, request))
            timed = measure_interleaved(group, args.warmup, args.requests, {FORWARD_LABEL: forward_call})
            forward_p50[workers] = percentile(timed.pop(FORWARD_LABEL), 50) * 1e3
            latencies |= timed
            rps |= measure_throughput_rounds(group, args.concurrency, args.seconds, args.rounds)
        finally:
            for server in servers:
                server.stop()
        targets += group
    load_after = os.getloadavg()
    results = {
        t.label: {
            "p50_ms": percentile(latencies[t.label], 50) * 1e3,
            "p99_ms": percentile(latencies[t.label], 99) * 1e3,
            "rps_c8": rps[t.label],
        }
        for t in targets
    }
    bare = bare_forward_seconds(window, forward_call, args.requests, args.torch_threads)
    report: dict[str, Any] = {
        "variant": args.variant,
        "window": spec.window,
        "n_features": n_feat,
        "min_bars": spec.min_bars,
        "requests_c1": args.requests,
        "concurrency": args.concurrency,
        "seconds_c8": args.seconds,
        "parallel_workers": args.parallel_workers,
        "protocols": args.protocols,
        "chosen_parallel_workers": SERVER_PARALLEL_WORKERS,
        "torch_threads": args.torch_threads,
        # The served forward (ONNX Runtime), p50 of the calls timed in the c=1
        # rounds of each worker setting: what the overhead target is measured above.
        "bare_forward_ms": {str(w): ms for w, ms in forward_p50.items()},
        # The same forward timed alone, back to back, after the servers stopped.
        "bare_forward_alone_ms": bare["served"] * 1e3,
        "bare_torch_forward_ms": bare["torch"] * 1e3,
        "bare_predict_proba_ms": bare["predict_proba"] * 1e3,
        # Background load of the machine (1/5/15-minute averages) before and
        # after: a shared machine slows CPU-bound requests more than echo's.
        "load_average": {"before": load_before, "after": load_after},
        "cpus": os.cpu_count(),
        "results": results,
        "skipped": skipped,
    }
    report["checks"] = checks(report)
    shutil.rmtree(work, ignore_errors=True)
    return report


def checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target ratio for every (protocol, worker setting); ``applies`` marks the chosen setting."""
    r = report["results"]
    out = []
    for workers in report["parallel_workers"]:
        for protocol in report["protocols"]:

            def get(runtime: str, form: str, key: str, _p: str = protocol, _w: int = workers) -> float:
                return r[f"{runtime}/{form}/{_p}/w{_w}"][key]

            where = f"{protocol}, parallel_workers={workers}"
            applies = workers == report["chosen_parallel_workers"]
            feat_p50, raw_p50 = get("ours", "features", "p50_ms"), get("ours", "ohlcv", "p50_ms")
            feat_rps, raw_rps = get("ours", "features", "rps_c8"), get("ours", "ohlcv", "rps_c8")
            echo_p50, echo_rps = get("echo", "features", "p50_ms"), get("echo", "features", "rps_c8")
            overhead = feat_p50 - (echo_p50 + report["bare_forward_ms"][str(workers)])
            out += [
                _check(
                    where, applies, "raw ohlcv p50 / features p50", raw_p50 / feat_p50, "<=", RAW_P50_FACTOR
                ),
                _check(
                    where,
                    applies,
                    "raw ohlcv req/s / features req/s (c=8)",
                    raw_rps / feat_rps,
                    ">=",
                    RAW_RPS_FACTOR,
                ),
                _check(
                    where,
                    applies,
                    "features p50 - (echo p50 + bare forward), ms",
                    overhead,
                    "<=",
                    OVERHEAD_BUDGET_MS,
                ),
                _check(
                    where,
                    applies,
                    "features req/s / echo req/s (c=8)",
                    feat_rps / echo_rps,
                    ">=",
                    ECHO_RPS_FACTOR,
                ),
            ]
    return out


def _check(where: str, applies: bool, name: str, value: float, op: str, target: float) -> dict[str, Any]:
    met = value <= target if op == "<=" else value >= target
    return {
        "where": where,
        "applies": applies,
        "name": name,
        "value": value,
        "op": op,
        "target": target,
        "met": met,
    }


def render_table(report: dict[str, Any]) -> str:
    names = {
        "ours/features": f"ours, features [1,{report['window']},{report['n_features']}]",
        "ours/ohlcv": f"ours, raw ohlcv [1,{report['min_bars']},5]",
        "echo/features": "echo (MLServer floor), features",
        "mlflow/features": "mlserver-mlflow runtime, features",
    }
    rows = [
        "| request | protocol | parallel_workers | p50 ms (c=1) | p99 ms (c=1) | req/s (c=8) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for label, res in report["results"].items():
        runtime, form, protocol, workers = label.split("/")
        rows.append(
            f"| {names[f'{runtime}/{form}']} | {protocol} | {workers[1:]} | {res['p50_ms']:.2f} | "
            f"{res['p99_ms']:.2f} | {res['rps_c8']:.0f} |"
        )
    for key, why in report["skipped"].items():
        rows.append(f"| {key}: not run: {why} | | | | | |")
    before, after = report["load_average"]["before"], report["load_average"]["after"]
    lines = [
        *rows,
        "",
        f"machine: {report['cpus']} CPUs; load average (1/5/15 min) {before[0]:.1f}/{before[1]:.1f}/"
        f"{before[2]:.1f} before, {after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f} after the run",
        f"bare forward (1 window, {report['torch_threads']} thread(s)), p50 in the c=1 rounds: "
        + ", ".join(f"{ms:.3f} ms (parallel_workers={w})" for w, ms in report["bare_forward_ms"].items())
        + f"; alone afterwards: served (ONNX Runtime) {report['bare_forward_alone_ms']:.3f} ms, "
        f"torch module {report['bare_torch_forward_ms']:.3f} ms, "
        f"predict_proba incl. scaling (torch) {report['bare_predict_proba_ms']:.3f} ms",
        f"targets apply to the chosen setting parallel_workers={report['chosen_parallel_workers']} "
        "(financial_mlops.serving.settings.SERVER_PARALLEL_WORKERS); other settings are for comparison",
    ]
    for c in report["checks"]:
        tag = "TARGET" if c["applies"] else "(info)"
        verdict = "met" if c["met"] else "NOT met"
        lines.append(
            f"{tag} {c['where']}: {c['name']} = {c['value']:.3f} (target {c['op']} {c['target']}): {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", default="baseline", help="model variant (default: baseline)")
    parser.add_argument(
        "--registry-model", help="NAME@ALIAS or NAME/VERSION to benchmark instead of random weights"
    )
    parser.add_argument("--tracking-uri", help="MLflow tracking URI for --registry-model")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per target at c=1")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per target first")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="total duration of each target's concurrency run"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating slices the concurrency runs are cut in"
    )
    parser.add_argument(
        "--parallel-workers",
        type=int,
        nargs="+",
        default=[0, 1],
        help="MLSERVER_PARALLEL_WORKERS settings to measure side by side",
    )
    parser.add_argument("--protocols", nargs="+", choices=["rest", "grpc"], default=["rest", "grpc"])
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="torch threads (runtime and bare forward)"
    )
    parser.add_argument("--with-mlflow", action="store_true", help="also measure mlserver-mlflow's runtime")
    parser.add_argument("--json-out", help="also write the report as JSON here")
    args = parser.parse_args(argv)
    report = run(args)
    print(render_table(report))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
