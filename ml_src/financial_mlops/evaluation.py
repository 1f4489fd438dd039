"""Test-split evaluation against naive baselines, with explicit call-outs of useless models.

Two failure modes of the previous application must be impossible to miss:
- a constant predictor (always "up") -> ``checks.constant_predictor`` + a warning;
- a model no better than trivial rules -> ``checks.beats_all_baselines`` false + a warning.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.linear_model import LogisticRegression

from financial_mlops import policy
from financial_mlops.dataset import PreparedData, SplitArrays
from financial_mlops.features import FEATURE_NAMES
from financial_mlops.metrics import classification_metrics, long_flat_backtest
from financial_mlops.significance import mean_ci, ticker_groups, window_scores

CONSTANT_UP_SHARE = 0.02  # predicting one class for >= 98% of bars counts as constant
CONSTANT_PROBA_STD = 1e-3
_RET_1 = FEATURE_NAMES.index("ret_1")


def baseline_probabilities(train: SplitArrays, test: SplitArrays) -> dict[str, np.ndarray]:
    """P(up) on the test split for each naive baseline (fitted on train only)."""
    up_rate = float(train.y.mean())
    lr = LogisticRegression(max_iter=1000)
    lr.fit(train.X[:, -1, :], train.y.astype(int))
    return {
        # constant: the train up-rate, i.e. always the majority class
        "majority": np.full(test.n, up_rate),
        # hard rule: the next bar repeats the last bar's direction
        "previous_bar": (test.X_raw_last[:, _RET_1] > 0).astype(np.float64),
        "logistic_regression": lr.predict_proba(test.X[:, -1, :])[:, 1],
    }


def constant_predictor(metrics: dict) -> bool:
    if not metrics["n"]:
        return False
    share = metrics["up_share"]
    return bool(
        share <= CONSTANT_UP_SHARE
        or share >= 1.0 - CONSTANT_UP_SHARE
        or metrics["proba_std"] < CONSTANT_PROBA_STD
    )


def evaluate_split(
    proba: np.ndarray, prepared: PreparedData, split: str = "test", cost_bps: float = policy.COST_BPS
) -> tuple[dict, dict, dict, dict, list[str]]:
    """Returns (metrics, baselines, backtest, checks, warnings) plus equity curves via the backtest.

    Every accuracy carries ``accuracy_ci``: a 95% moving-block bootstrap
    interval (blocks of ``window`` consecutive windows within a ticker).
    """
    data = prepared.splits[split]
    groups = ticker_groups(data.ticker, data.end_index)
    block = prepared.config.window

    def scored(p: np.ndarray) -> dict:
        m = classification_metrics(data.y, p)
        m["accuracy_ci"] = mean_ci(window_scores(data.y, p, "accuracy"), groups, block) if data.n else None
        return m

    metrics = scored(proba)
    baselines = {
        name: scored(p) for name, p in baseline_probabilities(prepared.splits["train"], data).items()
    }
    backtest, curves = long_flat_backtest(
        data.dates, data.next_return, proba >= 0.5, ticker=data.ticker, cost_bps=cost_bps
    )
    checks, warnings = judge(metrics, baselines)
    backtest["curves"] = curves
    return metrics, baselines, backtest, checks, warnings


def judge(metrics: dict, baselines: dict[str, dict]) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    is_constant = constant_predictor(metrics)
    if is_constant:
        warnings.append(
            f"CONSTANT PREDICTOR: the model predicts 'up' for {metrics['up_share']:.1%} of test bars "
            f"(probability std {metrics['proba_std']:.2e}), i.e. (almost) always the same class; it has "
            "learned nothing beyond the class prior. "
            "Check for a sigmoid inside the model combined with BCEWithLogitsLoss, a dead learning rate, "
            "or features without information."
        )
    best_name = max(baselines, key=lambda k: baselines[k]["accuracy"])
    best_acc = baselines[best_name]["accuracy"]
    edge = metrics["accuracy"] - best_acc
    # Standard error of an accuracy difference near 50% on n test bars.
    se = math.sqrt(0.5 / max(metrics["n"], 1))
    beats_all = all(metrics["accuracy"] > b["accuracy"] for b in baselines.values())
    if not beats_all:
        warnings.append(
            f"NO BETTER THAN BASELINES: test accuracy {metrics['accuracy']:.4f} does not beat "
            f"{best_name} ({best_acc:.4f}); the model adds nothing over a trivial rule."
        )
    elif edge < 2 * se:
        warnings.append(
            f"WEAK EDGE: test accuracy beats the best baseline ({best_name}) by {edge:.4f}, "
            f"less than two standard errors ({2 * se:.4f}) on n={metrics['n']}."
        )
    checks = {
        "constant_predictor": is_constant,
        "beats_all_baselines": beats_all,
        "best_baseline": best_name,
        "edge_vs_best_baseline": edge,
        "edge_standard_error": se,
        "edge_significant": bool(beats_all and edge >= 2 * se),
    }
    return checks, warnings
