"""The rendered training pipeline: valid against the pinned full Argo CRDs, safe pod settings, and the
commands of roles/ml_trainer/files/pipeline-steps.yml."""

from __future__ import annotations

import copy
import re
import subprocess
from typing import Any

import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils.manifest_validation import (
    validate_objects,
    validate_paths,
)
from app_helpers import PROJECT_ROOT, changed_count

pytestmark = pytest.mark.slow

PIPELINE = ("WorkflowTemplate", "financial-training-pipeline-template")
INGESTION = ("WorkflowTemplate", "financial-data-ingestion-template")
CRON = ("CronWorkflow", "financial-retraining")
VARIANTS = ["baseline", "enhanced", "lightweight"]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in doc["spec"]["templates"] if "container" in t]


def _walk(node: Any, path: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


def test_render_is_valid_against_full_argo_crds_and_idempotent(rendered_trainer, schema_dir) -> None:
    assert [f.name for f in rendered_trainer["files"]] == [
        "000-workflowtemplate-financial-data-ingestion-template.yaml",
        "001-workflowtemplate-financial-training-pipeline-template.yaml",
        "002-cronworkflow-financial-retraining.yaml",
    ]
    # The validator prefers <schema_dir>/argo-workflows/full (structural schemas).
    assert (schema_dir / "argo-workflows" / "full" / "argoproj.io_workflowtemplates.yaml").is_file()
    report = validate_paths([rendered_trainer["dir"]], schema_dir, exclude=["kustomization.yaml"])
    assert report.ok, "\n".join(map(str, report.errors))
    assert report.by_kind == {"WorkflowTemplate": 2, "CronWorkflow": 1}
    assert changed_count(rendered_trainer["runs"][1]) == 0, "a second render must change nothing"


def test_the_validator_really_checks_the_templates(rendered_trainer, schema_dir) -> None:
    """Guards against a vacuous pass: a typo'd field in a step is rejected by the same schemas."""
    broken = copy.deepcopy(rendered_trainer["docs"][PIPELINE])
    _containers(broken)[0]["container"]["imagePullPolicyy"] = "Always"
    cron = copy.deepcopy(rendered_trainer["docs"][CRON])
    cron["spec"]["workflowSpec"]["workflowTemplateRef"]["nmae"] = "x"
    report = validate_objects([broken, cron], schema_dir)
    assert len(report.errors) == 2, "\n".join(map(str, report.errors))
    assert any("imagePullPolicyy" in str(e) for e in report.errors)


def test_pipeline_parameters_and_workflow_settings(rendered_trainer) -> None:
    spec = rendered_trainer["docs"][PIPELINE]["spec"]
    params = {p["name"]: p for p in spec["arguments"]["parameters"]}
    assert params["model-variant"]["enum"] == VARIANTS
    assert params["model-variant"]["value"] == "baseline"
    assert params["tracking-uri"]["value"] == "http://mlflow.mlflow.svc.cluster.local:5000"
    for doc in (rendered_trainer["docs"][PIPELINE], rendered_trainer["docs"][INGESTION]):
        s = doc["spec"]
        assert s["serviceAccountName"] == "argo-workflow"
        assert s["podGC"]["strategy"] == "OnPodSuccess"
        assert s["ttlStrategy"]["secondsAfterSuccess"] > 0 and s["ttlStrategy"]["secondsAfterFailure"] > 0
        assert s["securityContext"]["runAsNonRoot"] is True
        assert all("emptyDir" in v for v in s["volumes"]), "step files live in emptyDirs only"


def test_every_step_is_bounded_non_root_read_only_and_pinned(rendered_trainer) -> None:
    for key in (PIPELINE, INGESTION):
        doc = rendered_trainer["docs"][key]
        for tpl in _containers(doc):
            c = tpl["container"]
            assert c["resources"]["requests"] and c["resources"]["limits"], tpl["name"]
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True, tpl["name"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
            assert re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", c["image"]) and not c["image"].endswith(
                ":latest"
            )
            assert {m["mountPath"] for m in c["volumeMounts"]} == {"/work", "/tmp"}
        for path, key_name, value in _walk(doc):
            assert key_name != "hostPath", f"node-local path at {path}"
            # Argo's full CRDs type withItems entries as objects (see ../shared/schemas/SOURCES.md).
            if key_name == "withItems":
                assert all(isinstance(item, dict) for item in value), f"scalar withItems at {path}"


def test_dag_runs_the_steps_file_commands_in_order(rendered_trainer, pipeline, steps_filter) -> None:
    spec = rendered_trainer["docs"][PIPELINE]["spec"]
    dag = next(t for t in spec["templates"] if t["name"] == spec["entrypoint"])["dag"]["tasks"]
    assert [t["name"] for t in dag] == [s["name"] for s in pipeline["steps"]]
    assert [t["name"] for t in dag] == [
        "validate-parameters",
        "ingest",
        "validate-data",
        "features",
        "train",
        "evaluate",
        "gate",
        "register",
        "promote",
        "publish",
    ]
    templates = {t["name"]: t for t in _containers(rendered_trainer["docs"][PIPELINE])}
    templates |= {t["name"]: t for t in _containers(rendered_trainer["docs"][INGESTION])}
    argo_values = {name: f"{{{{inputs.parameters.{name}}}}}" for name in pipeline["parameters"]}
    argo_values["work"] = "/work"
    for task, step in zip(dag, pipeline["steps"], strict=True):
        assert task.get("depends", "") == " && ".join(step["depends"])
        if "templateRef" in task:
            assert task["templateRef"]["name"] == INGESTION[1]
        tpl = templates[task["templateRef"]["template"] if "templateRef" in task else task["template"]]
        assert tpl["container"]["command"] == steps_filter.pipeline_command(step, argo_values, pipeline)
        # Every parameter a command uses is passed from the workflow parameters.
        passed = {p["name"]: p["value"] for p in task.get("arguments", {}).get("parameters", [])}
        assert passed == {n: f"{{{{workflow.parameters.{n}}}}}" for n in passed}
        assert {p["name"] for p in tpl.get("inputs", {}).get("parameters", [])} == set(passed)
        for art in step["inputs"]:
            producer = next(s["name"] for s in pipeline["steps"] if art in s["outputs"])
            arg = next(a for a in task["arguments"]["artifacts"] if a["name"] == art)
            assert arg["from"] == f"{{{{tasks.{producer}.outputs.artifacts.{art}}}}}"


def test_cron_retrains_through_the_template_and_is_suspended(rendered_trainer) -> None:
    spec = rendered_trainer["docs"][CRON]["spec"]
    assert spec["suspend"] is True
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["workflowSpec"]["workflowTemplateRef"]["name"] == PIPELINE[1]
    assert spec["workflowSpec"]["arguments"]["parameters"] == [
        {"name": "model-variant", "value": "baseline"},
        {"name": "data-source", "value": "synthetic"},
    ]


def test_only_the_ingest_step_gets_the_s3_secret(ansible_env, schema_dir, tmp_path, rendered_trainer) -> None:
    for doc in (rendered_trainer["docs"][PIPELINE], rendered_trainer["docs"][INGESTION]):
        assert all("envFrom" not in t["container"] for t in _containers(doc)), "no Secret unless configured"
    run = subprocess.run(
        ["ansible-playbook", "-i", "inventory/sample", "tests/app/playbooks/render_ml_trainer.yml",
         "-e", f"platform_render_dir={tmp_path}", "-e", "ml_trainer_ingest_secret=market-data-s3"],
        cwd=PROJECT_ROOT, env=ansible_env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:]
    docs = [yaml.safe_load(f.read_text()) for f in sorted(tmp_path.glob("70-ml-trainer/*.yaml"))]
    with_secret = {
        t["name"]: t["container"]["envFrom"]
        for d in docs
        if d["kind"] == "WorkflowTemplate"
        for t in _containers(d)
        if "envFrom" in t["container"]
    }
    assert with_secret == {"ingest": [{"secretRef": {"name": "market-data-s3"}}]}
    assert validate_paths([tmp_path], schema_dir, exclude=["kustomization.yaml"]).ok


def test_gate_and_register_publish_their_records_for_the_train_runbook(rendered_trainer) -> None:
    outputs = {
        t["name"]: {p["name"]: p["valueFrom"]["path"] for p in t.get("outputs", {}).get("parameters", [])}
        for t in _containers(rendered_trainer["docs"][PIPELINE])
    }
    published = {name: params for name, params in outputs.items() if params}
    assert published == {
        "gate": {"gate-decision": "/work/gate/decision.json"},
        "register": {"registration": "/work/register/registration.json"},
        "publish": {"publication": "/work/publish/publication.json"},
    }
