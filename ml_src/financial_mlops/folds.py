"""Walk-forward folds: k chronological out-of-sample blocks, each predicted by a model trained before it.

The out-of-sample part of the timeline is every window after the training
split (the validation and test windows, which the final model never fits).
It is cut into ``k`` chronological blocks at timestamps shared by all
tickers. Fold ``i`` trains a fresh model (and refits the naive baselines) on
every window that ends before block ``i`` (an expanding window) and, within
each ticker, more than ``gap >= window`` bars before the ticker's first test
window, then predicts block ``i``. The model and the baselines see exactly
the same train and test windows, so their per-window scores pair up.

Cost: fold models train for a fixed number of epochs (by default the final
model's best epoch, found by early stopping on the validation split) with
no validation pass and no checkpoints; they exist only to score the
training procedure out of sample, never to be served.

The windows were scaled with the scaler fitted on the training split only;
every fold's test block lies after that split, so no scaling statistic has
seen a test bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from financial_mlops import policy
from financial_mlops.dataset import PreparedData, SplitArrays
from financial_mlops.evaluation import baseline_probabilities
from financial_mlops.metrics import classification_metrics
from financial_mlops.models import build_model
from financial_mlops.progress import step_note
from financial_mlops.significance import mean_ci, ticker_groups, window_scores
from financial_mlops.train import TrainConfig, predict_logits, seed_everything, train_epoch

# Fewest windows a fold may train on or test on.
MIN_FOLD_WINDOWS = 16
_SPLIT_FIELDS = ("X", "y", "X_raw_last", "next_return", "ticker", "end_index", "dates")


def subset(arrays: SplitArrays, idx: np.ndarray) -> SplitArrays:
    return SplitArrays(**{name: getattr(arrays, name)[idx] for name in _SPLIT_FIELDS})


def pooled_windows(prepared: PreparedData) -> tuple[SplitArrays, np.ndarray]:
    """All windows of train, val and test in one set, and a mask of the out-of-sample ones."""
    parts = [prepared.splits[s] for s in ("train", "val", "test")]
    pool = SplitArrays(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _SPLIT_FIELDS})
    out_of_sample = np.concatenate([np.zeros(parts[0].n, bool), np.ones(parts[1].n + parts[2].n, bool)])
    return pool, out_of_sample


def make_folds(
    pool: SplitArrays, out_of_sample: np.ndarray, k: int, gap: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) into ``pool`` for each of ``k`` chronological folds."""
    if k < 1:
        raise ValueError(f"walk-forward folds must be >= 1, got {k}")
    times = pool.dates.astype("datetime64[ns]").astype(np.int64)
    oos_times = np.sort(times[out_of_sample])
    if oos_times.size < k * MIN_FOLD_WINDOWS:
        raise ValueError(
            f"{oos_times.size} out-of-sample windows cannot make {k} folds of >= {MIN_FOLD_WINDOWS}; "
            "use fewer --folds or a longer history"
        )
    # block edges at shared timestamps (quantiles of the out-of-sample window end times)
    edges = [oos_times[int(i * oos_times.size / k)] for i in range(k)] + [oos_times[-1] + 1]
    tickers = pool.ticker.astype(str)
    folds = []
    for i in range(k):
        test = np.flatnonzero(out_of_sample & (times >= edges[i]) & (times < edges[i + 1]))
        train_mask = times < edges[i]
        for name in np.unique(tickers[test]):
            first = pool.end_index[test[tickers[test] == name]].min()
            own = tickers == name
            train_mask &= ~own | (pool.end_index < first - gap)
        train = np.flatnonzero(train_mask)
        if train.size < MIN_FOLD_WINDOWS or test.size < MIN_FOLD_WINDOWS:
            raise ValueError(
                f"walk-forward fold {i} has {train.size} training and {test.size} test windows "
                f"(need >= {MIN_FOLD_WINDOWS} each); use fewer --folds or a longer history"
            )
        folds.append((train, test))
    return folds


def fit_fixed_epochs(
    variant: str, train: SplitArrays, config: TrainConfig, epochs: int, seed: int
) -> nn.Module:
    """A fresh model trained for exactly ``epochs`` epochs (same optimiser settings as the final model)."""
    seed_everything(seed)
    model = build_model(variant, input_size=train.X.shape[2])
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    X, y = torch.from_numpy(train.X), torch.from_numpy(train.y)
    for _ in range(epochs):
        train_epoch(
            model, optimizer, nn.BCEWithLogitsLoss(), X, y, config.batch_size, generator, config.grad_clip
        )
    model.eval()
    return model


def _iso(value: Any) -> str:
    return str(np.datetime_as_string(np.datetime64(value, "s"))) + "Z"


def _iso_all(values: np.ndarray) -> list[str]:
    return [f"{d}Z" for d in np.datetime_as_string(values.astype("datetime64[s]"))]


def _with_ci(metrics: dict, y: np.ndarray, proba: np.ndarray, groups: list[np.ndarray], block: int) -> dict:
    metrics["accuracy_ci"] = mean_ci(window_scores(y, proba, "accuracy"), groups, block)
    return metrics


def walk_forward(
    prepared: PreparedData, variant: str, config: TrainConfig, epochs: int, k: int = policy.FOLDS
) -> dict[str, Any]:
    """Per-fold and pooled metrics of the model and the baselines, plus the per-window predictions."""
    window = prepared.config.window
    gap = prepared.config.effective_gap
    pool, oos = pooled_windows(prepared)
    epochs = max(1, int(epochs))
    folds, rows = [], []
    for i, (train_idx, test_idx) in enumerate(make_folds(pool, oos, k, gap)):
        train, test = subset(pool, train_idx), subset(pool, test_idx)
        # Refits are most of a training run's wall time after the main fit; say
        # which one is running (the demo and `argo logs` show the last line).
        step_note(
            "walk-forward",
            f"fold {i + 1}/{k}: refitting {variant} for {epochs} epoch(s) on {train.n} windows, "
            f"scoring {test.n}",
        )
        model = fit_fixed_epochs(variant, train, config, epochs, config.seed + 1000 * (i + 1))
        proba = torch.sigmoid(predict_logits(model, torch.from_numpy(test.X))).numpy().astype(np.float64)
        base = baseline_probabilities(train, test)
        folds.append(
            {
                "fold": i,
                "train_end": _iso(train.dates.max()),
                "test_start": _iso(test.dates.min()),
                "test_end": _iso(test.dates.max()),
                "n": test.n,
                "n_train": train.n,
                "model": classification_metrics(test.y, proba),
                "baselines": {name: classification_metrics(test.y, p) for name, p in base.items()},
            }
        )
        rows.append((i, test, proba, base))
    y = np.concatenate([t.y for _, t, _, _ in rows]).astype(np.float64)
    tickers = np.concatenate([t.ticker for _, t, _, _ in rows]).astype(str)
    dates = np.concatenate([t.dates for _, t, _, _ in rows])
    fold_of = np.concatenate([np.full(t.n, i) for i, t, _, _ in rows])
    proba = np.concatenate([p for _, _, p, _ in rows])
    names = list(rows[0][3])
    base = {name: np.concatenate([b[name] for _, _, _, b in rows]) for name in names}
    groups = ticker_groups(tickers, dates)
    pooled = {
        "n": int(y.size),
        "model": _with_ci(classification_metrics(y, proba), y, proba, groups, window),
        "baselines": {
            name: _with_ci(classification_metrics(y, p), y, p, groups, window) for name, p in base.items()
        },
    }
    return {
        "folds": folds,
        "pooled": pooled,
        "walk_forward": {
            "k": k,
            "epochs_per_fold": epochs,
            "gap": gap,
            "block_length": window,
            # per-window out-of-sample predictions: the gate's paired tests run on these
            "windows": {
                "ticker": tickers.tolist(),
                "date": _iso_all(dates),
                "fold": fold_of.tolist(),
                "y": y.astype(int).tolist(),
                "model": np.round(proba, 6).tolist(),
                "baselines": {name: np.round(p, 6).tolist() for name, p in base.items()},
            },
        },
    }
