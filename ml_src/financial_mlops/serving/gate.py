"""The validation gate: may this registered model version become the champion?

Pure logic over plain data (evidence gathered by serving.lifecycle from
MLflow), so every rule is unit-tested without a registry. Each check ends
``pass``, ``fail`` or ``missing``; the version is promoted only when every
check passes, so absent evidence is always a rejection, never a default.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from financial_mlops.bundle import BUNDLE_FILES
from financial_mlops.serving import BUNDLE_ARTIFACT_PATH

DECISION_SCHEMA = "financial-mlops/gate-decision/v1"
REQUIRED_ARTIFACTS = tuple(f"{BUNDLE_ARTIFACT_PATH}/{name}" for name in BUNDLE_FILES)

PASS, FAIL, MISSING = "pass", "fail", "missing"


@dataclass(frozen=True)
class GateThresholds:
    # Fewest test windows a decision may rest on.
    min_test_samples: int = 200
    # Test accuracy must beat the best naive baseline by at least this much.
    min_edge_over_baselines: float = 0.005
    # Test accuracy may be at most this much below the current champion's.
    max_regression_vs_champion: float = 0.0
    # Demand a logged re-evaluation of the artifact (evaluate --train-report)
    # that reproduces the training-time test metrics. The training pipeline
    # sets it; a version without one is then rejected as missing evidence.
    require_reevaluation: bool = False

    def __post_init__(self) -> None:
        if self.min_test_samples < 1:
            raise ValueError(f"min_test_samples must be >= 1, got {self.min_test_samples}")
        if not -1.0 < self.min_edge_over_baselines < 1.0:
            raise ValueError(
                f"min_edge_over_baselines must be in (-1, 1), got {self.min_edge_over_baselines}"
            )
        if not 0.0 <= self.max_regression_vs_champion < 1.0:
            raise ValueError(
                f"max_regression_vs_champion must be in [0, 1), got {self.max_regression_vs_champion}"
            )


@dataclass
class Evidence:
    """What is known about one model version (or a run not registered yet: version None).

    ``None`` in any other field means unknown (missing).
    """

    model: str
    version: str | None
    run_id: str | None = None
    metrics: dict[str, Any] | None = None
    sanity_tag: str | None = None
    artifacts: set[str] | None = None
    variant: str | None = None
    # evaluation/report.json of the run: the logged model re-evaluated.
    evaluation: dict[str, Any] | None = None


@dataclass
class Check:
    name: str
    status: str
    detail: str
    observed: Any = None
    threshold: Any = None


@dataclass
class GateDecision:
    model: str
    version: str | None  # None: a training run, decided before it is registered
    run_id: str | None
    champion_version: str | None
    thresholds: GateThresholds
    checks: list[Check] = field(default_factory=list)

    @property
    def promote(self) -> bool:
        return bool(self.checks) and all(c.status == PASS for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if c.status != PASS]

    def record(self, decided_at: str) -> dict[str, Any]:
        """The decision record (JSON-serialisable) written to disk and logged to MLflow."""
        return {
            "schema": DECISION_SCHEMA,
            "decided_at": decided_at,
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "champion_version": self.champion_version,
            "decision": "promote" if self.promote else "reject",
            "reasons": self.reasons,
            "missing": [c.name for c in self.checks if c.status == MISSING],
            "thresholds": asdict(self.thresholds),
            "checks": [asdict(c) for c in self.checks],
        }


def metric(metrics: dict[str, Any] | None, dotted: str) -> Any:
    """``metrics['a']['b']`` for ``'a.b'`` (a flat ``'a.b'`` key also works); None when absent."""
    if metrics is None:
        return None
    if dotted in metrics:
        return metrics[dotted]
    node: Any = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    return None


def _check_artifacts(ev: Evidence) -> Check:
    if ev.artifacts is None:
        return Check("artifacts", MISSING, f"could not list the artifacts of run {ev.run_id}")
    absent = [a for a in REQUIRED_ARTIFACTS if a not in ev.artifacts]
    if absent:
        return Check("artifacts", FAIL, f"run {ev.run_id} lacks {absent}", observed=sorted(ev.artifacts))
    return Check("artifacts", PASS, "all bundle files present", observed=list(REQUIRED_ARTIFACTS))


def _check_variant(ev: Evidence) -> Check:
    trained = metric(ev.metrics, "model.variant")
    if ev.variant is None or trained is None:
        return Check("variant", MISSING, "the registered model's variant or metrics model.variant is unknown")
    if trained != ev.variant:
        return Check(
            "variant",
            FAIL,
            f"version was trained as {trained!r} but is registered under {ev.model!r}",
            trained,
        )
    return Check("variant", PASS, f"trained as {trained!r}", observed=trained)


def _check_sanity(ev: Evidence) -> Check:
    in_report = _as_bool(metric(ev.metrics, "sanity.random_walk.passed"))
    in_tag = _as_bool(ev.sanity_tag)
    observed = {"metrics": in_report, "run_tag": in_tag}
    if in_report is None or in_tag is None:
        return Check(
            "sanity_random_walk",
            MISSING,
            "sanity.random_walk.passed (metrics.json) and run tag sanity_random_walk_passed "
            "are both required",
            observed,
        )
    if in_report != in_tag:
        return Check("sanity_random_walk", FAIL, "metrics.json and the run tag disagree", observed)
    if not in_report:
        acc = metric(ev.metrics, "sanity.random_walk.accuracy")
        return Check(
            "sanity_random_walk",
            FAIL,
            f"random-walk accuracy {acc} is outside the chance band (leakage?)",
            observed,
        )
    return Check("sanity_random_walk", PASS, "random-walk check passed at training time", observed)


def _check_not_constant(ev: Evidence) -> Check:
    constant = metric(ev.metrics, "checks.constant_predictor")
    if not isinstance(constant, bool):
        return Check("not_constant", MISSING, "metrics checks.constant_predictor is absent")
    if constant:
        share = metric(ev.metrics, "test.up_share")
        return Check("not_constant", FAIL, f"the model predicts one class (test up_share {share})", constant)
    return Check("not_constant", PASS, "predictions vary across the test split", constant)


def _check_samples(ev: Evidence, th: GateThresholds) -> Check:
    n = _number(metric(ev.metrics, "test.n"))
    if n is None:
        return Check("test_samples", MISSING, "metrics test.n is absent", threshold=th.min_test_samples)
    if n < th.min_test_samples:
        return Check(
            "test_samples",
            FAIL,
            f"{int(n)} test windows < {th.min_test_samples}",
            int(n),
            th.min_test_samples,
        )
    return Check("test_samples", PASS, f"{int(n)} test windows", int(n), th.min_test_samples)


def _check_baselines(ev: Evidence, th: GateThresholds) -> Check:
    acc = _number(metric(ev.metrics, "test.accuracy"))
    baselines = metric(ev.metrics, "baselines")
    if acc is None or not isinstance(baselines, dict) or not baselines:
        return Check(
            "beats_baselines", MISSING, "metrics test.accuracy or baselines.<name>.accuracy is absent"
        )
    scores = {name: _number(metric(b, "accuracy")) for name, b in baselines.items()}
    unknown = [name for name, s in scores.items() if s is None]
    if unknown:
        return Check("beats_baselines", MISSING, f"baselines {unknown} have no numeric accuracy")
    best_name = max(scores, key=lambda k: scores[k] or 0.0)
    best = scores[best_name] or 0.0
    edge = acc - best
    observed = {"accuracy": acc, "best_baseline": best_name, "best_baseline_accuracy": best, "edge": edge}
    if edge < th.min_edge_over_baselines:
        return Check(
            "beats_baselines",
            FAIL,
            f"accuracy {acc:.4f} is {edge:+.4f} vs baseline {best_name} ({best:.4f}); "
            f"needs >= {th.min_edge_over_baselines:+.4f}",
            observed,
            th.min_edge_over_baselines,
        )
    return Check(
        "beats_baselines",
        PASS,
        f"accuracy {acc:.4f} beats {best_name} ({best:.4f}) by {edge:+.4f}",
        observed,
        th.min_edge_over_baselines,
    )


# Re-evaluating the same weights on the same bars is deterministic up to float noise.
REPRODUCTION_TOLERANCE = 1e-6


def _check_reevaluation(ev: Evidence) -> Check:
    if ev.evaluation is None:
        return Check(
            "reevaluation", MISSING, f"run {ev.run_id} has no evaluation/report.json (evaluate step)"
        )
    observed = {
        "trained": {"accuracy": metric(ev.metrics, "test.accuracy"), "n": metric(ev.metrics, "test.n")},
        "reevaluated": {
            "accuracy": metric(ev.evaluation, "test.accuracy"),
            "n": metric(ev.evaluation, "test.n"),
        },
    }
    acc, again = _number(observed["trained"]["accuracy"]), _number(observed["reevaluated"]["accuracy"])
    if acc is None or again is None:
        return Check(
            "reevaluation", MISSING, "test.accuracy of training or re-evaluation is absent", observed
        )
    if observed["trained"]["n"] != observed["reevaluated"]["n"] or abs(acc - again) > REPRODUCTION_TOLERANCE:
        return Check(
            "reevaluation",
            FAIL,
            f"the logged model does not reproduce its training-time test result ({observed}): "
            "a different artifact, data set or split was evaluated",
            observed,
            REPRODUCTION_TOLERANCE,
        )
    if _as_bool(metric(ev.evaluation, "sanity.random_walk.passed")) is not True:
        return Check(
            "reevaluation", FAIL, "the re-evaluation's random-walk sanity check did not pass", observed
        )
    n = observed["reevaluated"]["n"]
    return Check(
        "reevaluation", PASS, f"re-evaluation reproduces accuracy {again:.4f} on {n} test windows", observed
    )


def _check_champion(ev: Evidence, champion: Evidence | None, th: GateThresholds) -> Check:
    if champion is None:
        return Check("vs_champion", PASS, f"{ev.model} has no champion yet: first promotion")
    if champion.version == ev.version or (ev.run_id is not None and champion.run_id == ev.run_id):
        return Check(
            "vs_champion", PASS, f"version {champion.version} (run {ev.run_id}) already is the champion"
        )
    acc = _number(metric(ev.metrics, "test.accuracy"))
    champ_acc = _number(metric(champion.metrics, "test.accuracy"))
    if acc is None or champ_acc is None:
        return Check(
            "vs_champion",
            MISSING,
            f"test.accuracy of the candidate or of champion version {champion.version} is absent",
            {"candidate": acc, "champion": champ_acc},
        )
    delta = acc - champ_acc
    observed = {"candidate": acc, "champion": champ_acc, "champion_version": champion.version, "delta": delta}
    if delta < -th.max_regression_vs_champion:
        return Check(
            "vs_champion",
            FAIL,
            f"accuracy {acc:.4f} is {delta:+.4f} vs champion v{champion.version} ({champ_acc:.4f}); "
            f"allowed regression {th.max_regression_vs_champion:.4f}",
            observed,
            th.max_regression_vs_champion,
        )
    return Check(
        "vs_champion",
        PASS,
        f"accuracy {acc:.4f} vs champion v{champion.version} ({champ_acc:.4f}): {delta:+.4f}",
        observed,
        th.max_regression_vs_champion,
    )


def evaluate_gate(
    candidate: Evidence, champion: Evidence | None, thresholds: GateThresholds | None = None
) -> GateDecision:
    """Run every check; ``decision.promote`` is True only when all of them pass."""
    th = thresholds or GateThresholds()
    decision = GateDecision(
        model=candidate.model,
        version=candidate.version,
        run_id=candidate.run_id,
        champion_version=champion.version if champion else None,
        thresholds=th,
    )
    if candidate.metrics is None:
        decision.checks.append(Check("metrics", MISSING, f"no metrics.json for run {candidate.run_id}"))
    decision.checks += [
        _check_artifacts(candidate),
        _check_variant(candidate),
        _check_sanity(candidate),
        _check_not_constant(candidate),
        _check_samples(candidate, th),
        _check_baselines(candidate, th),
        _check_champion(candidate, champion, th),
    ]
    if th.require_reevaluation:
        decision.checks.append(_check_reevaluation(candidate))
    return decision
