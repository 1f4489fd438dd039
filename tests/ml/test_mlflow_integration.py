"""Training logs to a real MLflow server on a real PostgreSQL; the registered model loads back."""

from __future__ import annotations

import mlflow
import numpy as np
import psycopg2
import pytest
import torch
from financial_mlops.bundle import load_bundle
from financial_mlops.dataset import SplitConfig
from financial_mlops.mlflow_logging import download_bundle, log_training
from financial_mlops.pipeline import run_training
from financial_mlops.synth import generate_market, write_market
from financial_mlops.tracking import SANITY_TAG
from financial_mlops.train import TrainConfig
from mlflow.tracking import MlflowClient

from .services import find_pg_bin, mlflow_server, postgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    pg_bin = find_pg_bin()
    if pg_bin is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH, in /usr/local/bin or "
            "/usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`"
        )
    workdir = tmp_path_factory.mktemp("mlflow")
    with postgres(pg_bin) as db_url, mlflow_server(db_url, workdir) as url:
        yield url, db_url


def test_training_run_is_tracked_registered_and_loadable(tracking_server, tmp_path):
    url, db_url = tracking_server
    data = tmp_path / "data"
    write_market(
        data, generate_market(n_tickers=2, n_bars=700, seed=5, signal="medium"), seed=5, signal="medium"
    )
    outcome = run_training(
        data,
        "lightweight",
        TrainConfig(epochs=2, seed=5, progress=False),
        SplitConfig(window=10),
        out_dir=tmp_path / "out",
    )
    section = log_training(outcome, tracking_uri=url, experiment="integration")
    assert section["registered_model"] == "financial-lstm-lightweight"
    assert outcome.report["mlflow"]["version"] == section["version"]

    client = MlflowClient(tracking_uri=url)
    run = client.get_run(section["run_id"])
    assert run.data.tags[SANITY_TAG] in ("true", "false")
    assert run.data.tags[SANITY_TAG] == str(outcome.report["sanity"]["random_walk"]["passed"]).lower()
    assert run.data.params["variant"] == "lightweight"
    assert "test_accuracy" in run.data.metrics
    assert (
        len(client.get_metric_history(run.info.run_id, "val_loss"))
        == outcome.report["training"]["epochs_run"]
    )
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "bundle")}
    assert {
        "bundle/model.pt",
        "bundle/feature_spec.json",
        "bundle/model_config.json",
        "bundle/metrics.json",
    } <= artifacts
    assert {a.path for a in client.list_artifacts(run.info.run_id, "plots")} == {
        "plots/loss_curves.png",
        "plots/equity_curve.png",
        "plots/reliability.png",
    }
    version = client.get_model_version_by_alias("financial-lstm-lightweight", "challenger")
    assert version.version == section["version"] and version.run_id == run.info.run_id

    # the registry really lives in PostgreSQL
    with (
        psycopg2.connect(db_url.replace("postgresql+psycopg2://", "postgresql://")) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT name FROM registered_models")
        assert ("financial-lstm-lightweight",) in cur.fetchall()

    # load back: the registered pytorch model and the bundle give the same probabilities
    test = outcome.prepared.splits["test"]
    spec = outcome.spec
    raw = (test.X[:16] * np.asarray(spec.scaler_scale) + np.asarray(spec.scaler_mean)).astype(np.float32)
    mlflow.set_tracking_uri(url)
    loaded = mlflow.pytorch.load_model("models:/financial-lstm-lightweight@challenger")
    with torch.no_grad():
        from_registry = loaded(torch.from_numpy(raw)).numpy()
    bundle = load_bundle(download_bundle("financial-lstm-lightweight@challenger", tracking_uri=url))
    np.testing.assert_allclose(bundle.predict_proba(raw), from_registry, rtol=1e-4, atol=1e-6)
    assert bundle.metrics["mlflow"]["run_id"] == run.info.run_id
    assert ((from_registry > 0) & (from_registry < 1)).all()

    # a second run gets a new version which takes over the challenger alias
    second = log_training(outcome, tracking_uri=url, experiment="integration")
    assert int(second["version"]) == int(section["version"]) + 1
    assert (
        client.get_model_version_by_alias("financial-lstm-lightweight", "challenger").version
        == second["version"]
    )
