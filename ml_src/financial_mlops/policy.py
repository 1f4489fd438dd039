"""The promotion policy's statistical settings, in one place.

The gate (serving/gate.py ``GateThresholds``), the walk-forward evaluation
and the backtest read their defaults from here, so a change of policy is a
change of this file (or of the matching command-line option), never of a
literal scattered through the code.
"""

from __future__ import annotations

# One-sided significance level of every "the model is better" comparison
# (after Holm's correction across the baselines and the champion).
ALPHA = 0.05
# Metric the gate compares on; each is turned into a per-window score where
# higher is better (accuracy: 1 if right; log_loss and brier: minus the loss).
METRICS = ("accuracy", "log_loss", "brier")
METRIC = "accuracy"
# Walk-forward folds over the out-of-sample part of the timeline.
FOLDS = 4
# Moving-block bootstrap replicates (deterministic seed: a re-run gives the same p-values).
BOOTSTRAP_REPLICATES = 2000
BOOTSTRAP_SEED = 20_240_917
# Two-sided level of the confidence intervals the report and the record show.
CI_LEVEL = 0.95
# Per-trade cost of the illustrative backtest, in basis points of the traded notional.
COST_BPS = 5.0
# Reliability table: equal-width bins of the predicted P(up).
CALIBRATION_BINS = 10
