"""Command line: ``python -m financial_mlops COMMAND``.

The training pipeline's steps, in order: ingest, validate-data, features,
train, evaluate, then gate, register, promote (serving/cli.py). ``synth``
writes a synthetic market on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from financial_mlops import policy
from financial_mlops.data import DataValidationError
from financial_mlops.dataset import SplitConfig
from financial_mlops.models import VARIANTS
from financial_mlops.synth import SIGNAL_LEVELS
from financial_mlops.tracking import DEFAULT_EXPERIMENT, DEFAULT_TRACKING_URI, train_run_id


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
    pooled = report.get("pooled")
    if pooled:
        lines.append(
            f"walk-forward pooled accuracy {pooled['model']['accuracy']:.4f} "
            f"(95% CI {pooled['model']['accuracy_ci'][0]:.4f}-{pooled['model']['accuracy_ci'][1]:.4f}, "
            f"n={pooled['n']}, {len(report['folds'])} folds)"
        )
    lines += [f"WARNING: {w}" for w in report.get("warnings", [])]
    return "\n".join(lines)


def cmd_synth(args: argparse.Namespace) -> int:
    from financial_mlops.synth import generate_market, write_market

    signal = "none" if args.ar1 is not None else args.signal
    market = generate_market(
        n_tickers=args.tickers, n_bars=args.bars, seed=args.seed, signal=signal, freq=args.freq, ar1=args.ar1
    )
    files = write_market(
        args.out,
        market,
        seed=args.seed,
        signal=signal,
        fmt=args.format,
        single_file=args.single_file,
        ar1=args.ar1,
    )
    kind = f"AR(1) phi={args.ar1}" if args.ar1 is not None else f"{args.signal} signal"
    print(f"wrote SYNTHETIC market ({kind}, seed {args.seed}): {len(files)} file(s) in {args.out}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from financial_mlops.ingest import SyntheticOptions, ingest

    manifest = ingest(
        args.source,
        args.out,
        SyntheticOptions(tickers=args.synthetic_tickers, bars=args.synthetic_bars, seed=args.seed),
    )
    label = "SYNTHETIC " if manifest["synthetic"] else ""
    print(
        f"ingested {label}data set {manifest['fingerprint']} from {manifest['source']}: "
        f"{len(manifest['tickers'])} ticker(s), {sum(manifest['bars_per_ticker'].values())} bars, "
        f"{len(manifest['files'])} file(s) in {args.out}"
    )
    return 0


def _split_config(args: argparse.Namespace) -> SplitConfig:
    return SplitConfig(window=args.window, val_fraction=args.val_fraction, test_fraction=args.test_fraction)


def cmd_validate_data(args: argparse.Namespace) -> int:
    from financial_mlops.data import load_market
    from financial_mlops.dataset import prepare
    from financial_mlops.feature_files import data_section

    market = load_market(args.data)
    # The same checks training makes (enough bars and windows per split), before any training starts.
    prepared = prepare(market, _split_config(args))
    report = data_section(market, prepared)
    report["per_ticker"] = {
        t: {
            "bars": len(market.series[t].frame),
            "first": market.series[t].frame.index[0].isoformat(),
            "last": market.series[t].frame.index[-1].isoformat(),
        }
        for t in market.tickers
    }
    _write_report(report, args.report)
    label = "SYNTHETIC " if report["synthetic"] else ""
    sizes = ", ".join(f"{k} {v}" for k, v in report["split_sizes"].items())
    print(
        f"valid {label}data set {args.data}: {len(market.tickers)} ticker(s), {market.n_bars} bars; "
        f"windows {sizes}"
    )
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from financial_mlops.data import load_market
    from financial_mlops.dataset import prepare
    from financial_mlops.feature_files import data_section, save_features

    market = load_market(args.data)
    prepared = prepare(market, _split_config(args))
    manifest = save_features(prepared, data_section(market, prepared), args.out)
    print(
        f"features of {args.data} in {args.out}: {len(prepared.spec.feature_names)} features, window "
        f"{prepared.spec.window}, windows {manifest['data']['split_sizes']}"
    )
    return 0


def _add_split_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--window", type=int, default=30, help="bars per input window")
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--test-fraction", type=float, default=0.15)


def cmd_train(args: argparse.Namespace) -> int:
    from financial_mlops.feature_files import load_features
    from financial_mlops.pipeline import run_training, train_prepared
    from financial_mlops.train import TrainConfig

    out_dir = Path(args.output_dir or f"build/train/{args.variant}")
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        patience=args.patience,
        grad_clip=args.grad_clip,
        seed=args.seed,
        progress=not args.no_progress,
    )
    common = {
        "out_dir": out_dir,
        "checkpoint_dir": args.checkpoint_dir,
        "resume": args.resume,
        "folds": args.folds,
        "fold_epochs": args.fold_epochs,
        "cost_bps": args.cost_bps,
    }
    if args.features:
        # The split and scaler were fixed by the features step; --window and the fractions do not apply.
        prepared, data = load_features(args.features)
        outcome = train_prepared(prepared, data, args.variant, config, **common)
    else:
        outcome = run_training(args.data, args.variant, config, _split_config(args), **common)
    if not args.no_tracking:
        from financial_mlops.mlflow_logging import log_training
        from financial_mlops.progress import step_note

        step_note(f"train {args.variant}", "logging the run to MLflow and registering the model")
        section = log_training(outcome, args.tracking_uri, args.experiment, register=not args.no_register)
        print(f"MLflow run {section['run_id']} at {section['tracking_uri']}", file=sys.stderr)
        if "registered_model" in section:
            print(
                f"registered {section['registered_model']} version {section['version']} "
                f"(alias {section['alias']})",
                file=sys.stderr,
            )
    _write_report(outcome.report, args.report)
    _write_html_report(args.variant, outcome.report, args.html_report)
    print(_summary(outcome.report))
    print(f"bundle: {outcome.bundle_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from financial_mlops.bundle import load_bundle
    from financial_mlops.pipeline import run_evaluation

    run_id = None
    if args.bundle:
        bundle_dir = Path(args.bundle)
    else:
        from financial_mlops.mlflow_logging import download_bundle, download_run_bundle

        if args.train_report:
            run_id = train_run_id(args.train_report)
            bundle_dir = download_run_bundle(run_id, args.tracking_uri)
        else:
            bundle_dir = download_bundle(args.model, args.tracking_uri)
    bundle = load_bundle(bundle_dir)
    report = run_evaluation(
        args.data, bundle, args.output_dir or "build/evaluate", seed=args.seed, cost_bps=args.cost_bps
    )
    if run_id is not None:
        from financial_mlops.mlflow_logging import log_evaluation

        # The gate compares this re-evaluation with the training-time metrics.
        report["mlflow"] = log_evaluation(run_id, report, args.tracking_uri)
    _write_report(report, args.report)
    _write_html_report(str(report["model"].get("variant", "model")), report, args.html_report)
    print(_summary(report))
    return 0


def _add_cost_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cost-bps",
        type=float,
        default=policy.COST_BPS,
        help="per-trade cost of the illustrative backtest, basis points (default %(default)s)",
    )


def _add_walk_forward_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--folds",
        type=int,
        default=policy.FOLDS,
        help="walk-forward folds over the out-of-sample windows (0: none; the gate then rejects)",
    )
    p.add_argument(
        "--fold-epochs",
        type=int,
        help="epochs of each fold model (default: the final model's best epoch)",
    )


def _write_html_report(name: str, report: dict[str, Any], path: str | None) -> None:
    if path:
        from financial_mlops.html_report import RunEvidence, write_report

        written = write_report([RunEvidence(name, report)], path, title=f"financial-mlops report: {name}")
        print(f"HTML report: {written['path']}", file=sys.stderr)


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
    p.add_argument(
        "--ar1",
        type=float,
        metavar="PHI",
        help="an AR(1) market r[t+1] = PHI * r[t] + noise instead of the --signal pattern",
    )
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "ingest", help="fetch a data set (synthetic, path, http(s)://, s3://) into a folder and validate it"
    )
    p.add_argument(
        "--source",
        required=True,
        help="'synthetic', a path or file:// URI, an http(s):// URL of one file, or s3://BUCKET/KEY|PREFIX/ "
        "(S3/MinIO credentials and AWS_ENDPOINT_URL from the environment)",
    )
    p.add_argument("--out", required=True, help="folder to write (new, empty, or written by ingest before)")
    p.add_argument("--synthetic-tickers", type=int, default=4, help="with --source synthetic")
    p.add_argument(
        "--synthetic-bars", type=int, default=2500, help="with --source synthetic: bars per ticker"
    )
    p.add_argument("--seed", type=int, default=0, help="with --source synthetic")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "validate-data", help="check a data set can be trained on (exit 2 names what is wrong)"
    )
    p.add_argument("--data", required=True, help="CSV/Parquet file or directory of per-ticker files")
    _add_split_args(p)
    p.add_argument("--report", help="write the JSON data report here")
    p.set_defaults(func=cmd_validate_data)

    p = sub.add_parser("features", help="compute features, the chronological split and the scaled windows")
    p.add_argument("--data", required=True, help="CSV/Parquet file or directory of per-ticker files")
    p.add_argument("--out", required=True, help="features folder for train --features")
    _add_split_args(p)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("train", help="train one variant, evaluate it, log and register it in MLflow")
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="CSV/Parquet file or directory of per-ticker files")
    data.add_argument("--features", help="folder written by the features step (fixes window and split)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="baseline")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window", type=int, default=30, help="bars per input window (with --data)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--patience", type=int, default=5, help="early stopping patience in epochs")
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--val-fraction", type=float, default=0.15, help="with --data")
    p.add_argument("--test-fraction", type=float, default=0.15, help="with --data")
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
    _add_walk_forward_args(p)
    p.add_argument("--report", help="write the JSON report here")
    _add_cost_arg(p)
    p.add_argument("--html-report", help="write a self-contained HTML report here (PNG figures beside it)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained bundle on the test split of a data set")
    p.add_argument("--data", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bundle", help="bundle directory written by train")
    src.add_argument("--model", help="registered model as NAME@ALIAS or NAME/VERSION (downloads bundle/)")
    src.add_argument(
        "--train-report",
        help="report.json of a tracked train run: evaluates that run's bundle and logs the result to it",
    )
    p.add_argument("--tracking-uri", help=f"default $MLFLOW_TRACKING_URI, else {DEFAULT_TRACKING_URI}")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-walk sanity data")
    p.add_argument("--output-dir", help="plots (default build/evaluate)")
    p.add_argument("--report", help="write the JSON report here")
    _add_cost_arg(p)
    p.add_argument("--html-report", help="write a self-contained HTML report here (PNG figures beside it)")
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
