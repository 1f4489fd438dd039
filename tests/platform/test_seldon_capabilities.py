"""Model requirements vs Server capabilities: the "no matching servers available" check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_cli import run_ansible
from ansible_collections.finmlops.platform.plugins.module_utils.seldon_capabilities import check_documents


def model(name: str, *requirements: str, namespace: str = "financial-ml", server: str | None = None) -> dict:
    spec: dict = {"storageUri": f"s3://mlflow-artifacts/{name}", "requirements": list(requirements)}
    if server:
        spec["server"] = server
    return {
        "apiVersion": "mlops.seldon.io/v1alpha1",
        "kind": "Model",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def server(name: str, capabilities: list[str] | None = None, extra: list[str] | None = None) -> dict:
    spec: dict = {"serverConfig": "mlserver"}
    if capabilities is not None:
        spec["capabilities"] = capabilities
    if extra is not None:
        spec["extraCapabilities"] = extra
    return {
        "apiVersion": "mlops.seldon.io/v1alpha1",
        "kind": "Server",
        "metadata": {"name": name, "namespace": "financial-ml"},
        "spec": spec,
    }


SERVER_CONFIG = {
    "apiVersion": "mlops.seldon.io/v1alpha1",
    "kind": "ServerConfig",
    "metadata": {"name": "mlserver", "namespace": "financial-ml"},
    "spec": {
        "podSpec": {
            "containers": [
                {
                    "name": "agent",
                    "env": [{"name": "SELDON_SERVER_CAPABILITIES", "value": "mlserver,sklearn"}],
                }
            ]
        },
        "volumeClaimTemplates": [],
    },
}


def test_matching_requirements_pass() -> None:
    result = check_documents(
        [
            server("financial-mlserver", ["financial-lstm", "mlserver", "python"]),
            model("lstm", "financial-lstm"),
        ]
    )
    assert result.problems == []
    assert result.models_checked == ["financial-ml/lstm"]


def test_sklearn_vs_scikit_learn_names_model_missing_capability_and_servers() -> None:
    docs = [
        SERVER_CONFIG,
        server("mlserver"),
        server("financial-mlserver", ["financial-lstm"]),
        model("iris", "scikit-learn"),
    ]
    result = check_documents(docs)
    assert len(result.problems) == 1
    message = result.problems[0].message()
    assert "Model financial-ml/iris" in message
    assert "[scikit-learn]" in message
    assert "financial-ml/mlserver [mlserver, sklearn]" in message
    assert "financial-ml/financial-mlserver [financial-lstm]" in message


def test_capabilities_replace_and_extra_capabilities_add_to_the_server_config() -> None:
    docs = [SERVER_CONFIG, server("replaced", ["custom"]), server("extended", extra=["financial-lstm"])]
    caps = {s.name: s.capabilities for s in check_documents(docs).servers}
    assert caps == {"replaced": {"custom"}, "extended": {"mlserver", "sklearn", "financial-lstm"}}


def test_servers_in_other_namespaces_do_not_count() -> None:
    result = check_documents(
        [server("financial-mlserver", ["financial-lstm"]), model("lstm", "financial-lstm", namespace="other")]
    )
    assert result.problems[0].servers_checked == []
    assert "none (no Server in the namespace)" in result.problems[0].message()


def test_pinned_server_must_itself_match() -> None:
    docs = [
        server("a", ["financial-lstm"]),
        server("b", ["python"]),
        model("lstm", "financial-lstm", server="b"),
    ]
    problem = check_documents(docs).problems[0]
    assert problem.missing == ["financial-lstm"]
    assert "spec.server=b" in problem.message()


def test_unknown_server_config_is_reported() -> None:
    problem = check_documents([server("mlserver"), model("iris", "sklearn")]).problems[0]
    assert "ServerConfig financial-ml/mlserver not among the checked documents" in problem.message()


@pytest.mark.slow
def test_rendered_server_covers_the_custom_runtime(platform_render) -> None:
    result = check_documents([*platform_render.documents, model("financial-lstm-champion", "financial-lstm")])
    assert result.problems == []
    rendered = platform_render.one("Server", "financial-mlserver", "financial-ml")
    assert "financial-lstm" in rendered["spec"]["capabilities"]
    assert platform_render.one("ServerConfig", "mlserver", "financial-ml")


def _run_module(env: dict[str, str], render_dir: Path) -> subprocess.CompletedProcess:
    args = json.dumps({"render_dir": str(render_dir)})
    return run_ansible(
        "ansible",
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-m",
        "finmlops.platform.seldon_capabilities",
        "-a",
        args,
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        env=env,
        timeout=120,
    )


@pytest.mark.slow
def test_module_fails_on_mismatch_and_passes_on_match(project_root, ansible_env, tmp_path) -> None:
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    for folder, requirement in ((good, "sklearn"), (bad, "scikit-learn")):
        folder.mkdir()
        docs = [SERVER_CONFIG, server("mlserver"), model("iris", requirement)]
        (folder / "seldon.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    ok = _run_module(ansible_env, good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failed = _run_module(ansible_env, bad)
    assert failed.returncode != 0
    assert "Model financial-ml/iris: no Server provides requirement(s) [scikit-learn]" in failed.stdout
    assert "financial-ml/mlserver [mlserver, sklearn]" in failed.stdout
