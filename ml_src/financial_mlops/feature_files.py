"""The features step's output: the split, scaled windows of a data set, handed to the train step.

A features folder holds ``features.npz`` (every array of every split),
``feature_spec.json`` (feature names, window, scaler fitted on the training
rows only) and ``FEATURES.json`` (split rules, the data section of the
reports, and the sha256 of the arrays). ``load_features`` refuses a folder
whose arrays do not match that checksum, so the train step can never train
on features other than the ones the features step reported.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from financial_mlops.bundle import FEATURE_SPEC_FILE
from financial_mlops.data import MarketData
from financial_mlops.dataset import SPLITS, PreparedData, SplitArrays, SplitConfig
from financial_mlops.spec import FeatureSpec

ARRAYS_FILE = "features.npz"
MANIFEST_FILE = "FEATURES.json"
SCHEMA = "financial-mlops/features/v1"
_FIELDS = ("X", "y", "X_raw_last", "next_return", "ticker", "end_index", "dates")


class FeatureFilesError(ValueError):
    """A features folder that cannot be used; the message says which and why."""


def data_section(market: MarketData, prepared: PreparedData) -> dict[str, Any]:
    """What the reports say about the data a model was trained or evaluated on."""
    return {
        "source": market.source,
        "synthetic": market.synthetic is not None,
        "synthetic_label": market.synthetic,
        "tickers": market.tickers,
        "n_bars": market.n_bars,
        "window": prepared.config.window,
        "gap": prepared.config.effective_gap,
        "val_fraction": prepared.config.val_fraction,
        "test_fraction": prepared.config.test_fraction,
        "split_cut_times": [t.isoformat() for t in prepared.cut_times],
        "split_sizes": {k: v.n for k, v in prepared.splits.items()},
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_features(prepared: PreparedData, data: dict[str, Any], out: str | Path) -> dict[str, Any]:
    """Write the features folder; returns its manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        arrays_of = prepared.splits[split]
        for name in _FIELDS:
            value = getattr(arrays_of, name)
            # Ticker names as fixed-width text: npz then loads without pickle.
            arrays[f"{split}.{name}"] = value.astype(str) if name == "ticker" else value
    np.savez(out / ARRAYS_FILE, **arrays)
    (out / FEATURE_SPEC_FILE).write_text(json.dumps(prepared.spec.to_dict(), indent=2) + "\n")
    manifest = {
        "schema": SCHEMA,
        "split": {
            "window": prepared.config.window,
            "val_fraction": prepared.config.val_fraction,
            "test_fraction": prepared.config.test_fraction,
            "gap": prepared.config.gap,
        },
        "cut_times": [t.isoformat() for t in prepared.cut_times],
        "data": data,
        "sha256": {
            ARRAYS_FILE: _sha256(out / ARRAYS_FILE),
            FEATURE_SPEC_FILE: _sha256(out / FEATURE_SPEC_FILE),
        },
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_features(folder: str | Path) -> tuple[PreparedData, dict[str, Any]]:
    """The PreparedData and data section saved by ``save_features``, after checking the checksums."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise FeatureFilesError(
            f"{folder}: no {MANIFEST_FILE}; pass the folder written by `python -m financial_mlops features`"
        )
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("schema") != SCHEMA:
        raise FeatureFilesError(f"{manifest_path}: schema {manifest.get('schema')!r}, expected {SCHEMA!r}")
    for name, digest in manifest["sha256"].items():
        path = folder / name
        if not path.is_file() or _sha256(path) != digest:
            raise FeatureFilesError(
                f"{path}: missing or changed since the features step wrote it (sha256 mismatch); "
                "rerun the features step"
            )
    spec = FeatureSpec.from_dict(json.loads((folder / FEATURE_SPEC_FILE).read_text()))
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
        splits = {
            split: SplitArrays(**{name: npz[f"{split}.{name}"] for name in _FIELDS}) for split in SPLITS
        }
    for arrays in splits.values():
        arrays.ticker = arrays.ticker.astype(object)
    split = manifest["split"]
    prepared = PreparedData(
        spec=spec,
        config=SplitConfig(split["window"], split["val_fraction"], split["test_fraction"], split["gap"]),
        splits=splits,
        tickers=[],  # per-ticker bars stay with the data set; training needs the windows only
        cut_times=tuple(pd.Timestamp(t) for t in manifest["cut_times"]),  # type: ignore[arg-type]
    )
    return prepared, manifest["data"]
