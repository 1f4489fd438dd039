"""Run the training pipeline's steps locally, in the DAG's order, with the parameters the template passes.

The commands come from roles/ml_trainer/files/pipeline-steps.yml (the file the Argo template is rendered
from) and the parameter values from the rendered WorkflowTemplate's defaults; only what `argo submit -p`
would override for a small run is overridden. So a renamed CLI flag or a wrong default fails here, not in
the cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PIPELINE = ("WorkflowTemplate", "financial-training-pipeline-template")
# What a small run would pass with `argo submit -p NAME=VALUE`.
SMALL_RUN = {
    "model-variant": "lightweight",
    "epochs": "2",
    "synthetic-tickers": "2",
    "synthetic-bars": "700",
    "min-test-samples": "50",
    # Two epochs learn little; the gate must still decide, and promote must run.
    "min-edge-over-baselines": "-0.5",
    "gate-alpha": "1",
    # No cluster here: publish shows the Model it would apply.
    "publish-mode": "render",
}
EXIT_GATE_REJECTED = 3


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({"MPLBACKEND": "Agg", "HOME": str(tmp_path), "MLFLOW_TRACKING_URI": ""})
    return env


def _template_values(rendered: dict[str, Any]) -> dict[str, str]:
    spec = rendered["docs"][PIPELINE]["spec"]
    return {p["name"]: str(p["value"]) for p in spec["arguments"]["parameters"]}


def _dag_order(rendered: dict[str, Any]) -> list[str]:
    spec = rendered["docs"][PIPELINE]["spec"]
    dag = next(t for t in spec["templates"] if t["name"] == spec["entrypoint"])["dag"]["tasks"]
    return [t["name"] for t in dag]


def test_steps_run_locally_in_dag_order(rendered_trainer, pipeline, steps_filter, tmp_path) -> None:
    values = _template_values(rendered_trainer)
    assert set(SMALL_RUN) <= set(values), "overrides must be parameters of the template"
    db = tmp_path / "mlruns.db"
    values |= SMALL_RUN | {"tracking-uri": f"sqlite:///{db}", "work": str(tmp_path / "work")}
    steps = {s["name"]: s for s in pipeline["steps"]}
    env = _env(tmp_path)
    codes: dict[str, int] = {}
    for name in _dag_order(rendered_trainer):
        argv = steps_filter.pipeline_command(steps[name], values, pipeline)
        run = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        codes[name] = run.returncode
        allowed = (0, EXIT_GATE_REJECTED) if name == "gate" else (0,)
        assert run.returncode in allowed, (
            f"step {name} {argv} failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        )
        for art in steps[name]["outputs"]:
            path = Path(steps_filter.pipeline_path(pipeline["artifacts"][art]["path"], values, pipeline))
            assert path.exists(), f"step {name} did not write its output artifact {art} at {path}"
        if name == "gate" and run.returncode == EXIT_GATE_REJECTED:
            pytest.fail(f"the relaxed gate rejected the version: {run.stdout[-2000:]}")

    work = Path(values["work"])
    train = json.loads((work / "train" / "report.json").read_text())
    evaluation = json.loads((work / "evaluate" / "report.json").read_text())
    decision = json.loads((work / "gate" / "decision.json").read_text())
    registration = json.loads((work / "register" / "registration.json").read_text())
    ingested = json.loads((work / "data" / "INGEST.json").read_text())
    assert ingested["synthetic"] is True and len(ingested["tickers"]) == 2
    assert train["model"]["variant"] == "lightweight" and train["training"]["epochs"] == 2
    # train used the features step's windows: same split sizes as the data report
    data_report = json.loads((work / "validate" / "report.json").read_text())
    assert train["data"]["split_sizes"] == data_report["split_sizes"]
    assert evaluation["test"]["n"] == train["test"]["n"]
    # the gate decided on the unregistered run, and demanded the reproduced re-evaluation
    assert decision["decision"] == "promote" and decision["version"] is None
    assert decision["run_id"] == train["mlflow"]["run_id"] == registration["run_id"]
    assert {c["name"]: c["status"] for c in decision["checks"]}["reevaluation"] == "pass"
    client = MlflowClient(tracking_uri=values["tracking-uri"])
    champion = client.get_model_version_by_alias("financial-lstm-lightweight", "champion")
    assert str(champion.version) == registration["version"]
    assert champion.run_id == decision["run_id"]
    # publish (render mode) generated the champion's Seldon Model from the registry
    publication = json.loads((work / "publish" / "publication.json").read_text())
    assert publication["mode"] == "render" and publication["ready"] is False
    assert publication["served"] == {"financial-lstm-lightweight": registration["version"]}
    (model,) = yaml.safe_load_all((work / "publish" / "models.yaml").read_text())
    assert model["apiVersion"] == "mlops.seldon.io/v1alpha1" and model["kind"] == "Model"
    assert model["spec"]["requirements"] == ["financial-lstm"]
    assert codes == dict.fromkeys(codes, 0)


def test_first_step_rejects_an_unknown_variant(pipeline, steps_filter, tmp_path) -> None:
    step = next(s for s in pipeline["steps"] if s["name"] == "validate-parameters")
    run = subprocess.run(
        steps_filter.pipeline_command(step, {"model-variant": "gigantic"}, pipeline),
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "model-variant 'gigantic' is not one of ['baseline', 'enhanced', 'lightweight']" in run.stderr


def test_unknown_placeholder_is_named(pipeline, steps_filter) -> None:
    step = next(s for s in pipeline["steps"] if s["name"] == "train")
    with pytest.raises(steps_filter.PipelineStepError, match=r"\$\{epochs\} has no value"):
        steps_filter.pipeline_command(step, {"model-variant": "baseline", "work": "/w"}, pipeline)
