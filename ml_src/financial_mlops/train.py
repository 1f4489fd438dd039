"""The training loop: AdamW, BCEWithLogitsLoss, gradient clipping, early stopping, per-epoch checkpoints.

Windows arrive as pre-built tensors; a batch is one fancy-index into them, so
the loop does no per-sample Python work (benchmarks/train_throughput.py
measures it against a bare forward/backward/step loop).
"""

from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from financial_mlops.metrics import classification_metrics
from financial_mlops.progress import TrainingProgress

CHECKPOINT_FILE = "last.pt"


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-2
    patience: int = 5
    grad_clip: float = 1.0
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size and patience must be >= 1")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise ValueError("lr and grad_clip must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    stopped_early: bool
    resumed_from_epoch: int
    train_seconds: float
    train_samples_per_second: float
    extra: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seeds plus deterministic kernels: the same seed gives the same weights and metrics."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    grad_clip: float,
    bar: TrainingProgress | None = None,
    max_steps: int | None = None,
) -> tuple[float, int]:
    """One pass over shuffled pre-built windows; returns (mean loss, samples seen)."""
    model.train()
    n = X.shape[0]
    perm = torch.randperm(n, generator=generator)
    total = torch.zeros((), dtype=torch.float64)
    seen = 0
    for step, start in enumerate(range(0, n, batch_size)):
        if max_steps is not None and step >= max_steps:
            break
        idx = perm[start : start + batch_size]
        # index_select: the same rows as X[idx], a quarter of advanced indexing's cost
        xb, yb = X.index_select(0, idx), y.index_select(0, idx)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip, foreach=True)
        optimizer.step()
        # accumulate on-tensor: a .item() per step would add a sync point
        total += loss.detach() * idx.numel()
        seen += idx.numel()
        if bar is not None:
            bar.update(1)
    return float(total) / max(seen, 1), seen


@torch.inference_mode()
def predict_logits(model: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    model.eval()
    if X.shape[0] == 0:
        return torch.zeros(0)
    return torch.cat([model(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])


def _save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    # atomic: an interruption mid-write leaves the previous checkpoint intact
    os.replace(tmp, path)


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    config: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    identity: dict[str, Any] | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train with early stopping on validation loss; the model ends with the BEST epoch's weights.

    ``identity`` (variant, data fingerprint, ...) is stored in checkpoints and
    must match on ``resume`` so a checkpoint is never continued on other data.
    """
    X_train, y_train = train
    X_val, y_val = val
    identity = identity or {}
    loss_fn = nn.BCEWithLogitsLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    # dropout draws from the global RNG: seed it here so a run does not depend on what ran before
    torch.manual_seed(config.seed)

    history: list[dict[str, float]] = []
    best_state = copy.deepcopy(model.state_dict())
    best_val_loss, best_epoch, bad_epochs, start_epoch = float("inf"), 0, 0, 0
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir else None

    if resume:
        if ckpt_path is None or not ckpt_path.is_file():
            raise FileNotFoundError(
                f"--resume given but no checkpoint at {ckpt_path}; run without --resume to start fresh"
            )
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if ckpt["identity"] != identity:
            raise ValueError(
                f"checkpoint {ckpt_path} was written for {ckpt['identity']}, not {identity}; "
                "use another --checkpoint-dir or drop --resume"
            )
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        best_state, best_val_loss = ckpt["best_state"], ckpt["best_val_loss"]
        best_epoch, bad_epochs, start_epoch = ckpt["best_epoch"], ckpt["bad_epochs"], ckpt["epoch"]
        history = ckpt["history"]

    steps_per_epoch = -(-X_train.shape[0] // config.batch_size)
    bar = TrainingProgress(
        step="train",
        variant=str(identity.get("variant", "")),
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        start_epoch=start_epoch,
        enabled=config.progress,
    )
    stopped_early = bad_epochs >= config.patience
    train_time, train_seen = 0.0, 0
    epoch = start_epoch
    try:
        while epoch < config.epochs and not stopped_early:
            t0 = time.perf_counter()
            train_loss, seen = train_epoch(
                model,
                optimizer,
                loss_fn,
                X_train,
                y_train,
                config.batch_size,
                generator,
                config.grad_clip,
                bar,
            )
            train_time += time.perf_counter() - t0
            train_seen += seen
            epoch += 1
            val_logits = predict_logits(model, X_val)
            val_loss = float(loss_fn(val_logits, y_val))
            vm = classification_metrics(y_val.numpy(), torch.sigmoid(val_logits).numpy())
            row = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_accuracy": vm["accuracy"],
                "val_roc_auc": vm["roc_auc"],
            }
            history.append(row)
            if val_loss < best_val_loss - 1e-6:
                best_val_loss, best_epoch, bad_epochs = val_loss, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
            stopped_early = bad_epochs >= config.patience
            bar.epoch_done(epoch, train_loss, val_loss, vm["accuracy"])
            if ckpt_path is not None:
                _save_checkpoint(
                    ckpt_path,
                    {
                        "identity": identity,
                        "epoch": epoch,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "best_state": best_state,
                        "best_val_loss": best_val_loss,
                        "best_epoch": best_epoch,
                        "bad_epochs": bad_epochs,
                        "history": history,
                    },
                )
            if on_epoch is not None:
                on_epoch(row)
    finally:
        bar.close("early stop" if stopped_early else "done" if epoch >= config.epochs else "")

    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        history=history,
        best_epoch=best_epoch,
        best_val_loss=best_val_loss,
        epochs_run=epoch,
        stopped_early=stopped_early,
        resumed_from_epoch=start_epoch,
        train_seconds=train_time,
        train_samples_per_second=train_seen / train_time if train_time > 0 else 0.0,
    )
