#!/usr/bin/python
"""Ansible module: the model validation gate (thin wrapper over financial_mlops.serving)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_gate
short_description: Decide whether a registered model version may become the champion
description:
  - Runs the validation gate of C(financial_mlops.serving.gate) on one version of a registered model in the
    MLflow registry, against the current C(champion) of that model.
  - Checks, each of which must pass (absent evidence is a failure, never a default) - the bundle artifacts
    are present; the version was trained as the variant it is registered under; the random-walk sanity check
    passed at training time (metrics.json and the run tag agree); the model is not a constant predictor; the
    test split is large enough; test accuracy beats the best naive baseline by a margin; and it is not worse
    than the current champion by more than a tolerance.
  - Writes a decision record (JSON) to O(record_path) and logs it to MLflow (run artifact
    C(gate/decision-v<version>-<time>.json), version tags C(gate_decision), C(gate_fingerprint)). The same
    decision on unchanged evidence is recorded once, so rerunning reports no change.
  - Runs on the controller with the project's Python, which has the C(financial_mlops) package installed
    (run the task with C(delegate_to localhost) and C(ansible_python_interpreter) set to the project venv's
    python, e.g. C({{ ansible_playbook_python }})). It never changes aliases; promotion is a separate step.
options:
  model:
    description: Registered model name, e.g. C(financial-lstm-baseline). Give this or O(variant).
    type: str
  variant:
    description: Model variant; the registered model is C(financial-lstm-<variant>).
    type: str
  alias:
    description: Alias naming the candidate version (used when O(version) is not given).
    type: str
    default: challenger
  version:
    description: Candidate version number (overrides O(alias)).
    type: str
  tracking_uri:
    description:
      - MLflow tracking URI. Defaults to C(MLFLOW_TRACKING_URI) of the controller environment, then
        C(sqlite:///mlruns.db). Credentials come from C(MLFLOW_TRACKING_USERNAME)/C(MLFLOW_TRACKING_PASSWORD)
        in the environment, never from module arguments.
    type: str
  min_test_samples:
    description: Fewest test windows the decision may rest on.
    type: int
    default: 200
  min_edge_over_baselines:
    description:
      - Smallest observed walk-forward difference on O(metric) over each naive baseline, besides the
        significance the paired tests demand.
    type: float
    default: 0.005
  max_regression_vs_champion:
    description:
      - Observed difference against the champion may be at most this negative (matters only with O(alpha)=1).
    type: float
    default: 0.0
  alpha:
    description:
      - One-sided level of the Holm-adjusted paired moving-block bootstrap tests against every baseline
        and the champion. Default the package policy (C(financial_mlops.policy.ALPHA), 0.05); 1 switches
        significance off.
    type: float
  metric:
    description: What the paired tests compare. Default the package policy (C(financial_mlops.policy.METRIC)).
    type: str
    choices: [accuracy, log_loss, brier]
  record_path:
    description: Where to write the decision record (JSON).
    type: path
  log_to_mlflow:
    description: Log the decision record and tags to MLflow.
    type: bool
    default: true
  fail_on_reject:
    description: Fail the task (listing the failed checks) when the decision is reject.
    type: bool
    default: true
author:
  - financial-mlops contributors
"""

EXAMPLES = r"""
- name: Gate the challenger of the baseline variant
  finmlops.platform.model_gate:
    variant: baseline
    record_path: build/gate/financial-lstm-baseline.json
  delegate_to: localhost
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  register: gate
"""

RETURN = r"""
promote:
  description: True when every check passed (or the version already is the champion).
  returned: always
  type: bool
decision:
  description: promote, reject, or already-champion.
  returned: always
  type: str
model:
  description: Registered model name.
  returned: always
  type: str
version:
  description: Candidate version.
  returned: always
  type: str
champion_version:
  description: Champion version the candidate was compared with (null when there is none).
  returned: always
  type: str
reasons:
  description: One line per check that did not pass.
  returned: always
  type: list
  elements: str
comparisons:
  description: >-
    One entry per paired test (against, metric, difference, ci, p_value, p_adjusted, effective_n, passed).
  returned: always
  type: list
  elements: dict
missing:
  description: Checks that could not run for lack of data.
  returned: always
  type: list
  elements: str
record:
  description: The full decision record.
  returned: always
  type: dict
record_path:
  description: Path of the written record.
  returned: when record_path is given
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

try:
    from financial_mlops.serving.gate import GateThresholds
    from financial_mlops.serving.lifecycle import run_gate
    from financial_mlops.serving.registry import RegistryError, client_for
    from financial_mlops.tracking import registered_model_name

    IMPORT_ERROR = None
except ImportError as exc:  # the controller's interpreter is not the project venv
    IMPORT_ERROR = exc


def main():
    module = AnsibleModule(
        argument_spec={
            "model": {"type": "str"},
            "variant": {"type": "str"},
            "alias": {"type": "str", "default": "challenger"},
            "version": {"type": "str"},
            "tracking_uri": {"type": "str"},
            "min_test_samples": {"type": "int", "default": 200},
            "min_edge_over_baselines": {"type": "float", "default": 0.005},
            "max_regression_vs_champion": {"type": "float", "default": 0.0},
            "alpha": {"type": "float"},
            "metric": {"type": "str", "choices": ["accuracy", "log_loss", "brier"]},
            "record_path": {"type": "path"},
            "log_to_mlflow": {"type": "bool", "default": True},
            "fail_on_reject": {"type": "bool", "default": True},
        },
        required_one_of=[("model", "variant")],
        mutually_exclusive=[("model", "variant")],
        supports_check_mode=True,
    )
    if IMPORT_ERROR is not None:
        module.fail_json(
            msg=(
                "model_gate needs the financial_mlops package in the interpreter running it "
                f"({IMPORT_ERROR}). "
                "Run the task on localhost with ansible_python_interpreter set to the project venv's python "
                "(make setup installs it)."
            )
        )
    p = module.params
    name = p["model"] or registered_model_name(p["variant"])
    try:
        policy = {k: p[k] for k in ("alpha", "metric") if p[k] is not None}
        thresholds = GateThresholds(
            p["min_test_samples"], p["min_edge_over_baselines"], p["max_regression_vs_champion"], **policy
        )
        gate = run_gate(
            client_for(p["tracking_uri"]),
            name,
            alias=None if p["version"] else p["alias"],
            version=p["version"],
            thresholds=thresholds,
            record_path=p["record_path"],
            log_to_mlflow=p["log_to_mlflow"],
            dry_run=module.check_mode,
        )
    except (RegistryError, ValueError, OSError) as exc:
        module.fail_json(msg=f"gate for {name}: {exc}")
    record = gate.record
    decision = "already-champion" if gate.already_champion else record["decision"]
    result = {
        "changed": gate.changed,
        "promote": gate.already_champion or gate.decision.promote,
        "decision": decision,
        "model": name,
        "version": record["version"],
        "champion_version": record["champion_version"],
        "reasons": record["reasons"],
        "missing": record["missing"],
        "comparisons": record.get("comparisons", []),
        "record": record,
    }
    if gate.record_path is not None:
        result["record_path"] = str(gate.record_path)
    if not result["promote"] and p["fail_on_reject"]:
        module.fail_json(
            msg=f"the gate rejected {name} v{record['version']}: " + "; ".join(record["reasons"]), **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
