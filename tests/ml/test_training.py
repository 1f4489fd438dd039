"""Training loop: deterministic, early stopping restores the best epoch, resume continues exactly."""

from __future__ import annotations

import pytest
import torch
from financial_mlops.models import build_model
from financial_mlops.train import CHECKPOINT_FILE, TrainConfig, fit

N_FEATURES = 6


def _data(seed: int = 0, n: int = 600):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 8, N_FEATURES, generator=g)
    y = (X[:, -1, 0] + 0.5 * torch.randn(n, generator=g) > 0).float()
    return (X[:400], y[:400]), (X[400:], y[400:])


def _fresh_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("lightweight", N_FEATURES)


def _cfg(**kw) -> TrainConfig:
    base = {"epochs": 4, "batch_size": 64, "lr": 3e-3, "patience": 10, "seed": 0, "progress": False}
    base.update(kw)
    return TrainConfig(**base)


def _same_weights(a, b) -> bool:
    return all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_same_seed_gives_identical_weights():
    train, val = _data()
    m1, m2 = _fresh_model(), _fresh_model()
    fit(m1, train, val, _cfg())
    fit(m2, train, val, _cfg())
    assert _same_weights(m1, m2)


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path):
    train, val = _data()
    identity = {"variant": "lightweight", "data": "t"}
    full = _fresh_model()
    r_full = fit(full, train, val, _cfg(epochs=4), checkpoint_dir=tmp_path / "a", identity=identity)

    part = _fresh_model()
    fit(part, train, val, _cfg(epochs=2), checkpoint_dir=tmp_path / "b", identity=identity)
    assert (tmp_path / "b" / CHECKPOINT_FILE).is_file()
    resumed = _fresh_model(seed=123)  # weights come from the checkpoint, not from init
    r_res = fit(
        resumed, train, val, _cfg(epochs=4), checkpoint_dir=tmp_path / "b", resume=True, identity=identity
    )

    assert r_res.resumed_from_epoch == 2 and r_res.epochs_run == 4
    assert [h["val_loss"] for h in r_res.history] == pytest.approx([h["val_loss"] for h in r_full.history])
    assert _same_weights(full, resumed)


def test_resume_refuses_a_checkpoint_from_other_data(tmp_path):
    train, val = _data()
    fit(_fresh_model(), train, val, _cfg(epochs=1), checkpoint_dir=tmp_path, identity={"data": "x"})
    with pytest.raises(ValueError, match="was written for"):
        fit(
            _fresh_model(),
            train,
            val,
            _cfg(epochs=2),
            checkpoint_dir=tmp_path,
            resume=True,
            identity={"data": "y"},
        )


def test_resume_without_checkpoint_says_how_to_start_fresh(tmp_path):
    train, val = _data()
    with pytest.raises(FileNotFoundError, match="without --resume"):
        fit(_fresh_model(), train, val, _cfg(), checkpoint_dir=tmp_path / "none", resume=True)


def test_early_stopping_restores_the_best_epoch():
    train, val = _data()
    # a huge learning rate makes validation loss bounce; the kept weights must be the best epoch's
    model = _fresh_model()
    result = fit(model, train, val, _cfg(epochs=12, lr=0.2, patience=2))
    best = min(h["val_loss"] for h in result.history)
    assert result.history[result.best_epoch - 1]["val_loss"] == pytest.approx(best)
    with torch.no_grad():
        restored = torch.nn.functional.binary_cross_entropy_with_logits(model.eval()(val[0]), val[1]).item()
    assert restored == pytest.approx(best, rel=1e-5)
    if result.stopped_early:
        assert result.epochs_run - result.best_epoch == 2


def test_loss_decreases_on_learnable_data():
    train, val = _data()
    result = fit(_fresh_model(), train, val, _cfg(epochs=6, lr=1e-2))
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert result.history[-1]["val_accuracy"] > 0.7
