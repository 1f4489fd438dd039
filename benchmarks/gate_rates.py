#!/usr/bin/env python3
"""How often does the validation gate promote, per kind of market? (a benchmark, not a test)

For N seeds of each market -- a pure random walk, the weak and the strong
synthetic two-bar signal, and an AR(1) market (phi = 0.3) -- it generates
the SYNTHETIC data, trains the lightweight variant through the same
pipeline as ``python -m financial_mlops train`` (final model, walk-forward
folds, baselines, sanity check), runs the gate on the report with the
package's default policy, and prints the promotion rate per market with a
95% Wilson interval against the targets:

- random walk: promotion rate <= 5% (luck must not pass);
- strong signal and AR(1): promotion rate >= 90% (skill must pass).

Nothing is logged to MLflow; the gate sees the report as it would see
metrics.json. It trains ``4 markets x N x (1 + folds)`` models: size it with
--seeds/--bars/--epochs on a busy machine and say so beside the figures.

    OMP_NUM_THREADS=1 python benchmarks/gate_rates.py --seeds 20 --json build/gate_rates.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from financial_mlops import policy
from financial_mlops.data import MarketData, TickerSeries
from financial_mlops.dataset import SplitConfig, prepare
from financial_mlops.feature_files import data_section
from financial_mlops.pipeline import train_prepared
from financial_mlops.serving.gate import REQUIRED_ARTIFACTS, Evidence, GateThresholds, evaluate_gate
from financial_mlops.synth import generate_market
from financial_mlops.train import TrainConfig

# market name -> (synth signal, AR(1) phi, target: ("max"|"min", rate))
MARKETS: dict[str, tuple[str, float | None, tuple[str, float] | None]] = {
    "random_walk": ("none", None, ("max", 0.05)),
    "weak_signal": ("weak", None, None),
    "strong_signal": ("strong", None, ("min", 0.90)),
    "ar1_phi_0.3": ("none", 0.3, ("min", 0.90)),
}
VARIANT = "lightweight"
# seeds of different markets never coincide
SEED_STRIDE = 1000


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def market_data(signal: str, ar1: float | None, tickers: int, bars: int, seed: int) -> MarketData:
    frames = generate_market(n_tickers=tickers, n_bars=bars, seed=seed, signal=signal, ar1=ar1)
    series = {
        t: TickerSeries(ticker=t, source=f"<synthetic {t}>", frame=f, rows=np.arange(1, len(f) + 1))
        for t, f in frames.items()
    }
    label = {"signal": signal, "ar1_phi": ar1}
    return MarketData(series=series, source="<synthetic benchmark market>", synthetic=label)


def one_run(args: argparse.Namespace, market: str, seed: int, workdir: Path) -> dict:
    signal, ar1, _ = MARKETS[market]
    data = market_data(signal, ar1, args.tickers, args.bars, seed)
    prepared = prepare(data, SplitConfig(window=args.window))
    config = TrainConfig(epochs=args.epochs, patience=args.patience, seed=seed, progress=False)
    outcome = train_prepared(
        prepared,
        data_section(data, prepared),
        VARIANT,
        config,
        out_dir=workdir / f"{market}-{seed}",
        folds=args.folds,
        fold_epochs=args.fold_epochs,
    )
    report = json.loads(json.dumps(outcome.report, default=str))  # what metrics.json holds
    evidence = Evidence(
        model=f"financial-lstm-{VARIANT}",
        version=None,
        run_id=f"benchmark-{market}-{seed}",
        metrics=report,
        sanity_tag=str(report["sanity"]["random_walk"]["passed"]).lower(),
        artifacts=set(REQUIRED_ARTIFACTS),
        variant=VARIANT,
    )
    decision = evaluate_gate(evidence, None, GateThresholds(min_test_samples=args.min_test_samples))
    # The strict reading (significantly better than EVERY baseline) on the same report, for comparison.
    strict = evaluate_gate(
        evidence,
        None,
        GateThresholds(min_test_samples=args.min_test_samples, superiority_over=tuple(report["baselines"])),
    )
    pooled = report.get("pooled") or {}
    return {
        "market": market,
        "seed": seed,
        "promote": decision.promote,
        "strict_promote": strict.promote,
        "failed_checks": [c.name for c in decision.checks if c.status != "pass"],
        "test_accuracy": report["test"]["accuracy"],
        "pooled_accuracy": (pooled.get("model") or {}).get("accuracy"),
        "pooled_best_baseline": max(
            (b["accuracy"] for b in (pooled.get("baselines") or {}).values()), default=None
        ),
        "max_p_adjusted": max((c["p_adjusted"] for c in decision.comparisons), default=None),
        "seconds": report["wall_seconds"],
    }


def summarise(runs: list[dict], markets: list[str]) -> list[dict]:
    rows = []
    for market in markets:
        mine = [r for r in runs if r["market"] == market]
        n, k = len(mine), sum(r["promote"] for r in mine)
        strict = sum(bool(r.get("strict_promote")) for r in mine)
        if n == 0:
            continue
        lo, hi = wilson(k, n)
        target = MARKETS[market][2]
        if target is None:
            verdict, text = "no target", "-"
        else:
            kind, rate = target
            ok = (k / n <= rate) if kind == "max" else (k / n >= rate)
            verdict = "met" if ok else "NOT met"
            text = f"{'<=' if kind == 'max' else '>='} {rate:.0%}"
        rows.append(
            {
                "market": market,
                "n": n,
                "promoted": k,
                "rate": k / n if n else None,
                "strict_promoted": strict,
                "wilson_95": [lo, hi],
                "target": text,
                "verdict": verdict,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=20, help="seeds per market (target: >= 20)")
    p.add_argument(
        "--markets", default=",".join(MARKETS), help="comma-separated subset of " + ",".join(MARKETS)
    )
    p.add_argument("--tickers", type=int, default=4)
    p.add_argument("--bars", type=int, default=2500, help="bars per ticker (2500: ten years of daily bars)")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--epochs", type=int, default=15, help="maximum epochs of the final model")
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--folds", type=int, default=policy.FOLDS)
    p.add_argument("--fold-epochs", type=int, help="epochs per fold model (default: the final model's best)")
    p.add_argument("--min-test-samples", type=int, default=200)
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 gives stable timings when shared)"
    )
    p.add_argument("--json", help="write every run and the summary here")
    args = p.parse_args(argv)
    markets = [m.strip() for m in args.markets.split(",") if m.strip()]
    unknown = sorted(set(markets) - set(MARKETS))
    if unknown:
        p.error(f"unknown markets {unknown}; choose from {list(MARKETS)}")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="gate-rates-") as tmp:
        for seed in range(args.seeds):
            for m, market in enumerate(markets):
                run = one_run(args, market, seed + SEED_STRIDE * (m + 1), Path(tmp))
                runs.append(run)
                print(
                    f"{market:14s} seed {run['seed']:5d}: {'PROMOTE' if run['promote'] else 'reject '} "
                    f"pooled acc {run['pooled_accuracy'] or float('nan'):.4f} vs best baseline "
                    f"{run['pooled_best_baseline'] or float('nan'):.4f}, max Holm p "
                    f"{run['max_p_adjusted'] if run['max_p_adjusted'] is not None else float('nan'):.4f}"
                    + (f", failed {run['failed_checks']}" if run["failed_checks"] else "")
                    + f", strict {'PROMOTE' if run['strict_promote'] else 'reject'}"
                    + f" ({run['seconds']:.0f} s)",
                    flush=True,
                )
                if args.json:  # after every run: an interrupted benchmark keeps what it measured
                    _write(args, runs, summarise(runs, markets))
    summary = summarise(runs, markets)
    elapsed = time.perf_counter() - started
    load = os.getloadavg()
    print(
        f"\ngate promotion rates ({VARIANT}, {args.tickers} tickers x {args.bars} bars, "
        f"window {args.window}, "
        f"<= {args.epochs} epochs, {args.folds} folds, alpha {policy.ALPHA}, metric {policy.METRIC}, "
        f"superiority over {list(policy.SUPERIORITY_OVER)}, non-inferiority margin "
        f"{policy.NON_INFERIORITY_MARGIN[policy.METRIC]} to the others; "
        f"{elapsed / 60:.1f} min, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})"
    )
    print(
        f"{'market':15s} {'N':>3s} {'promoted':>8s} {'rate':>6s} {'95% Wilson':>15s}  target   verdict"
        "   (strict: better than every baseline)"
    )
    for row in summary:
        lo, hi = row["wilson_95"]
        print(
            f"{row['market']:15s} {row['n']:3d} {row['promoted']:8d} {row['rate']:6.1%} "
            f"[{lo:5.1%}, {hi:5.1%}]  {row['target']:7s}  {row['verdict']:7s}"
            f"   {row['strict_promoted']}/{row['n']}"
        )
    if args.json:
        _write(args, runs, summary)
    return 0


def _write(args: argparse.Namespace, runs: list[dict], summary: list[dict]) -> None:
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"args": vars(args), "summary": summary, "runs": runs}, indent=2) + "\n"
    )


if __name__ == "__main__":
    sys.exit(main())
