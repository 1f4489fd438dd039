"""Train/evaluate reports and gate records shaped like the pipeline's, for the HTML report tests.

``full_*`` carry the keys the statistics of issue 17 add (confidence intervals,
calibration bins, the equity curve, gate comparisons), with exactly the names
of that contract; ``bare_*`` have only what reports held before.
"""

from __future__ import annotations

import copy
from typing import Any


def bare_train_report(variant: str = "baseline", synthetic: bool = True) -> dict[str, Any]:
    history = [
        {"epoch": e, "train_loss": 0.70 - 0.01 * e, "val_loss": 0.69 - 0.004 * e,
         "val_accuracy": 0.50 + 0.01 * e, "val_roc_auc": 0.5 + 0.01 * e}
        for e in range(1, 7)
    ]  # fmt: skip
    return {
        "model": {"variant": variant, "hidden_size": 64, "num_layers": 2, "parameters": 52289},
        "data": {"synthetic": synthetic, "tickers": ["SYNTH00", "SYNTH01"]},
        "training": {"history": history, "best_epoch": 5, "epochs_run": 6},
        "test": {"accuracy": 0.589, "n": 1092},
        "baselines": {
            "majority_class": {"accuracy": 0.513},
            "previous_direction": {"accuracy": 0.497},
            "logistic_regression": {"accuracy": 0.521},
        },
        "backtest": {"strategy_total_return": 0.12, "buy_and_hold_total_return": 0.05},
        "warnings": [],
    }


def full_train_report(variant: str = "baseline", synthetic: bool = True) -> dict[str, Any]:
    report = copy.deepcopy(bare_train_report(variant, synthetic))
    report["test"]["accuracy_ci"] = [0.560, 0.618]
    for name, lo_hi in {"majority_class": [0.483, 0.543], "previous_direction": [0.467, 0.527],
                        "logistic_regression": [0.491, 0.551]}.items():  # fmt: skip
        report["baselines"][name]["accuracy_ci"] = lo_hi
    report["calibration"] = {
        "bins": [
            {"lo": i / 10, "hi": (i + 1) / 10, "n": 50 + i, "mean_predicted": i / 10 + 0.05,
             "observed_up_rate": min(1.0, i / 10 + 0.02)}
            for i in range(10)
        ]
    }  # fmt: skip
    n = 60
    report["backtest"]["equity_curve"] = {
        "dates": [f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(n)],
        "strategy": [1 + 0.002 * i for i in range(n)],
        "strategy_after_costs": [1 + 0.0015 * i for i in range(n)],
        "buy_and_hold": [1 + 0.001 * i for i in range(n)],
    }
    report["backtest"]["cost_bps"] = 5
    report["folds"] = [{"fold": 1, "test": {"accuracy": 0.58}}, {"fold": 2, "test": {"accuracy": 0.60}}]
    report["pooled"] = {"accuracy": 0.589, "accuracy_ci": [0.560, 0.618]}
    return report


def gate_record(decision: str = "promote", with_comparisons: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {"decision": decision, "reasons": [] if decision == "promote" else ["no better"]}
    if with_comparisons:
        record["comparisons"] = [
            {"against": "logistic_regression", "metric": "accuracy", "difference": 0.068,
             "ci": [0.031, 0.104], "p_value": 0.0004, "p_adjusted": 0.0012, "effective_n": 1092,
             "passed": True},
        ]  # fmt: skip
    return record
