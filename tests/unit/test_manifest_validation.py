"""The manifest validator: upstream examples pass, each class of mistake is caught with its path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.finmlops.platform.plugins.module_utils import manifest_validation as mv

IPPOOL = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "IPAddressPool",
    "metadata": {"name": "platform", "namespace": "metallb-system"},
    "spec": {"addresses": ["192.168.1.200-192.168.1.220"]},
}
SELDON_MODEL = {
    "apiVersion": "mlops.seldon.io/v1alpha1",
    "kind": "Model",
    "metadata": {"name": "iris", "namespace": "financial-ml"},
    "spec": {"storageUri": "gs://seldon-models/mlserver/iris", "requirements": ["sklearn"], "replicas": 1},
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]
            },
        },
    },
}


def _errors(schema_dir: Path, *docs: dict) -> list[mv.ManifestError]:
    return mv.validate_objects(list(docs), schema_dir).errors


def _upstream(upstream_examples: Path, prefix: str) -> list[Path]:
    skip = ("error-", "operator_config_samples_")  # deliberately invalid / empty scaffolds upstream
    return [
        p
        for p in sorted((upstream_examples / prefix).glob("*.yaml"))
        if not any(s in p.name for s in skip) and "_node" not in p.name and "triggers_join" not in p.name
    ]


@pytest.mark.parametrize("prefix", ["metallb", "calico", "seldon"])
def test_valid_upstream_examples_pass(schema_dir: Path, upstream_examples: Path, prefix: str) -> None:
    files = _upstream(upstream_examples, prefix)
    assert files, f"no upstream examples for {prefix}"
    report = mv.validate_paths(files, schema_dir)
    assert report.documents >= len(files)
    assert report.errors == []


def test_valid_builtin_and_custom_objects_pass(schema_dir: Path) -> None:
    assert _errors(schema_dir, IPPOOL, SELDON_MODEL, DEPLOYMENT) == []


@pytest.mark.parametrize(
    ("doc", "mutate", "path", "words"),
    [
        (IPPOOL, lambda d: d["spec"].update(autoAssing=True), "$.spec", "unknown field(s) 'autoAssing'"),
        (
            SELDON_MODEL,
            lambda d: d["spec"].update(replicas="two"),
            "$.spec.replicas",
            "not of type 'integer'",
        ),
        (SELDON_MODEL, lambda d: d["spec"].pop("storageUri"), "$.spec", "'storageUri' is required"),
        (
            DEPLOYMENT,
            lambda d: d["spec"]["template"]["spec"].update(hostNetwrk=True),
            "$.spec.template.spec",
            "hostNetwrk",
        ),
        (DEPLOYMENT, lambda d: d["spec"].pop("selector"), "$.spec", "'selector' is required"),
        (
            DEPLOYMENT,
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="http"),
            "$.spec.template.spec.containers[0].ports[0].containerPort",
            "not of type 'integer'",
        ),
    ],
    ids=[
        "crd-unknown-field",
        "crd-wrong-type",
        "crd-missing-required",
        "builtin-unknown-field",
        "builtin-missing",
        "builtin-type",
    ],
)
def test_each_mistake_is_reported_with_its_path(schema_dir, doc, mutate, path, words) -> None:
    broken = copy.deepcopy(doc)
    mutate(broken)
    errors = _errors(schema_dir, broken)
    assert [e.path for e in errors] == [path], errors
    assert words in errors[0].message
    assert errors[0].ref == f"{doc['kind']}/{doc['metadata']['namespace']}/{doc['metadata']['name']}"


@pytest.mark.parametrize(
    "api_version",
    ["metallb.io/v1beta9", "mlops.seldon.io/v1", "app/v1", "example.com/v1"],
)
def test_unknown_api_version_is_an_error(schema_dir: Path, api_version: str) -> None:
    doc = copy.deepcopy(IPPOOL)
    doc["apiVersion"] = api_version
    errors = _errors(schema_dir, doc)
    assert len(errors) == 1
    assert errors[0].path == "$.apiVersion"
    assert "unknown apiVersion/kind" in errors[0].message


def test_unknown_kind_suggests_known_versions(schema_dir: Path) -> None:
    doc = copy.deepcopy(IPPOOL)
    doc["apiVersion"] = "metallb.io/v1"
    assert "metallb.io/v1beta1" in _errors(schema_dir, doc)[0].message


def test_all_errors_of_all_documents_are_reported_at_once(schema_dir: Path, tmp_path: Path) -> None:
    pool = copy.deepcopy(IPPOOL)
    pool["spec"]["bogus"] = 1
    model = copy.deepcopy(SELDON_MODEL)
    model["spec"]["replicas"] = "x"
    model["spec"]["memry"] = "1Gi"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([pool, DEPLOYMENT]))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yml").write_text(yaml.safe_dump(model))
    report = mv.validate_paths([tmp_path], schema_dir)
    assert report.documents == 3
    where = sorted((Path(e.source).name, e.index, e.path) for e in report.errors)
    assert where == [("a.yaml", 0, "$.spec"), ("b.yml", 0, "$.spec"), ("b.yml", 0, "$.spec.replicas")]


def test_metadata_problems(schema_dir: Path) -> None:
    doc = copy.deepcopy(DEPLOYMENT)
    doc["metadata"] = {"name": "Bad_Name", "namespace": "default", "labels": {"tier": 3}}
    paths = sorted(e.path for e in _errors(schema_dir, doc))
    assert paths == ["$.metadata.labels.tier", "$.metadata.name"]


def test_cluster_scoped_crd_with_namespace_is_rejected(schema_dir: Path) -> None:
    pool = {
        "apiVersion": "crd.projectcalico.org/v1",
        "kind": "IPPool",
        "metadata": {"name": "default", "namespace": "kube-system"},
        "spec": {"cidr": "10.42.0.0/16"},
    }
    assert [e.path for e in _errors(schema_dir, pool)] == ["$.metadata.namespace"]


def test_invalid_yaml_names_file_and_line(schema_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Service\nmetadata: [unclosed\n")
    report = mv.validate_paths([bad], schema_dir)
    assert len(report.errors) == 1
    assert report.errors[0].source == str(bad)
    assert report.errors[0].path.startswith("line ")


def test_crds_in_the_input_make_their_kinds_known(schema_dir: Path) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                            },
                        }
                    },
                }
            ],
        },
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": "big"},
    }
    errors = _errors(schema_dir, crd, widget)
    assert [e.path for e in errors] == ["$.spec.size"]


def test_crd_conversion_handles_int_or_string_nullable_and_preserve() -> None:
    schema = mv.crd_to_jsonschema(
        {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "free": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"a": {}},
                },
            },
        }
    )
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    assert validator.is_valid({"port": 80, "note": None, "free": {"a": 1, "b": 2}})
    assert validator.is_valid({"port": "http"})
    assert not validator.is_valid({"port": 1.5})
    assert not validator.is_valid({"other": 1})


def test_missing_schema_folder_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="FINMLOPS_SCHEMA_DIR"):
        mv.SchemaRegistry.from_dir(tmp_path / "nope")
