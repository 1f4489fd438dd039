"""The validation gate: may this registered model version become the champion?

Pure logic over plain data (evidence gathered by serving.lifecycle from
MLflow), so every rule is unit-tested without a registry. Each check ends
``pass``, ``fail`` or ``missing``; the version is promoted only when every
check passes, so absent evidence is always a rejection, never a default.

The skill checks are statistical. The training report carries the
walk-forward out-of-sample predictions of the model and of every naive
baseline on the same windows (``walk_forward.windows``). The gate scores
each window on the policy's metric and runs a paired moving-block bootstrap
(financial_mlops.significance) of the model against each baseline and
against the champion's predictions on the shared windows; Holm's correction
adjusts the family of p-values, and a comparison passes when the adjusted
one-sided p-value is <= alpha. Against the uninformed baselines the policy
names (``superiority_over``: by default the constant train up-rate) and the
champion the test is of superiority ("better"); against the informed rules
(the last bar's sign, a logistic regression) it is of non-inferiority ("not
worse by more than the margin"), because such a rule can be the optimal
forecaster of a market with real signal (AR(1)), which no model can beat.
Separately, no fold may be significantly worse than the best baseline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from financial_mlops import policy
from financial_mlops.bundle import BUNDLE_FILES
from financial_mlops.serving import BUNDLE_ARTIFACT_PATH
from financial_mlops.significance import (
    holm,
    paired_comparison,
    ticker_groups,
    unpaired_comparison,
    window_scores,
)

DECISION_SCHEMA = "financial-mlops/gate-decision/v2"
REQUIRED_ARTIFACTS = tuple(f"{BUNDLE_ARTIFACT_PATH}/{name}" for name in BUNDLE_FILES)

PASS, FAIL, MISSING = "pass", "fail", "missing"


@dataclass(frozen=True)
class GateThresholds:
    # Fewest test windows a decision may rest on.
    min_test_samples: int = policy.MIN_TEST_SAMPLES
    # Besides significance, the observed walk-forward difference on the
    # policy metric over each baseline must be at least this (practical size).
    min_edge_over_baselines: float = policy.MIN_EDGE_OVER_BASELINES
    # Observed difference against the champion may be at most this negative
    # (besides significance; it matters only when alpha = 1 disables that).
    max_regression_vs_champion: float = policy.MAX_REGRESSION_VS_CHAMPION
    # Demand a logged re-evaluation of the artifact (evaluate --train-report)
    # that reproduces the training-time test metrics; a version without one
    # is then rejected as missing evidence. Off for library and ad-hoc CLI
    # use; the pipeline's steps and the model_lifecycle role turn it on as
    # the policy's require_reevaluation says (--require-reevaluation).
    require_reevaluation: bool = False
    # One-sided level of the Holm-adjusted comparisons; 1.0 switches the
    # significance requirement off (smoke runs only; summaries say RELAXED).
    alpha: float = policy.ALPHA
    # accuracy | log_loss | brier: what "better" means.
    metric: str = policy.METRIC
    # Baselines the model must be significantly better than; against the
    # others the test is non-inferiority within the margin.
    superiority_over: tuple[str, ...] = policy.SUPERIORITY_OVER
    # In the metric's per-window score units; None: the policy's for `metric`.
    non_inferiority_margin: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "superiority_over", tuple(self.superiority_over))
        if self.non_inferiority_margin is None and self.metric in policy.NON_INFERIORITY_MARGIN:
            object.__setattr__(self, "non_inferiority_margin", policy.NON_INFERIORITY_MARGIN[self.metric])
        if not self.superiority_over:
            raise ValueError("superiority_over must name at least one baseline (e.g. majority)")
        if self.non_inferiority_margin is not None and not 0.0 <= self.non_inferiority_margin < 1.0:
            raise ValueError(f"non_inferiority_margin must be in [0, 1), got {self.non_inferiority_margin}")
        if self.min_test_samples < 1:
            raise ValueError(f"min_test_samples must be >= 1, got {self.min_test_samples}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.metric not in policy.METRICS:
            raise ValueError(f"metric must be one of {list(policy.METRICS)}, got {self.metric!r}")
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
    # one entry per paired test (each baseline, the champion), Holm-adjusted
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    # per fold: the model against the best baseline, "significantly worse?"
    fold_comparisons: list[dict[str, Any]] = field(default_factory=list)

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
            # JSON-shaped (tuples as lists) so the record returned equals the one read back from disk.
            "thresholds": {
                key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self.thresholds).items()
            },
            "alpha": self.thresholds.alpha,
            "metric": self.thresholds.metric,
            "comparisons": self.comparisons,
            "fold_comparisons": self.fold_comparisons,
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


@dataclass
class _Windows:
    """Per-window walk-forward evidence of one report, scored on one metric."""

    keys: list[tuple[str, str]]
    ticker: np.ndarray
    date: np.ndarray
    fold: np.ndarray
    model: np.ndarray  # per-window scores (higher is better)
    baselines: dict[str, np.ndarray]
    block: int


def _windows(metrics: dict[str, Any] | None, metric_name: str) -> _Windows | str:
    """The scored windows, or a string saying what is missing."""
    wf = metric(metrics, "walk_forward")
    if not isinstance(wf, dict) or "windows" not in wf:
        reason = wf.get("error") if isinstance(wf, dict) else None
        return "metrics walk_forward.windows is absent" + (f" ({reason})" if reason else "")
    w = wf["windows"]
    try:
        y = np.asarray(w["y"], dtype=np.float64)
        arrays = {"model": np.asarray(w["model"], dtype=np.float64)}
        arrays.update({f"b:{k}": np.asarray(v, dtype=np.float64) for k, v in w["baselines"].items()})
        ticker, date = np.asarray(w["ticker"]).astype(str), np.asarray(w["date"]).astype(str)
        fold = np.asarray(w["fold"], dtype=np.int64)
        block = int(wf["block_length"])
    except (KeyError, TypeError, ValueError) as exc:
        return f"metrics walk_forward.windows is malformed ({exc})"
    sizes = {y.size, ticker.size, date.size, fold.size, *(a.size for a in arrays.values())}
    if len(sizes) != 1 or y.size == 0 or not all(np.isfinite(a).all() for a in arrays.values()):
        return "metrics walk_forward.windows has empty, unequal or non-finite columns"
    if len(arrays) < 2:
        return "metrics walk_forward.windows.baselines is empty"
    scores = {k: window_scores(y, a, metric_name) for k, a in arrays.items()}
    return _Windows(
        keys=list(zip(ticker.tolist(), date.tolist(), strict=True)),
        ticker=ticker,
        date=date,
        fold=fold,
        model=scores.pop("model"),
        baselines={k[2:]: v for k, v in scores.items()},
        block=block,
    )


def _significant(p_adjusted: float, th: GateThresholds) -> bool:
    return th.alpha >= 1.0 or p_adjusted <= th.alpha


def _champion_comparison(cand: _Windows, champ: _Windows, th: GateThresholds) -> dict[str, Any]:
    """Paired on the windows both scored (same data); on other data, independent bootstraps."""
    index = {k: i for i, k in enumerate(champ.keys)}
    shared = [(i, index[k]) for i, k in enumerate(cand.keys) if k in index]
    if len(shared) >= th.min_test_samples:
        ci, hi = (np.asarray(x) for x in zip(*shared, strict=True))
        groups = ticker_groups(cand.ticker[ci], cand.date[ci])
        result = paired_comparison(cand.model[ci], champ.model[hi], groups, cand.block)
        result["pairing"] = "paired"
    else:
        result = unpaired_comparison(
            cand.model,
            ticker_groups(cand.ticker, cand.date),
            champ.model,
            ticker_groups(champ.ticker, champ.date),
            cand.block,
        )
        result["pairing"] = f"unpaired ({len(shared)} shared windows < {th.min_test_samples})"
    return result


def _comparisons(
    ev: Evidence, champion: Evidence | None, th: GateThresholds
) -> tuple[list[dict], str | None]:
    """The Holm family: the model against each baseline, and against the champion when there is one."""
    cand = _windows(ev.metrics, th.metric)
    if isinstance(cand, str):
        return [], cand
    unknown = sorted(set(th.superiority_over) - set(cand.baselines))
    if unknown:
        return [], (
            f"superiority_over names {unknown}, not among the report's baselines {sorted(cand.baselines)}: "
            "fix gate_policy.yml or --superiority-over"
        )
    groups = ticker_groups(cand.ticker, cand.date)
    family: list[dict[str, Any]] = []
    for name, scores in cand.baselines.items():
        if name in th.superiority_over:
            result = paired_comparison(cand.model, scores, groups, cand.block)
            family.append(
                {"against": name, "test": "superiority", "floor": th.min_edge_over_baselines, **result}
            )
        else:
            margin = float(th.non_inferiority_margin or 0.0)
            result = paired_comparison(cand.model, scores, groups, cand.block, null=-margin)
            # The observed-difference floor is the margin, or min_edge if a run sets that lower.
            floor = min(-margin, th.min_edge_over_baselines)
            family.append(
                {"against": name, "test": "non-inferiority", "margin": margin, "floor": floor, **result}
            )
    champ_missing = None
    if champion is not None and not _same_as_champion(ev, champion):
        champ = _windows(champion.metrics, th.metric)
        if isinstance(champ, str):
            champ_missing = f"champion version {champion.version}: {champ}"
        else:
            result = _champion_comparison(cand, champ, th)
            family.append(
                {
                    "against": f"champion v{champion.version}",
                    "test": "superiority",
                    "floor": -th.max_regression_vs_champion,
                    **result,
                }
            )
    for entry, p_adj in zip(family, holm([c["p_value"] for c in family]), strict=True):
        entry["metric"] = th.metric
        entry["p_adjusted"] = p_adj
        entry["passed"] = bool(_significant(p_adj, th) and entry["difference"] >= entry.pop("floor"))
    return family, champ_missing


def _describe(c: dict[str, Any]) -> str:
    lo, hi = c["ci"]
    kind = f"not worse by > {c['margin']:.4f}" if c.get("test") == "non-inferiority" else "better"
    return (
        f"{c['against']} ({kind}?): {c['metric']} score difference {c['difference']:+.4f} "
        f"[{lo:+.4f}, {hi:+.4f}], p={c['p_value']:.4f}, Holm p={c['p_adjusted']:.4f}, "
        f"effective n {c['effective_n']:.0f} of {c['n']}"
    )


def _check_baselines(comparisons: list[dict], missing: str | None, th: GateThresholds) -> Check:
    rows = [c for c in comparisons if not c["against"].startswith("champion")]
    if missing is not None or not rows:
        return Check("beats_baselines", MISSING, missing or "no baseline comparisons")
    failed = [c for c in rows if not c["passed"]]
    observed = {c["against"]: {k: c[k] for k in ("difference", "ci", "p_adjusted")} for c in rows}
    relaxed = " (alpha = 1: significance NOT required, RELAXED)" if th.alpha >= 1.0 else ""
    if failed:
        return Check(
            "beats_baselines",
            FAIL,
            f"fails at one-sided alpha={th.alpha} (Holm; better than {list(th.superiority_over)} with "
            f"difference >= {th.min_edge_over_baselines:+.4f}, not worse than the others by more than "
            f"{th.non_inferiority_margin}){relaxed}: " + "; ".join(_describe(c) for c in failed),
            observed,
            th.alpha,
        )
    return Check(
        "beats_baselines",
        PASS,
        f"better than {list(th.superiority_over)} and not worse than the other baselines "
        f"at alpha={th.alpha} (Holm){relaxed}: " + "; ".join(_describe(c) for c in rows),
        observed,
        th.alpha,
    )


def _fold_comparisons(ev: Evidence, th: GateThresholds) -> tuple[list[dict], str | None]:
    """Per fold, is the model significantly WORSE than the baseline that is best over all folds?"""
    w = _windows(ev.metrics, th.metric)
    if isinstance(w, str):
        return [], w
    best = max(w.baselines, key=lambda k: float(w.baselines[k].mean()))
    rows = []
    for fold in np.unique(w.fold):
        idx = np.flatnonzero(w.fold == fold)
        groups = ticker_groups(w.ticker[idx], w.date[idx])
        result = paired_comparison(w.model[idx], w.baselines[best][idx], groups, w.block, alternative="less")
        rows.append({"fold": int(fold), "against": best, "metric": th.metric, **result})
    for row, p_adj in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_adjusted"] = p_adj
        row["significantly_worse"] = bool(th.alpha < 1.0 and p_adj <= th.alpha)
    return rows, None


def _check_folds(rows: list[dict], missing: str | None, th: GateThresholds) -> Check:
    if missing is not None or not rows:
        return Check("folds_not_worse", MISSING, missing or "no walk-forward folds")
    worse = [r for r in rows if r["significantly_worse"]]
    observed = [{k: r[k] for k in ("fold", "against", "difference", "p_adjusted")} for r in rows]
    if worse:
        return Check(
            "folds_not_worse",
            FAIL,
            f"fold(s) {[r['fold'] for r in worse]} significantly worse than {worse[0]['against']} "
            f"(one-sided, Holm over {len(rows)} folds, alpha={th.alpha})",
            observed,
            th.alpha,
        )
    return Check(
        "folds_not_worse",
        PASS,
        f"no fold of {len(rows)} significantly worse than {rows[0]['against']} on {th.metric}",
        observed,
        th.alpha,
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


def _same_as_champion(ev: Evidence, champion: Evidence) -> bool:
    return champion.version == ev.version or (ev.run_id is not None and champion.run_id == ev.run_id)


def _check_champion(
    ev: Evidence, champion: Evidence | None, comparisons: list[dict], missing: str | None, th: GateThresholds
) -> Check:
    if champion is None:
        return Check("vs_champion", PASS, f"{ev.model} has no champion yet: first promotion")
    if _same_as_champion(ev, champion):
        return Check(
            "vs_champion", PASS, f"version {champion.version} (run {ev.run_id}) already is the champion"
        )
    row = next((c for c in comparisons if c["against"].startswith("champion")), None)
    if row is None:
        return Check(
            "vs_champion",
            MISSING,
            missing or f"no comparison with champion version {champion.version}",
        )
    observed = {k: row[k] for k in ("difference", "ci", "p_value", "p_adjusted", "pairing")}
    observed["champion_version"] = champion.version
    status = PASS if row["passed"] else FAIL
    verdict = "better than" if row["passed"] else "not significantly better than"
    return Check(
        "vs_champion",
        status,
        f"{verdict} champion v{champion.version} ({row['pairing']}): {_describe(row)}",
        observed,
        th.alpha,
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
    ]
    comparisons, missing = _comparisons(candidate, champion, th)
    decision.comparisons = comparisons
    cand_missing = missing if not comparisons else None
    decision.checks.append(_check_baselines(comparisons, cand_missing, th))
    folds, folds_missing = _fold_comparisons(candidate, th)
    decision.fold_comparisons = folds
    decision.checks.append(_check_folds(folds, folds_missing, th))
    decision.checks.append(_check_champion(candidate, champion, comparisons, missing, th))
    if th.require_reevaluation:
        decision.checks.append(_check_reevaluation(candidate))
    return decision
