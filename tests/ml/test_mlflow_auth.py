"""MLflow's basic-auth app, as the platform runs it, on loopback.

The server is ``mlflow server --app-name basic-auth`` (the app the chart starts
with ``auth.enabled``) with its admin account and default permission in an
auth config file (MLFLOW_AUTH_CONFIG_PATH), the way the chart's init container
writes it. The accounts are created by the very script the platform's
mlflow-users Job runs (roles/mlflow/files/mlflow_users.py), from the account
list of roles/mlflow/vars/main.yml. Then: no credentials, or wrong ones, are
refused with 401; the pipeline's account logs, registers and moves aliases;
the reader's account reads but cannot write into what the pipeline owns.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from .services import mlflow_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
USERS_SCRIPT = ROOT / "roles/mlflow/files/mlflow_users.py"
ROLE_VARS = yaml.safe_load((ROOT / "roles/mlflow/vars/main.yml").read_text())
# MLflow's refusal of an authenticated account without the permission (HTTP 403).
DENIED = r"PERMISSION_DENIED|Permission denied"
ROLE_DEFAULTS = yaml.safe_load((ROOT / "roles/mlflow/defaults/main.yml").read_text())

pytest.importorskip(
    "flask_wtf", reason="MLflow's basic-auth app needs Flask-WTF (pip install 'mlflow[auth]')"
)


def _accounts_env() -> str:
    return " ".join(f"{a['name']}:{a['permission']}" for a in ROLE_VARS["mlflow_accounts"])


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("mlflow-auth")
    creds = {
        "admin": ("finmlops-mlflow-admin", secrets.token_urlsafe(24)),
        "pipeline": ("finmlops-pipeline", secrets.token_urlsafe(24)),
        "reader": ("finmlops-reader", secrets.token_urlsafe(24)),
    }
    ini = workdir / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        f"default_permission = {ROLE_DEFAULTS['mlflow_auth_default_permission']}\n"
        f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n"
        f"admin_username = {creds['admin'][0]}\n"
        f"admin_password = {creds['admin'][1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
        encoding="utf-8",
    )
    ini.chmod(0o600)
    with mlflow_server(
        f"sqlite:///{workdir / 'mlflow.db'}",
        workdir,
        extra_args=("--app-name", "basic-auth"),
        # The chart gives the server both through its env (a generated Secret for the key).
        extra_env={
            "MLFLOW_AUTH_CONFIG_PATH": str(ini),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
        },
    ) as url:
        yield url, creds, workdir


def _client(monkeypatch, url: str, user: tuple[str, str]) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", user[1])
    return MlflowClient(tracking_uri=url)


def _run_users_job(url: str, creds: dict, files: Path | None = None) -> subprocess.CompletedProcess:
    """The Job's script; with ``files``, each credential is a file named by <VARIABLE>_FILE, as in the Job."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_ACCOUNTS=_accounts_env(), MLFLOW_USERS_WAIT_SECONDS="60")
    values = {"MLFLOW_TRACKING_USERNAME": creds["admin"][0], "MLFLOW_TRACKING_PASSWORD": creds["admin"][1]}
    for account in ROLE_VARS["mlflow_accounts"]:
        user, password = creds[account["name"]]
        values[f"{account['name'].upper()}_USER"] = user
        values[f"{account['name'].upper()}_PASSWORD"] = password
    for variable, value in values.items():
        if files is None:
            env[variable] = value
        else:
            path = files / variable.lower()
            path.write_text(value + "\n", encoding="utf-8")
            path.chmod(0o600)
            env[f"{variable}_FILE"] = str(path)
    return subprocess.run(
        [sys.executable, str(USERS_SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )


def _basic(user: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


def _status(url: str, user: tuple[str, str] | None) -> int:
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=10")
    if user:
        request.add_header("Authorization", _basic(user))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_accounts_job_then_only_the_right_credentials_get_in(auth_server, monkeypatch) -> None:
    url, creds, workdir = auth_server
    # An experiment from before authentication was turned on (an upgraded platform).
    admin = _client(monkeypatch, url, creds["admin"])
    legacy_id = admin.create_experiment("financial-before-auth")

    first = _run_users_job(url, creds)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "finmlops-pipeline: created" in first.stdout
    assert "finmlops-reader: created" in first.stdout
    for _, password in creds.values():
        assert password not in first.stdout + first.stderr

    # Nobody in without credentials, nor with a wrong password.
    assert _status(url, None) == 401
    assert _status(url, (creds["pipeline"][0], "not-the-password")) == 401
    assert _status(url, creds["pipeline"]) == 200
    assert _status(url, creds["reader"]) == 200

    # The pipeline: its own experiment, a run, a registered version, the alias.
    pipeline = _client(monkeypatch, url, creds["pipeline"])
    experiment_id = pipeline.create_experiment("financial-auth-test")
    run = pipeline.create_run(experiment_id)
    pipeline.log_metric(run.info.run_id, "sharpe", 1.25)
    pipeline.set_terminated(run.info.run_id)
    pipeline.create_registered_model("financial-lstm-auth-test")
    version = pipeline.create_model_version(
        "financial-lstm-auth-test", f"runs:/{run.info.run_id}/model", run.info.run_id
    )
    pipeline.set_registered_model_alias("financial-lstm-auth-test", "champion", version.version)
    # The job granted it EDIT on what existed before authentication.
    legacy_run = pipeline.create_run(legacy_id)
    pipeline.log_param(legacy_run.info.run_id, "resumed", "yes")

    # The reader: reads everything, writes nothing the pipeline owns.
    reader = _client(monkeypatch, url, creds["reader"])
    assert reader.get_run(run.info.run_id).data.metrics["sharpe"] == 1.25
    assert (
        reader.get_model_version_by_alias("financial-lstm-auth-test", "champion").version == version.version
    )
    with pytest.raises(MlflowException, match=DENIED):
        reader.create_run(experiment_id)
    with pytest.raises(MlflowException, match=DENIED):
        reader.set_registered_model_alias("financial-lstm-auth-test", "champion", "0")
    with pytest.raises(MlflowException, match=DENIED):
        reader.log_metric(legacy_run.info.run_id, "sharpe", 9.0)

    # Neither client account administers accounts.
    for name in ("pipeline", "reader"):
        request = urllib.request.Request(
            f"{url}/api/2.0/mlflow/users/create",
            data=b'{"username": "intruder", "password": "intruder-password"}',
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": _basic(creds[name])},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403, name

    # A rerun of the job converges (the passwords are set again, nothing fails),
    # this time reading every credential from files, as the Job does.
    secret_dir = workdir / "secrets"
    secret_dir.mkdir(mode=0o700)
    second = _run_users_job(url, creds, files=secret_dir)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "finmlops-pipeline: updated" in second.stdout
    assert _status(url, creds["pipeline"]) == 200
    log = (workdir / "mlflow-server.log").read_text(errors="replace")
    for _, password in creds.values():
        assert password not in log
