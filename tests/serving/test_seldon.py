"""Seldon Model/Experiment manifests generated from the registry: URIs, schemas, capabilities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils.manifest_validation import validate_objects
from ansible_collections.finmlops.platform.plugins.module_utils.seldon_capabilities import check_documents
from financial_mlops.serving import CAPABILITY, CHAMPION_ALIAS
from financial_mlops.serving.lifecycle import promote
from financial_mlops.serving.registry import RegistryError
from financial_mlops.serving.seldon import (
    ABSplit,
    SeldonOptions,
    StorageNotServable,
    build_seldon_manifests,
    cluster_storage_uri,
)
from serving_fixtures import Registry, new_registry

AB = ABSplit.parse("baseline=70,enhanced=30")


@pytest.fixture
def s3_registry(tmp_path: Path, empty_mlflow_db: Path) -> Registry:
    """Runs whose artifact_uri is in the cluster's bucket, as on the cluster's MLflow.

    Nothing is uploaded (no S3 here): versions are registered and aliased
    through the real registry API; the serving/ check is off for this store.
    """
    return new_registry(
        tmp_path / "s3", artifact_location="s3://mlflow-artifacts/7", template=empty_mlflow_db
    )


def crown(registry: Registry, variant: str) -> tuple[str, str]:
    version = registry.register(variant=variant, upload_bundle=False)
    name = f"financial-lstm-{variant}"
    registry.client.set_registered_model_alias(name, CHAMPION_ALIAS, version)
    return version, registry.client.get_model_version(name, version).run_id


def platform_server(project_root: Path) -> list[dict[str, Any]]:
    """The Seldon Server the mlserver role deploys, rendered from its own template and variables."""
    role = project_root / "roles" / "mlserver"
    variables: dict[str, Any] = {}
    for part in ("defaults", "vars"):
        variables.update(yaml.safe_load((role / part / "main.yml").read_text()))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(role / "templates"), undefined=jinja2.StrictUndefined
    )
    env.filters["to_json"] = json.dumps
    # Defaults that are themselves templates (mlserver_image names ml_image_registry) are
    # resolved as Ansible would, with the sample inventory's registry.
    sample = project_root / "inventory" / "sample" / "group_vars" / "all" / "images.yml"
    variables.update(yaml.safe_load(sample.read_text()))
    for key, value in list(variables.items()):
        if isinstance(value, str) and "{{" in value:
            variables[key] = env.from_string(value).render(**variables)
    return list(yaml.safe_load_all(env.get_template("server.yaml.j2").render(**variables)))


def test_models_and_experiment_come_from_the_registry(s3_registry: Registry) -> None:
    base_v, base_run = crown(s3_registry, "baseline")
    enh_v, enh_run = crown(s3_registry, "enhanced")
    plan = build_seldon_manifests(s3_registry.client, ["baseline"], AB, SeldonOptions(verify_artifacts=False))
    by_name = {m["metadata"]["name"]: m for m in plan.manifests}
    assert set(by_name) == {"financial-lstm-baseline", "financial-lstm-enhanced", "financial-lstm-ab"}
    base = by_name["financial-lstm-baseline"]
    assert base["spec"]["storageUri"] == f"s3://mlflow-artifacts/7/{base_run}/artifacts/serving"
    assert base["spec"]["requirements"] == [CAPABILITY]
    assert base["spec"]["secretName"] == "seldon-rclone-s3"
    assert base["metadata"]["namespace"] == "financial-ml"
    assert base["metadata"]["annotations"]["financial-mlops.io/model-version"] == base_v
    assert by_name["financial-lstm-enhanced"]["spec"]["storageUri"].endswith(f"/{enh_run}/artifacts/serving")
    exp = by_name["financial-lstm-ab"]
    assert exp["spec"]["default"] == "financial-lstm-baseline"
    assert exp["spec"]["candidates"] == [
        {"name": "financial-lstm-baseline", "weight": 70},
        {"name": "financial-lstm-enhanced", "weight": 30},
    ]
    assert enh_v in exp["metadata"]["annotations"]["financial-mlops.io/versions"]


def test_manifests_validate_and_pass_the_capability_check(
    s3_registry: Registry, schema_dir: Path, project_root: Path
) -> None:
    crown(s3_registry, "baseline")
    crown(s3_registry, "enhanced")
    manifests = build_seldon_manifests(
        s3_registry.client, ["baseline", "enhanced"], AB, SeldonOptions(verify_artifacts=False)
    ).manifests
    report = validate_objects(manifests, schema_dir=schema_dir)
    assert report.ok, [str(e) for e in report.errors]
    assert report.documents == 3

    capabilities = check_documents([*manifests, *platform_server(project_root)])
    assert capabilities.problems == []
    assert len(capabilities.models_checked) == 2
    # The check is real: a typo in the requirement is caught.
    typo = [dict(m, spec={**m["spec"], "requirements": ["financial_lstm"]}) for m in manifests[:1]]
    assert check_documents([*typo, *platform_server(project_root)]).problems


def test_experiment_waits_for_both_variants(s3_registry: Registry) -> None:
    crown(s3_registry, "baseline")
    plan = build_seldon_manifests(s3_registry.client, ["baseline"], AB, SeldonOptions(verify_artifacts=False))
    assert [m["kind"] for m in plan.manifests] == ["Model"]
    assert "financial-lstm-enhanced has no champion" in plan.notes[0]
    with pytest.raises(RegistryError, match="no 'champion' alias"):
        build_seldon_manifests(s3_registry.client, ["enhanced"], None, SeldonOptions(verify_artifacts=False))


def test_champion_without_serving_artifacts_is_refused(registry: Registry) -> None:
    version = registry.register()
    registry.client.set_registered_model_alias("financial-lstm-baseline", CHAMPION_ALIAS, version)
    options = SeldonOptions(allow_local_storage=True)
    with pytest.raises(RegistryError, match=r"has no serving/model-settings\.json"):
        build_seldon_manifests(registry.client, ["baseline"], None, options)
    registry.client.delete_registered_model_alias("financial-lstm-baseline", CHAMPION_ALIAS)
    promote(registry.client, "financial-lstm-baseline", version=version)
    plan = build_seldon_manifests(registry.client, ["baseline"], None, options)
    assert plan.manifests[0]["spec"]["storageUri"].startswith("file://")
    assert "secretName" not in plan.manifests[0]["spec"]


@pytest.mark.parametrize(
    ("artifact_uri", "expected"),
    [
        ("mlflow-artifacts:/3/abc/artifacts/serving", "s3://mlflow-artifacts/3/abc/artifacts/serving"),
        (
            "mlflow-artifacts://mlflow:5000/3/abc/artifacts/serving",
            "s3://mlflow-artifacts/3/abc/artifacts/serving",
        ),
        ("s3://other-bucket/3/abc/artifacts/serving", "s3://other-bucket/3/abc/artifacts/serving"),
    ],
)
def test_storage_uri_translation(artifact_uri: str, expected: str) -> None:
    assert cluster_storage_uri(artifact_uri, SeldonOptions()) == expected


def test_local_artifact_store_is_refused_by_default() -> None:
    with pytest.raises(StorageNotServable, match="cluster cannot read"):
        cluster_storage_uri("file:///tmp/mlartifacts/1/abc/artifacts/serving", SeldonOptions())


@pytest.mark.parametrize(
    "text", ["baseline=70", "baseline=70,baseline=30", "baseline=x,enhanced=1", "a=0,b=0"]
)
def test_bad_ab_split_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        ABSplit.parse(text)
