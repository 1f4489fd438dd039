"""End-to-end honesty checks on synthetic markets (seeded, so the outcome is reproducible)."""

from __future__ import annotations

import pytest
from financial_mlops.dataset import SplitConfig
from financial_mlops.pipeline import run_training
from financial_mlops.synth import generate_market, write_market
from financial_mlops.train import TrainConfig

pytestmark = pytest.mark.slow


def _train(tmp_path, signal: str, variant: str, config: TrainConfig, split: SplitConfig, n_bars: int):
    data = tmp_path / f"data-{signal}"
    write_market(data, generate_market(n_tickers=4, n_bars=n_bars, seed=config.seed, signal=signal),
                 seed=config.seed, signal=signal)  # fmt: skip
    return run_training(data, variant, config, split, out_dir=tmp_path / "out").report


def test_random_walk_is_a_coin_flip(tmp_path):
    """No past-only model can predict a random walk: accuracy must stay near 50% on >= 2000 test bars."""
    report = _train(
        tmp_path,
        "none",
        # the test is about the data and features, not the variant: the small model keeps it fast
        "lightweight",
        TrainConfig(epochs=3, lr=3e-3, seed=11, progress=False),
        SplitConfig(window=10, val_fraction=0.15, test_fraction=0.3),
        n_bars=2000,
    )
    assert report["data"]["synthetic"] is True
    assert report["test"]["n"] >= 2000
    assert 0.46 <= report["test"]["accuracy"] <= 0.54
    assert report["sanity"]["random_walk"]["passed"] is True


def test_baseline_variant_beats_every_naive_baseline_on_signal_data(tmp_path):
    report = _train(
        tmp_path,
        "strong",
        "baseline",
        TrainConfig(epochs=8, lr=3e-3, patience=3, seed=0, progress=False),
        SplitConfig(window=10),
        n_bars=2000,
    )
    acc = report["test"]["accuracy"]
    for name, baseline in report["baselines"].items():
        assert acc > baseline["accuracy"], f"{name}: model {acc:.4f} <= baseline {baseline['accuracy']:.4f}"
    assert report["checks"]["beats_all_baselines"] is True
    assert report["checks"]["constant_predictor"] is False
    assert report["sanity"]["random_walk"]["passed"] is True
    assert report["model"] | {"variant": "baseline", "hidden_size": 64, "num_layers": 2} == report["model"]
