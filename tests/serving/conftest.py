"""Fixtures for the serving tests (helpers live in serving_fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_fixtures import Registry, empty_database, new_registry


@pytest.fixture
def registry(tmp_path: Path, empty_mlflow_db: Path) -> Registry:
    return new_registry(tmp_path / "registry", template=empty_mlflow_db)


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return empty_database(tmp_path_factory.mktemp("mlflow-template") / "mlruns.db")


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One real training run through the ML core API, logged and registered like `train` does."""
    from financial_mlops.dataset import SplitConfig
    from financial_mlops.mlflow_logging import log_training
    from financial_mlops.pipeline import run_training
    from financial_mlops.synth import generate_market, write_market
    from financial_mlops.train import TrainConfig

    root = tmp_path_factory.mktemp("tiny-training")
    write_market(
        root / "data",
        generate_market(n_tickers=2, n_bars=700, seed=3, signal="strong"),
        seed=3,
        signal="strong",
    )
    reg = new_registry(root / "registry")
    outcome = run_training(
        root / "data",
        "lightweight",
        TrainConfig(epochs=2, batch_size=128, progress=False, seed=3),
        SplitConfig(window=20),
        out_dir=root / "train",
    )
    section = log_training(outcome, tracking_uri=reg.uri)
    yield {"registry": reg, "outcome": outcome, "mlflow": section, "data": root / "data"}
