"""The measured MLServer worker setting is the one the Server and the local demo run with."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from financial_mlops.serving.settings import SERVER_PARALLEL_WORKERS, RuntimeConfig

ROOT = Path(__file__).resolve().parents[2]


def _env_of_serverconfig() -> dict[str, str]:
    text = (ROOT / "roles/seldon/templates/serverconfig-mlserver.yaml.j2").read_text()
    return dict(re.findall(r"\{name: (\w+), value: \"([^\"]*)\"\}", text))


def test_serverconfig_runs_the_chosen_worker_setting():
    env = _env_of_serverconfig()
    assert env["MLSERVER_PARALLEL_WORKERS"] == str(SERVER_PARALLEL_WORKERS)
    assert env["OMP_NUM_THREADS"] == str(RuntimeConfig().torch_threads)
    # the per-model variable is deprecated in MLServer 1.7 and would only mislead a reader
    assert "MLSERVER_MODEL_PARALLEL_WORKERS" not in env


def test_local_demo_runs_the_chosen_worker_setting():
    variables = yaml.safe_load((ROOT / "roles/local_pipeline/vars/main.yml").read_text())
    env = variables["local_pipeline_mlserver_environment"]
    assert env["MLSERVER_PARALLEL_WORKERS"] == str(SERVER_PARALLEL_WORKERS)
    assert env["OMP_NUM_THREADS"] == str(RuntimeConfig().torch_threads)
