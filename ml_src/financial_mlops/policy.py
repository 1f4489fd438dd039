"""The promotion policy's thresholds and statistical settings, read from gate_policy.yml.

The gate (serving/gate.py ``GateThresholds``), the walk-forward evaluation
and the backtest read their defaults from here; the pipeline's parameters,
the local demo and the model_lifecycle role read the same file, so a change
of policy is a change of that file (or of the matching command-line option),
never of a literal scattered through the code.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

POLICY_FILE = "gate_policy.yml"

# Key -> type every value must have (bool is not accepted as an int).
_TYPES: dict[str, type | tuple[type, ...]] = {
    "min_test_samples": int,
    "min_edge_over_baselines": (int, float),
    "max_regression_vs_champion": (int, float),
    "superiority_over": list,
    "non_inferiority_margin": dict,
    "require_reevaluation": bool,
    "alpha": (int, float),
    "metric": str,
    "metrics": list,
    "folds": int,
    "bootstrap_replicates": int,
    "bootstrap_seed": int,
    "ci_level": (int, float),
    "cost_bps": (int, float),
    "calibration_bins": int,
}


def load_policy(text: str | None = None) -> dict[str, Any]:
    """The policy as a dict (``text``: YAML to read instead of the packaged file)."""
    if text is None:
        text = resources.files("financial_mlops").joinpath(POLICY_FILE).read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{POLICY_FILE} must be a mapping of setting -> value")
    missing = sorted(set(_TYPES) - set(data))
    unknown = sorted(set(data) - set(_TYPES))
    if missing or unknown:
        raise ValueError(f"{POLICY_FILE}: missing settings {missing}, unknown settings {unknown}")
    for key, kind in _TYPES.items():
        value = data[key]
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise ValueError(f"{POLICY_FILE}: {key} must be {kind}, got {value!r}")
    if data["metric"] not in data["metrics"]:
        raise ValueError(f"{POLICY_FILE}: metric {data['metric']!r} is not one of metrics {data['metrics']}")
    margins = data["non_inferiority_margin"]
    if sorted(margins) != sorted(data["metrics"]) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in margins.values()
    ):
        raise ValueError(
            f"{POLICY_FILE}: non_inferiority_margin must give a number >= 0 for each of {data['metrics']}, "
            f"got {margins!r}"
        )
    return data


_POLICY = load_policy()

MIN_TEST_SAMPLES: int = _POLICY["min_test_samples"]
MIN_EDGE_OVER_BASELINES = float(_POLICY["min_edge_over_baselines"])
MAX_REGRESSION_VS_CHAMPION = float(_POLICY["max_regression_vs_champion"])
SUPERIORITY_OVER: tuple[str, ...] = tuple(_POLICY["superiority_over"])
NON_INFERIORITY_MARGIN: dict[str, float] = {k: float(v) for k, v in _POLICY["non_inferiority_margin"].items()}
REQUIRE_REEVALUATION: bool = _POLICY["require_reevaluation"]
ALPHA = float(_POLICY["alpha"])
METRICS: tuple[str, ...] = tuple(_POLICY["metrics"])
METRIC: str = _POLICY["metric"]
FOLDS: int = _POLICY["folds"]
BOOTSTRAP_REPLICATES: int = _POLICY["bootstrap_replicates"]
BOOTSTRAP_SEED: int = _POLICY["bootstrap_seed"]
CI_LEVEL = float(_POLICY["ci_level"])
COST_BPS = float(_POLICY["cost_bps"])
CALIBRATION_BINS: int = _POLICY["calibration_bins"]
