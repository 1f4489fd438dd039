"""One gate-policy file: ml_src/financial_mlops/gate_policy.yml.

The package, the pipeline's Argo parameters, the local demo and the
model_lifecycle role read it; no copy of a threshold may live anywhere else.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from financial_mlops import policy
from financial_mlops.serving.gate import GateThresholds

ROOT = Path(__file__).resolve().parents[2]
POLICY_PATH = ROOT / "ml_src" / "financial_mlops" / "gate_policy.yml"
POLICY = yaml.safe_load(POLICY_PATH.read_text())
STEPS = yaml.safe_load((ROOT / "roles" / "ml_trainer" / "files" / "pipeline-steps.yml").read_text())

# Settings whose values must be written only in the policy file, and the
# spellings of their names in Python, YAML and the pipeline's parameters.
NAMES = {
    "min_test_samples": r"min[_-]test[_-]samples",
    "min_edge_over_baselines": r"min[_-]edge[_-]over[_-]baselines",
    "max_regression_vs_champion": r"max[_-]regression[_-]vs[_-]champion",
    "alpha": r"(?:gate[_-])?alpha",
    "folds": r"folds",
    "bootstrap_replicates": r"bootstrap[_-]replicates",
    "bootstrap_seed": r"bootstrap[_-]seed",
    "ci_level": r"ci[_-]level",
    "cost_bps": r"cost[_-]bps",
    "calibration_bins": r"calibration[_-]bins",
}
# Where code and configuration live (prose in *.md may quote the values).
SCANNED = ("ml_src", "roles", "playbooks", "inventory", "collections", "molecule", "benchmarks")
SUFFIXES = {".py", ".yml", ".yaml", ".j2"}


def _value_pattern(value: object) -> str:
    """The literal as code writes it: 0.05, "0.05", 20_240_917, 5.0 or 5 ..."""
    number = float(value)  # type: ignore[arg-type]
    forms = {repr(value), str(value)}
    if number.is_integer():
        forms |= {str(int(number)), f"{int(number):_}", f"{int(number)}.0"}
    return "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))


def _assignment(key: str) -> re.Pattern[str]:
    """The setting's name as a key or an assignment (`name:`, `name =`, `NAME: int =`), then its value."""
    value = _value_pattern(POLICY[key])
    # ... or as the default of the assignment: {default: "200", ...}, "{{ x | default(200) }}".
    default = r"\s*(?:[^#\n]*?\bdefault[:(]\s*)?"
    # A prefix is allowed (local_pipeline_min_test_samples): `_` does not start a word for \b.
    name = rf"(?i)(?<![a-z0-9]){NAMES[key]}\b[\"']?\s*(?::\s*[\w\[\]]+\s*)?[:=]"
    return re.compile(rf"{name}{default}[\"']?(?:{value})(?![\w.])")


def _literal_assignments() -> list[str]:
    """Lines outside the policy file and tests/ that set a policy name to the policy's value."""
    found = []
    for key in NAMES:
        pattern = _assignment(key)
        for top in SCANNED:
            for path in (ROOT / top).rglob("*"):
                if path.suffix not in SUFFIXES or path == POLICY_PATH or ".venv" in path.parts:
                    continue
                for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    if pattern.search(line):
                        found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_the_package_reads_the_policy_file() -> None:
    constants = {key: getattr(policy, key.upper()) for key in POLICY}
    tuples = {"metrics": tuple(POLICY["metrics"]), "superiority_over": tuple(POLICY["superiority_over"])}
    assert constants == {**POLICY, **tuples}
    d = GateThresholds()
    assert (d.min_test_samples, d.min_edge_over_baselines, d.max_regression_vs_champion, d.alpha) == (
        POLICY["min_test_samples"],
        POLICY["min_edge_over_baselines"],
        POLICY["max_regression_vs_champion"],
        POLICY["alpha"],
    )


def test_a_broken_policy_is_refused_by_name() -> None:
    text = POLICY_PATH.read_text()
    with pytest.raises(ValueError, match=r"missing settings \['alpha'\]"):
        policy.load_policy(re.sub(r"^alpha: .*$", "", text, flags=re.M))
    with pytest.raises(ValueError, match="folds must be"):
        policy.load_policy(text.replace("folds: 4", "folds: four"))


def test_the_pipeline_parameters_default_to_the_policy() -> None:
    params = STEPS["parameters"]
    assert params["min-test-samples"]["policy"] == "min_test_samples"
    assert params["min-edge-over-baselines"]["policy"] == "min_edge_over_baselines"
    assert params["gate-alpha"]["policy"] == "alpha"
    assert all("default" not in p for p in params.values() if "policy" in p)


def test_the_pipeline_demands_reevaluation_as_the_policy_says() -> None:
    steps = {s["name"]: s["argv"] for s in STEPS["steps"]}
    for name in ("gate", "promote"):
        assert ("--require-reevaluation" in steps[name]) is POLICY["require_reevaluation"], name


def test_no_threshold_is_written_outside_the_policy_file() -> None:
    found = _literal_assignments()
    assert not found, "policy values copied outside gate_policy.yml:\n" + "\n".join(found)


def test_the_grep_finds_a_copied_threshold() -> None:
    # The check above must see the old copies, or it proves nothing.
    copies = (
        '  gate-alpha: "0.05"',
        'min-test-samples: {default: "200", description: "gate"}',
        "local_pipeline_min_test_samples: 200",
        'x_max_regression_vs_champion: "{{ y | default(0.0) }}"',
        "    ALPHA = 0.05",
        "BOOTSTRAP_SEED = 20_240_917",
    )
    for line in copies:
        key = next(k for k, n in NAMES.items() if re.search(rf"(?i)(?<![a-z0-9]){n}\b", line))
        assert _assignment(key).search(line), line
