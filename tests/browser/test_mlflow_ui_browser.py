"""The MLflow UI seen in a real browser: a small demo store, `mlflow server` on loopback, headless Chromium.

A run is logged as the demo logs its training runs (parameters, per-epoch
metrics, the training code's plot PNGs); the UI must show the experiment, the run's parameters and metrics,
and its plot artifacts (the PNG preview is loaded by the browser). Screenshots
of each page are kept in the test's folder (and under build/browser/ when
FINMLOPS_KEEP_SCREENSHOTS is set) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cdp import CHROMIUM, Browser, non_blank_fraction
from loopback import free_port, wait_until_ok

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """A store with one run logged like the demo's training runs: params, per-epoch metrics, plot PNGs.

    Logged through the MLflow client (seconds) rather than by training a
    model (minutes on a busy 2-core machine); the figures are drawn by the
    training code's own plot functions.
    """
    import mlflow
    import numpy as np
    from financial_mlops.plots import plot_equity, plot_loss_curves
    from mlflow.tracking import MlflowClient

    base = tmp_path_factory.mktemp("mlflow-ui")
    uri = f"sqlite:///{base}/mlruns.db"
    history = [
        {
            "epoch": e,
            "train_loss": 0.70 - 0.01 * e,
            "val_loss": 0.69 - 0.005 * e,
            "val_accuracy": 0.5 + 0.01 * e,
        }
        for e in range(1, 5)
    ]
    plots = base / "plots"
    plots.mkdir()
    plot_loss_curves(history, 3, plots / "loss_curves.png")
    steps = np.arange(50)
    plot_equity(
        {
            "dates": np.datetime64("2024-01-01") + steps,
            "strategy": 1 + 0.002 * steps,
            "buy_and_hold": 1 + 0.001 * steps,
        },
        plots / "equity_curve.png",
        "Test split: long/flat vs buy and hold",
    )
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(
        "financial-lstm", artifact_location=(base / "artifacts").as_uri()
    )
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name="train-lightweight") as run:
        mlflow.log_params({"variant": "lightweight", "hidden_size": 32, "num_layers": 1, "epochs": 4,
                           "data_synthetic": True})  # fmt: skip
        for row in history:
            mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=row["epoch"])
        mlflow.log_metrics({"test_accuracy": 0.55})
        mlflow.log_artifacts(str(plots), artifact_path="plots")
    experiment = client.get_experiment(experiment_id)
    return {"uri": uri, "experiment": experiment, "run": client.get_run(run.info.run_id), "dir": base}


@pytest.fixture(scope="module")
def mlflow_ui(demo_store):
    port = free_port()
    log = (demo_store["dir"] / "mlflow-server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", demo_store["uri"], "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        cwd=demo_store["dir"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def gone() -> str | None:
        if proc.poll() is None:
            return None
        return "mlflow server exited:\n" + (demo_store["dir"] / "mlflow-server.log").read_text()[-3000:]

    try:
        wait_until_ok(f"{url}/health", 180, gone, interval=1)
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(str(exc))
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)
    log.close()


def keep(shot: Path) -> None:
    if os.environ.get("FINMLOPS_KEEP_SCREENSHOTS"):
        target = ROOT / "build" / "browser"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, target / shot.name)


def test_mlflow_ui_shows_the_experiment_run_metrics_params_and_plots(mlflow_ui, demo_store, tmp_path) -> None:
    exp_id, run = demo_store["experiment"].experiment_id, demo_store["run"]
    run_id, run_name = run.info.run_id, run.info.run_name
    with Browser(width=1400, height=1000) as browser:
        browser.open(f"{mlflow_ui}/#/experiments/{exp_id}/runs")
        text = browser.wait_for_text("financial-lstm", run_name, timeout=120)
        assert run_name == "train-lightweight"
        browser.screenshot(tmp_path / "mlflow-experiment.png")

        browser.open(f"{mlflow_ui}/#/experiments/{exp_id}/runs/{run_id}")
        text = browser.wait_for_text(
            run_name, "Parameters", "Metrics", "hidden_size", "val_accuracy", timeout=120
        )
        for param in ("variant", "epochs", "data_synthetic"):
            assert param in text, f"parameter {param} not shown"
        browser.screenshot(tmp_path / "mlflow-run.png")

        browser.open(f"{mlflow_ui}/#/experiments/{exp_id}/runs/{run_id}/artifacts/plots/loss_curves.png")
        browser.wait_for_text("loss_curves.png", "equity_curve.png", timeout=120)
        # The PNG as the UI's artifact view fetches it, from inside the page.
        fetched = browser.evaluate(
            "Promise.all(['get-artifact'].map(p =>"
            f" fetch(p + '?path=plots/loss_curves.png&run_uuid={run_id}')"
            ".then(r => r.ok ? r.blob().then(b => [r.status, b.type, b.size]) : [r.status, '', 0])))"
        )
        assert any(status == 200 and size > 1000 for status, _type, size in fetched), fetched
        browser.screenshot(tmp_path / "mlflow-artifacts.png")
        # users/current: the UI asks for the logged-in user; a server without the auth app answers 404.
        errors = [e for e in browser.errors() if "favicon" not in e and "mlflow/users/current" not in e]
    for shot in ("mlflow-experiment.png", "mlflow-run.png", "mlflow-artifacts.png"):
        assert non_blank_fraction(tmp_path / shot) > 0.03, f"{shot} is (nearly) blank"
        keep(tmp_path / shot)
    assert errors == [], errors
