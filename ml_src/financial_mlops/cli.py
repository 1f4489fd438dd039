"""Command line: ``python -m financial_mlops {synth,train,evaluate}``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from financial_mlops.data import DataValidationError
from financial_mlops.models import VARIANTS
from financial_mlops.synth import SIGNAL_LEVELS
from financial_mlops.tracking import DEFAULT_EXPERIMENT, DEFAULT_TRACKING_URI


def _write_report(report: dict[str, Any], path: str | None) -> None:
    text = json.dumps(report, indent=2, sort_keys=True, allow_nan=False, default=str) + "\n"
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)


def _summary(report: dict[str, Any]) -> str:
    test = report["test"]
    lines = [
        f"test accuracy {test['accuracy']:.4f} (n={test['n']}, up_share {test['up_share']:.3f}, "
        f"roc_auc {test['roc_auc'] if test['roc_auc'] is None else round(test['roc_auc'], 4)})",
        "baselines: " + ", ".join(f"{name} {b['accuracy']:.4f}" for name, b in report["baselines"].items()),
        f"sanity random walk accuracy {report['sanity']['random_walk']['accuracy']:.4f} "
        f"({'passed' if report['sanity']['random_walk']['passed'] else 'FAILED'})",
    ]
    lines += [f"WARNING: {w}" for w in report.get("warnings", [])]
    return "\n".join(lines)


def cmd_synth(args: argparse.Namespace) -> int:
    from financial_mlops.synth import generate_market, write_market

    market = generate_market(
        n_tickers=args.tickers, n_bars=args.bars, seed=args.seed, signal=args.signal, freq=args.freq
    )
    files = write_market(
        args.out, market, seed=args.seed, signal=args.signal, fmt=args.format, single_file=args.single_file
    )
    print(
        f"wrote SYNTHETIC market ({args.signal} signal, seed {args.seed}): {len(files)} file(s) in {args.out}"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from financial_mlops.dataset import SplitConfig
    from financial_mlops.pipeline import run_training
    from financial_mlops.train import TrainConfig

    out_dir = Path(args.output_dir or f"build/train/{args.variant}")
    outcome = run_training(
        args.data,
        args.variant,
        TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            patience=args.patience,
            grad_clip=args.grad_clip,
            seed=args.seed,
            progress=not args.no_progress,
        ),
        SplitConfig(window=args.window, val_fraction=args.val_fraction, test_fraction=args.test_fraction),
        out_dir=out_dir,
        checkpoint_dir=args.checkpoint_dir,
        resume=args.resume,
    )
    if not args.no_tracking:
        from financial_mlops.mlflow_logging import log_training

        section = log_training(outcome, args.tracking_uri, args.experiment, register=not args.no_register)
        print(f"MLflow run {section['run_id']} at {section['tracking_uri']}", file=sys.stderr)
        if "registered_model" in section:
            print(
                f"registered {section['registered_model']} version {section['version']} "
                f"(alias {section['alias']})",
                file=sys.stderr,
            )
    _write_report(outcome.report, args.report)
    print(_summary(outcome.report))
    print(f"bundle: {outcome.bundle_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from financial_mlops.bundle import load_bundle
    from financial_mlops.pipeline import run_evaluation

    if args.bundle:
        bundle_dir = Path(args.bundle)
    else:
        from financial_mlops.mlflow_logging import download_bundle

        bundle_dir = download_bundle(args.model, args.tracking_uri)
    bundle = load_bundle(bundle_dir)
    report = run_evaluation(args.data, bundle, args.output_dir or "build/evaluate", seed=args.seed)
    _write_report(report, args.report)
    print(_summary(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m financial_mlops",
        description="Financial LSTM pipeline: synthetic data, training with MLflow tracking, evaluation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a deterministic SYNTHETIC market (labelled as such)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--tickers", type=int, default=4)
    p.add_argument("--bars", type=int, default=2500, help="bars per ticker")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--signal",
        choices=list(SIGNAL_LEVELS),
        default="medium",
        help="'none' = pure random walk; other levels add a known weak two-bar pattern",
    )
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--freq", default="B", help="pandas bar frequency, e.g. B (business days) or 1h")
    p.add_argument("--single-file", action="store_true", help="one file with a ticker column")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("train", help="train one variant, evaluate it, log and register it in MLflow")
    p.add_argument("--data", required=True, help="CSV/Parquet file or directory of per-ticker files")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="baseline")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window", type=int, default=30, help="bars per input window")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--patience", type=int, default=5, help="early stopping patience in epochs")
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)
    p.add_argument("--output-dir", help="plots, bundle and checkpoints (default build/train/<variant>)")
    p.add_argument("--checkpoint-dir", help="default <output-dir>/checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from the last per-epoch checkpoint")
    p.add_argument(
        "--tracking-uri",
        help=f"MLflow tracking URI (default $MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI})",
    )
    p.add_argument("--experiment", default=DEFAULT_EXPERIMENT)
    p.add_argument("--no-tracking", action="store_true", help="skip MLflow entirely")
    p.add_argument("--no-register", action="store_true", help="log the run but do not register the model")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--report", help="write the JSON report here")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained bundle on the test split of a data set")
    p.add_argument("--data", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bundle", help="bundle directory written by train")
    src.add_argument("--model", help="registered model as NAME@ALIAS or NAME/VERSION (downloads bundle/)")
    p.add_argument("--tracking-uri", help=f"default $MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI}")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-walk sanity data")
    p.add_argument("--output-dir", help="plots (default build/evaluate)")
    p.add_argument("--report", help="write the JSON report here")
    p.set_defaults(func=cmd_evaluate)
    # Serving and model-lifecycle commands (export-serving, gate, promote,
    # rollback, seldon-manifests) live with the serving code.
    from financial_mlops.serving.cli import add_commands

    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (DataValidationError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
