"""Serving subcommands: export-serving, gate, register, promote, rollback, seldon-manifests, publish.

``add_commands(subparsers)`` adds them to an argparse sub-parser group; each
sets ``func`` to a handler ``(args) -> exit code``. Every command prints one
JSON document on stdout (``seldon-manifests`` may print YAML) so playbooks
read results with ``from_json``; errors go to stderr with exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from mlflow.exceptions import MlflowException

from financial_mlops.policy import METRICS as GATE_METRICS
from financial_mlops.serving.export import export_from_registry
from financial_mlops.serving.gate import GateThresholds
from financial_mlops.serving.lifecycle import PromotionRefused, promote, register_run, rollback, run_gate
from financial_mlops.serving.publish import PublishFailed
from financial_mlops.serving.registry import RegistryError, client_for
from financial_mlops.serving.seldon import (
    DEFAULT_ARTIFACTS_DESTINATION,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_NAMESPACE,
    DEFAULT_SECRET_NAME,
    ABSplit,
    SeldonOptions,
    StorageNotServable,
    build_seldon_manifests,
)
from financial_mlops.serving.settings import RuntimeConfig
from financial_mlops.tracking import CHALLENGER_ALIAS, registered_model_name, train_run_id

Handler = Callable[[argparse.Namespace], int]
EXIT_REJECTED = 3


# Errors an operator can act on: printed as one line, exit code 1.
OPERATOR_ERRORS = (
    RegistryError,
    PromotionRefused,
    StorageNotServable,
    PublishFailed,
    MlflowException,
    ValueError,
    OSError,
)


def _safe(handler: Handler) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except OPERATOR_ERRORS as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1

    return run


def _emit(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def _model_name(args: argparse.Namespace) -> str:
    return args.model or registered_model_name(args.variant)


def _add_model_args(p: argparse.ArgumentParser, default_alias: str | None) -> None:
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", help="registered model name, e.g. financial-lstm-baseline")
    who.add_argument("--variant", help="model variant; the registered model is financial-lstm-<variant>")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--alias", default=default_alias, help=f"registry alias (default: {default_alias})")
    which.add_argument("--version", help="registry version number (overrides --alias)")


def _add_tracking(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then sqlite:///mlruns.db)"
    )


def _add_runtime_knobs(p: argparse.ArgumentParser) -> None:
    d = RuntimeConfig()
    p.add_argument(
        "--max-batch-size", type=int, default=d.max_batch_size, help="windows per request (400 above)"
    )
    p.add_argument("--max-bars", type=int, default=d.max_bars, help="raw bars per series (400 above)")
    p.add_argument(
        "--threshold", type=float, default=d.threshold, help="P(up) at or above which direction is up"
    )
    p.add_argument(
        "--torch-threads", type=int, default=d.torch_threads, help="torch threads per MLServer worker"
    )


def _runtime_config(args: argparse.Namespace) -> RuntimeConfig:
    return RuntimeConfig(args.max_batch_size, args.max_bars, args.threshold, args.torch_threads)


def _add_thresholds(p: argparse.ArgumentParser) -> None:
    d = GateThresholds()
    p.add_argument("--min-test-samples", type=int, default=d.min_test_samples)
    p.add_argument(
        "--min-edge-over-baselines",
        type=float,
        default=d.min_edge_over_baselines,
        help="smallest observed walk-forward difference on --metric over each baseline (and significance)",
    )
    p.add_argument("--max-regression-vs-champion", type=float, default=d.max_regression_vs_champion)
    p.add_argument(
        "--alpha",
        type=float,
        default=d.alpha,
        help="one-sided level of the Holm-adjusted paired tests (default %(default)s; 1 = significance off)",
    )
    p.add_argument(
        "--metric",
        choices=list(GATE_METRICS),
        default=d.metric,
        help="what the paired tests compare (default %(default)s; log_loss punishes confident nonsense)",
    )
    p.add_argument(
        "--superiority-over",
        nargs="+",
        default=list(d.superiority_over),
        metavar="BASELINE",
        help="baselines the model must be significantly better than (default %(default)s); "
        "against the others it must be not worse by more than --non-inferiority-margin",
    )
    p.add_argument(
        "--non-inferiority-margin",
        type=float,
        default=None,
        help="in the --metric's per-window score units (default: the policy's for that metric)",
    )
    p.add_argument(
        "--require-reevaluation",
        action="store_true",
        help="also demand a logged re-evaluation (evaluate --train-report) that reproduces the test result",
    )


def _thresholds(args: argparse.Namespace) -> GateThresholds:
    return GateThresholds(
        args.min_test_samples,
        args.min_edge_over_baselines,
        args.max_regression_vs_champion,
        require_reevaluation=args.require_reevaluation,
        alpha=args.alpha,
        metric=args.metric,
        superiority_over=tuple(args.superiority_over),
        non_inferiority_margin=args.non_inferiority_margin,
    )


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the {what} {path}: {exc}") from None


def cmd_export(args: argparse.Namespace) -> int:
    client = client_for(args.tracking_uri)
    alias = None if args.version else args.alias
    result = export_from_registry(
        client, _model_name(args), args.out, alias, args.version, _runtime_config(args)
    )
    _emit(result.to_dict())
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    client = client_for(args.tracking_uri)
    run_id = train_run_id(args.train_report) if args.train_report else None
    gate = run_gate(
        client,
        _model_name(args),
        alias=None if args.version or run_id else args.alias,
        version=None if run_id else args.version,
        run_id=run_id,
        thresholds=_thresholds(args),
        record_path=args.record,
        log_to_mlflow=not args.no_log,
    )
    # The record, plus what this run did: `changed` (False when the same
    # decision was already recorded) and `already_champion` (nothing to
    # decide), so a runbook reports changed=0 on a rerun with nothing new.
    _emit({**gate.record, "changed": gate.changed, "already_champion": gate.already_champion})
    return 0 if gate.already_champion or gate.decision.promote else EXIT_REJECTED


def cmd_register(args: argparse.Namespace) -> int:
    client = client_for(args.tracking_uri)
    result = register_run(client, _model_name(args), _read_json(args.decision, "decision record"), args.alias)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    _emit(result)
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    client = client_for(args.tracking_uri)
    record = _read_json(args.decision, "decision record") if args.decision else None
    version = args.version
    if args.registration:
        registration = _read_json(args.registration, "registration record")
        if registration.get("model") != _model_name(args):
            raise ValueError(
                f"{args.registration} registers {registration.get('model')}, not {_model_name(args)}"
            )
        version = str(registration["version"])
    result = promote(
        client,
        _model_name(args),
        version=version,
        alias=None if version else args.alias,
        decision_record=record,
        thresholds=_thresholds(args),
        config=_runtime_config(args),
    )
    _emit(result)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    client = client_for(args.tracking_uri)
    _emit(rollback(client, _model_name(args), expected_current=args.expected_current))
    return 0


def cmd_seldon(args: argparse.Namespace) -> int:
    client = client_for(args.tracking_uri)
    options = SeldonOptions(
        namespace=args.namespace,
        secret_name=args.secret_name,
        artifacts_destination=args.artifacts_destination,
        allow_local_storage=args.allow_local_storage,
        verify_artifacts=not args.no_verify_artifacts,
    )
    split = None if args.no_experiment else ABSplit.parse(args.ab, args.experiment_name)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    plan = build_seldon_manifests(client, variants, split, options)
    for note in plan.notes:
        sys.stderr.write(f"note: {note}\n")
    if args.format == "yaml":
        text = yaml.safe_dump_all(plan.manifests, sort_keys=False)
    else:
        text = json.dumps(plan.to_dict(), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from financial_mlops.serving.publish import kubernetes_api, publish

    client = client_for(args.tracking_uri)
    options = SeldonOptions(
        namespace=args.namespace,
        secret_name=args.secret_name,
        artifacts_destination=args.artifacts_destination,
        # A render is a preview: local file:// stores are shown as they are.
        allow_local_storage=args.mode == "render",
    )
    split = ABSplit.parse(args.ab, args.experiment_name) if args.ab.strip() else None
    plan = build_seldon_manifests(client, [args.variant], split, options)
    text = yaml.safe_dump_all(plan.manifests, sort_keys=False)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    if args.mode == "render":
        sys.stderr.write(f"would apply (render mode, no cluster contacted):\n{text}")
    api = kubernetes_api() if args.mode == "apply" else None
    result = publish(plan.manifests, args.mode, args.namespace, api, timeout=args.timeout)
    result.notes = plan.notes
    payload = result.to_dict()
    if args.record:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    _emit(payload)
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("export-serving", help="write an MLServer model folder from the registry")
    _add_model_args(p, default_alias=None)
    p.add_argument("--out", required=True, help="folder to write (mlserver start OUT serves it)")
    _add_tracking(p)
    _add_runtime_knobs(p)
    p.set_defaults(func=_safe(cmd_export))

    p = subparsers.add_parser("gate", help="decide whether a version may become champion (exit 3: rejected)")
    _add_model_args(p, default_alias=CHALLENGER_ALIAS)
    p.add_argument(
        "--train-report",
        help="decide on the training run of this report (not registered yet) instead of a version",
    )
    p.add_argument("--record", help="write the decision record (JSON) here too")
    p.add_argument("--no-log", action="store_true", help="do not log the record to MLflow")
    _add_tracking(p)
    _add_thresholds(p)
    p.set_defaults(func=_safe(cmd_gate))

    p = subparsers.add_parser(
        "register", help="register the training run a gate decision let through (alias challenger)"
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--model")
    who.add_argument("--variant")
    p.add_argument("--decision", required=True, help="record of `gate --train-report ... --record`")
    p.add_argument("--alias", default=CHALLENGER_ALIAS, help=f"alias to set (default: {CHALLENGER_ALIAS})")
    p.add_argument("--out", help="write the registration record (JSON) here too")
    _add_tracking(p)
    p.set_defaults(func=_safe(cmd_register))

    p = subparsers.add_parser("promote", help="gate, then move the champion alias and upload serving/")
    _add_model_args(p, default_alias=CHALLENGER_ALIAS)
    p.add_argument("--decision", help="decision record from `gate --record` (else the gate runs now)")
    p.add_argument("--registration", help="record of `register --out`: promote exactly that version")
    _add_tracking(p)
    _add_thresholds(p)
    _add_runtime_knobs(p)
    p.set_defaults(func=_safe(cmd_promote))

    p = subparsers.add_parser("rollback", help="move the champion alias back to the previous champion")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--model")
    who.add_argument("--variant")
    p.add_argument("--expected-current", help="only roll back if the champion still is this version")
    _add_tracking(p)
    p.set_defaults(func=_safe(cmd_rollback))

    p = subparsers.add_parser("seldon-manifests", help="Seldon Model/Experiment manifests from the registry")
    p.add_argument("--variants", default="baseline", help="comma-separated variants to deploy (champions)")
    p.add_argument("--ab", default="baseline=70,enhanced=30", help="Experiment split VARIANT=WEIGHT,...")
    p.add_argument("--experiment-name", default=DEFAULT_EXPERIMENT_NAME)
    p.add_argument("--no-experiment", action="store_true", help="generate Models only")
    p.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    p.add_argument("--secret-name", default=DEFAULT_SECRET_NAME, help="Secret with the rclone S3 config")
    p.add_argument("--artifacts-destination", default=DEFAULT_ARTIFACTS_DESTINATION)
    p.add_argument(
        "--allow-local-storage", action="store_true", help="accept file:// artifact stores (preview)"
    )
    p.add_argument("--no-verify-artifacts", action="store_true", help="skip the serving/ artifact check")
    p.add_argument("--format", choices=("json", "yaml"), default="json")
    p.add_argument("--out", help="write here instead of stdout")
    _add_tracking(p)
    p.set_defaults(func=_safe(cmd_seldon))

    p = subparsers.add_parser(
        "publish", help="apply the champion's Seldon Model (and A/B Experiment) and wait until Ready"
    )
    p.add_argument("--variant", required=True, help="variant whose champion to publish")
    p.add_argument("--mode", choices=("apply", "render"), default="apply", help="render: only show the YAML")
    p.add_argument("--ab", default="", help="Experiment split VARIANT=WEIGHT,... (empty: no Experiment)")
    p.add_argument("--experiment-name", default=DEFAULT_EXPERIMENT_NAME)
    p.add_argument("--namespace", default=DEFAULT_NAMESPACE)
    p.add_argument("--secret-name", default=DEFAULT_SECRET_NAME, help="Secret with the rclone S3 config")
    p.add_argument("--artifacts-destination", default=DEFAULT_ARTIFACTS_DESTINATION)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for Ready")
    p.add_argument("--out", help="also write the manifests (YAML) here")
    p.add_argument("--record", help="also write the publication record (JSON) here")
    _add_tracking(p)
    p.set_defaults(func=_safe(cmd_publish))
