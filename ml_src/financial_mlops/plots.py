"""PNG plots for the report and MLflow: loss curves and the backtest equity curve."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: training runs in CI and in Argo pods
import matplotlib.pyplot as plt
import numpy as np


def plot_loss_curves(history: list[dict], best_epoch: int, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    ax.plot(epochs, [h["val_loss"] for h in history], marker="o", label="validation loss")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle="--", label=f"restored best (epoch {best_epoch})")
    ax.axhline(np.log(2), color="red", linestyle=":", label="coin flip (ln 2)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("BCE loss")
    ax.legend()
    ax.set_title("Loss curves")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_equity(curves: dict[str, np.ndarray], path: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4))
    dates = curves["dates"]
    ax.plot(dates, curves["strategy"], label="long/flat on model signal")
    ax.plot(dates, curves["buy_and_hold"], label="buy and hold (equal weight)")
    ax.set_ylabel("equity (start = 1)")
    ax.set_title(title)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
