"""How the data pipeline's cost grows with data: 1, 10, 100 tickers x 2,500 synthetic bars.

For each size, a fresh Python process (so peak memory is that size's own)
writes a synthetic data set as per-ticker CSV files, then times

- ``validate-data``: ``load_market`` (read + every check) and ``require_rows``;
- ``features``: ``ticker_samples`` of every ticker (features, target, dates);
- ``windows``: ``assign_splits``, ``fit_scaler`` and ``build_windows`` of the three splits;
- ``epoch``: one ``train_epoch`` of the chosen variant over the training windows,

and records each step's wall time and peak resident memory (the kernel's
high-water mark, reset before each step through ``/proc/self/clear_refs``).
It prints the slope between sizes (log time ratio / log size ratio: 1.0 is
linear) and checks the targets: no step worse than linear, validate-data +
features for the largest size under 10 s, peak memory of the largest run
under 2 GiB.

    .venv/bin/python benchmarks/scaling.py                 # 1, 10, 100 tickers, baseline epoch
    .venv/bin/python benchmarks/scaling.py --json-out build/scaling.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STEPS = ("validate-data", "features", "windows", "epoch")
# A slope this far above 1.0 between two sizes is "worse than linear"; below
# it is noise on a shared machine (a 2x10 s step measured at 2x9 s and 2x11 s).
LINEAR_SLOPE_LIMIT = 1.2
# Below this the smaller measurement is dominated by fixed costs (imports,
# first-call allocations): its slope is printed but not judged.
MIN_SECONDS_FOR_SLOPE = 0.05
VALIDATE_FEATURES_TARGET_S = 10.0
PEAK_MEMORY_TARGET_BYTES = 2 * 1024**3


# --------------------------------------------------------------------------
# one size, in its own process
# --------------------------------------------------------------------------


def _rss_bytes(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure_size(n_tickers: int, n_bars: int, variant: str, threads: int, batch_size: int) -> dict[str, Any]:
    import torch
    from financial_mlops.data import load_market, require_rows
    from financial_mlops.dataset import (
        SPLITS,
        SplitConfig,
        assign_splits,
        build_windows,
        fit_scaler,
        min_rows_per_ticker,
        ticker_samples,
    )
    from financial_mlops.features import FEATURE_NAMES, WARMUP_BARS
    from financial_mlops.models import build_model
    from financial_mlops.spec import FeatureSpec
    from financial_mlops.synth import generate_market, write_market
    from financial_mlops.train import train_epoch
    from torch import nn

    torch.set_num_threads(threads)
    config = SplitConfig()
    steps: dict[str, dict[str, float]] = {}
    resettable = True

    def timed(name: str, func: Any) -> Any:
        nonlocal resettable
        resettable = _reset_peak() and resettable
        before = _rss_bytes("VmRSS")
        t0 = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - t0
        steps[name] = {"seconds": elapsed, "peak_rss_bytes": _rss_bytes("VmHWM"), "rss_before_bytes": before}
        return result

    with tempfile.TemporaryDirectory(prefix="finmlops-scaling-") as tmp:
        write_market(
            tmp, generate_market(n_tickers=n_tickers, n_bars=n_bars, seed=3), seed=3, signal="medium"
        )

        def validate() -> Any:
            market = load_market(tmp)
            require_rows(market, min_rows_per_ticker(config), "scaling benchmark")
            return market

        market = timed("validate-data", validate)
    samples = timed("features", lambda: [ticker_samples(t, market.series[t].frame) for t in market.tickers])

    def windows() -> dict[str, Any]:
        assign_splits(samples, config)
        mean, scale = fit_scaler(samples, config.window)
        spec = FeatureSpec(list(FEATURE_NAMES), config.window, WARMUP_BARS, list(mean), list(scale))
        return {split: build_windows(samples, split, spec) for split in SPLITS}

    splits = timed("windows", windows)
    torch.manual_seed(0)
    model = build_model(variant, len(FEATURE_NAMES))
    X, y = torch.from_numpy(splits["train"].X), torch.from_numpy(splits["train"].y)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    generator = torch.Generator().manual_seed(0)
    timed(
        "epoch",
        lambda: train_epoch(model, optimizer, nn.BCEWithLogitsLoss(), X, y, batch_size, generator, 1.0),
    )
    return {
        "tickers": n_tickers,
        "bars_per_ticker": n_bars,
        "bars": n_tickers * n_bars,
        "train_windows": int(X.shape[0]),
        "variant": variant,
        "steps": steps,
        "peak_rss_bytes": max(s["peak_rss_bytes"] for s in steps.values()),
        "peak_is_per_step": resettable,
    }


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------


def slope(t_small: float, t_large: float, n_small: int, n_large: int) -> float:
    return math.log(t_large / t_small) / math.log(n_large / n_small)


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for n in args.tickers:
        cmd = [
            sys.executable,
            __file__,
            "--one-size",
            str(n),
            "--bars",
            str(args.bars),
            "--variant",
            args.variant,
            "--threads",
            str(args.threads),
            "--batch-size",
            str(args.batch_size),
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  measured {n} ticker(s)", file=sys.stderr, flush=True)
    slopes: dict[str, list[dict[str, Any]]] = {s: [] for s in STEPS}
    for small, large in itertools.pairwise(runs):
        for step in STEPS:
            a, b = small["steps"][step]["seconds"], large["steps"][step]["seconds"]
            value = slope(a, b, small["bars"], large["bars"])
            judged = a >= MIN_SECONDS_FOR_SLOPE
            slopes[step].append(
                {
                    "from_tickers": small["tickers"],
                    "to_tickers": large["tickers"],
                    "slope": value,
                    "judged": judged,
                    "met": (value <= LINEAR_SLOPE_LIMIT) if judged else None,
                }
            )
    largest = runs[-1]
    vf = largest["steps"]["validate-data"]["seconds"] + largest["steps"]["features"]["seconds"]
    targets = [
        {
            "name": f"validate-data + features, {largest['tickers']} x {largest['bars_per_ticker']} bars",
            "value": vf,
            "target": f"< {VALIDATE_FEATURES_TARGET_S:.0f} s",
            "met": vf < VALIDATE_FEATURES_TARGET_S,
        },
        {
            "name": f"peak memory of the {largest['tickers']}-ticker run ({largest['variant']})",
            "value": largest["peak_rss_bytes"] / 1024**3,
            "target": "< 2 GiB",
            "met": largest["peak_rss_bytes"] < PEAK_MEMORY_TARGET_BYTES,
        },
    ]
    for step in STEPS:
        judged = [s for s in slopes[step] if s["judged"]]
        worst = max((s["slope"] for s in judged), default=None)
        targets.append(
            {
                "name": f"{step}: no worse than linear (largest judged slope)",
                "value": worst,
                "target": f"<= {LINEAR_SLOPE_LIMIT}",
                "met": None if worst is None else worst <= LINEAR_SLOPE_LIMIT,
            }
        )
    return {
        "runs": runs,
        "slopes": slopes,
        "targets": targets,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
    }


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "NOT met")


def render(report: dict[str, Any]) -> str:
    lines = [
        "| tickers x bars | step | seconds | peak RSS MiB | slope vs previous size |",
        "|---|---|---:|---:|---:|",
    ]
    for i, run_ in enumerate(report["runs"]):
        for step in STEPS:
            s = run_["steps"][step]
            if i == 0:
                slope_text = "-"
            else:
                sl = report["slopes"][step][i - 1]
                slope_text = f"{sl['slope']:.2f}" + ("" if sl["judged"] else " (too short to judge)")
            lines.append(
                f"| {run_['tickers']} x {run_['bars_per_ticker']} | {step} | {s['seconds']:.3f} | "
                f"{s['peak_rss_bytes'] / 1024**2:.0f} | {slope_text} |"
            )
    load = report["load_average"]
    lines += [
        "",
        f"machine: {report['cpus']} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        f"(1/5/15 min) at the end; torch threads {report['threads']}; epoch variant "
        f"{report['runs'][-1]['variant']}, {report['runs'][-1]['train_windows']} training windows at the "
        "largest size",
    ]
    for t in report["targets"]:
        value = "-" if t["value"] is None else f"{t['value']:.3f}"
        lines.append(f"TARGET {t['name']}: {value} (target {t['target']}): {verdict(t['met'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickers", type=int, nargs="+", default=[1, 10, 100], help="sizes, ascending")
    p.add_argument("--bars", type=int, default=2500, help="bars per ticker")
    p.add_argument("--variant", default="baseline", help="model variant of the training epoch")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--json-out", help="also write the report as JSON here")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    p.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one_size is not None:
        print(json.dumps(measure_size(args.one_size, args.bars, args.variant, args.threads, args.batch_size)))
        return 0
    report = run(args)
    print(render(report))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if args.strict and any(t["met"] is False for t in report["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
