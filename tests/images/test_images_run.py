"""The built images, run with podman the way the cluster runs them.

The trainer image, as UID 10001 with a read-only root filesystem and a tmpfs
/tmp (the Argo step pods' securityContext), writes a synthetic market, trains
one epoch with a file MLflow store in the mounted work folder and exports the
MLServer folder from that registry. The serving image, as UID 1000 and
read-only too, serves that folder; the V2 inference request is answered by
the container (this venv only builds the request and cross-checks the number).

`make images-test` builds the images (air-gapped path) and runs this with
FINMLOPS_IMAGES_REQUIRED=1, so a missing image fails there instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from financial_mlops.bundle import load_bundle
from financial_mlops.data import load_market
from financial_mlops.features import RAW_COLUMNS
from loopback import free_port, wait_until_ok

pytestmark = [pytest.mark.images, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TAG = os.environ.get("FINMLOPS_IMAGE_TAG", "0.1.0")
TRAINER = os.environ.get("FINMLOPS_TRAINER_IMAGE", f"localhost/financial-mlops-trainer:{TAG}")
MLSERVER = os.environ.get("FINMLOPS_MLSERVER_IMAGE", f"localhost/financial-mlops-mlserver:{TAG}")
MODEL = "financial-lstm-baseline"
# The pods' settings (roles/ml_trainer, roles/seldon ServerConfig).
TRAINER_UID = "10001:10001"
MLSERVER_UID = "1000:1000"


def _podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(ROOT / "molecule" / "containers.conf"))
    proc = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="module")
def images() -> None:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (apt-get install podman runc)")
    missing = [i for i in (TRAINER, MLSERVER) if _podman("image", "exists", i, check=False).returncode != 0]
    if missing:
        message = f"images not built: {missing}; build them with `make images AIRGAP=1`"
        if os.environ.get("FINMLOPS_IMAGES_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _trainer(work: Path, *argv: str) -> str:
    proc = _podman(
        "run", "--rm", "--network", "none", "--user", TRAINER_UID, "--read-only",
        "--tmpfs", "/tmp:rw,size=256m", "--volume", f"{work}:/work", TRAINER, *argv,
    )  # fmt: skip
    return proc.stdout


@pytest.fixture(scope="module")
def exported(images: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("image-work")
    # The container user owns nothing on the host: let it write its work folder.
    work.chmod(0o777)
    tracking = "sqlite:////work/mlflow.db"
    _trainer(work, "synth", "--out", "/work/data", "--tickers", "2", "--bars", "900", "--seed", "1")
    _trainer(
        work, "train", "--data", "/work/data", "--variant", "baseline", "--epochs", "1",
        "--tracking-uri", tracking, "--output-dir", "/work/train", "--no-progress",
    )  # fmt: skip
    out = _trainer(
        work, "export-serving", "--model", MODEL, "--version", "1", "--out", "/work/serving",
        "--tracking-uri", tracking,
    )  # fmt: skip
    return {"work": work, "export": json.loads(out)}


@pytest.fixture(scope="module")
def served(exported: dict[str, Any]) -> Iterator[str]:
    port = free_port()
    name = f"finmlops-image-test-{os.getpid()}"
    _podman(
        "run", "--detach", "--name", name, "--user", MLSERVER_UID, "--read-only",
        "--tmpfs", "/tmp:rw,size=256m", "--volume", f"{exported['work'] / 'serving'}:/mnt/models:ro",
        "--publish", f"127.0.0.1:{port}:8080", MLSERVER,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def gone() -> str | None:
        state = _podman("inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
        return None if state == "running" else f"serving container {state}"

    try:
        try:
            wait_until_ok(f"{url}/v2/models/{MODEL}/ready", 180, gone, interval=1)
        except (RuntimeError, TimeoutError) as exc:
            logs = _podman("logs", name, check=False)
            pytest.fail(f"{exc}, not ready:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
        yield url
    finally:
        _podman("rm", "--force", "--time", "10", name, check=False)


def test_trainer_image_exports_a_serving_folder(exported: dict[str, Any]) -> None:
    folder = exported["work"] / "serving"
    settings = json.loads((folder / "model-settings.json").read_text())
    assert settings["name"] == MODEL
    assert settings["implementation"] == "financial_mlops.serving.runtime.FinancialLSTMRuntime"
    assert exported["export"]["version"] in ("1", 1)


def test_serving_image_answers_a_v2_request_with_a_probability(exported: dict[str, Any], served: str) -> None:
    folder = exported["work"] / "serving"
    bundle = load_bundle(folder)
    series = next(iter(load_market(exported["work"] / "data").series.values()))
    bars = series.frame.loc[:, list(RAW_COLUMNS)].to_numpy(dtype=np.float64)[-bundle.feature_spec.min_bars :]
    body = {
        "inputs": [
            {"name": "ohlcv", "datatype": "FP64", "shape": [1, *bars.shape], "data": bars.ravel().tolist()}
        ]
    }
    req = urllib.request.Request(
        f"{served}/v2/models/{MODEL}/infer", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    outputs = {o["name"]: o for o in answer["outputs"]}
    probability = outputs["probability"]["data"]
    assert len(probability) == 1 and 0.0 <= probability[0] <= 1.0, answer
    assert outputs["direction"]["data"] == ["up" if probability[0] >= 0.5 else "down"]
