"""The rendered platform runs MLflow with its basic-auth app and keeps every credential in Secrets.

In render mode every platform secret is the platform_secrets role's
placeholder value: a template that put a secret anywhere but a Secret (whose
values the render redacts) would write that placeholder into a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = yaml.safe_load((ROOT / "roles/platform_secrets/vars/main.yml").read_text())[
    "platform_secrets_render_placeholder"
]
PIPELINE_SECRET = "mlflow-pipeline-credentials"


def _values(render) -> dict:
    return yaml.safe_load(render.one("HelmChart", "mlflow", "kube-system")["spec"]["valuesContent"])


def _env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def _secret_ref(entry: dict) -> tuple[str, str]:
    ref = entry["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def test_the_chart_values_turn_basic_auth_on_with_the_admin_from_a_secret(platform_render) -> None:
    auth = _values(platform_render)["auth"]
    assert auth["enabled"] is True
    assert auth["appName"] == "basic-auth"
    assert auth["defaultPermission"] == "READ"
    assert auth["existingAdminSecret"] == {
        "name": "mlflow-auth-admin",
        "usernameKey": "username",
        "passwordKey": "password",
    }
    # No account value in the values: the chart would render its own Secret from them.
    assert not auth.get("adminUsername") and not auth.get("adminPassword")
    assert auth["postgres"]["enabled"] is True
    assert auth["postgres"]["existingSecret"]["name"] == "mlflow-postgres"
    assert not auth["postgres"].get("password")


def test_the_expanded_deployment_starts_the_auth_app(platform_render) -> None:
    deployment = platform_render.one("Deployment", "mlflow", "mlflow")
    spec = deployment["spec"]["template"]["spec"]
    server = next(c for c in spec["containers"] if c["name"] == "mlflow")
    assert "--app-name=basic-auth" in server["args"]
    assert _env(server)["MLFLOW_AUTH_CONFIG_PATH"]["value"].endswith(".ini")
    inits = {c["name"]: c for c in spec["initContainers"]}
    writer = _env(inits["ini-file-initializer"])
    assert _secret_ref(writer["ADMIN_USERNAME"]) == ("mlflow-auth-admin", "username")
    assert _secret_ref(writer["ADMIN_PASSWORD"]) == ("mlflow-auth-admin", "password")
    database = _env(inits["create-auth-database"])
    assert _secret_ref(database["PGPASSWORD"]) == ("mlflow-postgres", "password")
    # The chart's auth ini template holds placeholders the init container fills in, not values.
    ini = platform_render.one("ConfigMap", "mlflow-auth-ini-template", "mlflow")["data"]["auth_template.ini"]
    assert "admin_password = $(ADMIN_PASSWORD_PLACEHOLDER)" in ini
    assert re.search(r"^database_uri = postgresql\+psycopg2://\$\(POSTGRES_USERNAME_PLACEHOLDER\)", ini, re.M)
    assert "/mlflow_auth" in ini
    # The server never talks to the Kubernetes API: its ServiceAccount mounts no token.
    account = platform_render.one("ServiceAccount", spec["serviceAccountName"], "mlflow")
    assert account["automountServiceAccountToken"] is False


def test_the_accounts_job_takes_every_credential_from_secrets(platform_render) -> None:
    jobs = [
        j
        for j in platform_render.find("Job", namespace="mlflow")
        if j["metadata"]["name"].startswith("mlflow-users-")
    ]
    assert len(jobs) == 1
    spec = jobs[0]["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    container = spec["containers"][0]
    env = _env(container)
    assert env["MLFLOW_ACCOUNTS"]["value"] == "pipeline:EDIT reader:"
    # Credentials as files of the mounted Secrets (the script reads <VARIABLE>_FILE).
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    for variable, volume, secret, key in [
        ("MLFLOW_TRACKING_PASSWORD", "admin", "mlflow-auth-admin", "password"),
        ("PIPELINE_PASSWORD", "pipeline", "mlflow-pipeline", "password"),
        ("READER_PASSWORD", "reader", "mlflow-reader", "password"),
    ]:
        assert env[f"{variable}_FILE"]["value"] == f"{mounts[volume]}/{key}"
        assert secrets[volume] == secret
        assert variable not in env
    assert not any("PASSWORD" in arg for arg in container["command"] + container.get("args", []))
    script = platform_render.one("ConfigMap", jobs[0]["metadata"]["name"], "mlflow")["data"][
        "mlflow_users.py"
    ]
    # The very script tests/ml/test_mlflow_auth.py runs against a real basic-auth server.
    assert script.rstrip("\n") == (ROOT / "roles/mlflow/files/mlflow_users.py").read_text().rstrip("\n")


def test_training_steps_that_talk_to_mlflow_log_in_with_the_pipeline_account(platform_render) -> None:
    secret = platform_render.one("Secret", PIPELINE_SECRET, "financial-mlops-pytorch")
    assert set(secret["stringData"]) == {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
    template = platform_render.one(
        "WorkflowTemplate", "financial-training-pipeline-template", "financial-mlops-pytorch"
    )
    with_tracking = without = 0
    for step in template["spec"]["templates"]:
        container = step.get("container")
        if not container:
            continue
        env = _env(container)
        argv = " ".join(container.get("command", []) + container.get("args", []))
        if "--tracking-uri" in argv:
            with_tracking += 1
            assert _secret_ref(env["MLFLOW_TRACKING_USERNAME"]) == (
                PIPELINE_SECRET,
                "MLFLOW_TRACKING_USERNAME",
            )
            assert _secret_ref(env["MLFLOW_TRACKING_PASSWORD"]) == (
                PIPELINE_SECRET,
                "MLFLOW_TRACKING_PASSWORD",
            )
        else:
            without += 1
            assert "MLFLOW_TRACKING_PASSWORD" not in env, step["name"]
        assert "MLFLOW_TRACKING_PASSWORD" not in argv
    assert with_tracking >= 5 and without >= 1


def test_every_secret_is_redacted_and_no_secret_value_is_on_disk(platform_render) -> None:
    secrets = platform_render.find("Secret")
    names = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in secrets}
    assert {
        ("mlflow", "mlflow-auth-admin"),
        ("mlflow", "mlflow-pipeline"),
        ("mlflow", "mlflow-reader"),
        ("financial-mlops-pytorch", PIPELINE_SECRET),
    } <= names
    for secret in secrets:
        for field in ("stringData", "data"):
            for key, value in (secret.get(field) or {}).items():
                assert str(value).startswith("REDACTED"), (secret["metadata"], field, key)
    for path in platform_render.directory.rglob("*"):
        if path.is_file():
            assert PLACEHOLDER not in path.read_text(encoding="utf-8", errors="replace"), path
