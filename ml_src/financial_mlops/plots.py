"""PNG plots for the report and MLflow: loss curves, the backtest equity curve, the reliability plot."""

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
    if "strategy_after_costs" in curves:
        ax.plot(dates, curves["strategy_after_costs"], label="long/flat after per-trade costs")
    ax.plot(dates, curves["buy_and_hold"], label="buy and hold (equal weight)")
    ax.set_ylabel("equity (start = 1)")
    ax.set_title(title)
    ax.legend()
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_reliability(calibration: dict, path: Path, title: str) -> Path:
    """Mean predicted P(up) against the observed up-rate per bin; the diagonal is perfect calibration."""
    rows = [b for b in calibration["bins"] if b["n"]]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    ax.scatter(
        [b["mean_predicted"] for b in rows],
        [b["observed_up_rate"] for b in rows],
        s=[max(10.0, 200.0 * b["n"] / max(r["n"] for r in rows)) for b in rows],
        label="test windows per bin (marker size)",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted P(up)")
    ax.set_ylabel("observed up-rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
