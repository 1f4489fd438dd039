"""Write a V2 inference request: the last bars of one ticker of a data set, in the ``ohlcv`` form.

Usage: python demo_request.py DATA MODEL_DIR OUT_JSON
DATA is what ``financial_mlops train --data`` reads (so CSV and Parquet both
work); MODEL_DIR is the exported MLServer folder (its feature_spec.json says
how many bars one prediction needs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from financial_mlops.data import load_market
from financial_mlops.features import RAW_COLUMNS


def build_request(data: str, model_dir: str) -> dict:
    spec = json.loads((Path(model_dir) / "feature_spec.json").read_text())
    n_bars = int(spec["warmup_bars"]) + int(spec["window"])
    market = load_market(data)
    ticker = market.tickers[0]
    frame = market.series[ticker].frame
    if len(frame) < n_bars:
        raise SystemExit(f"{data}: ticker {ticker} has {len(frame)} bars, the model needs {n_bars}")
    bars = frame.loc[:, list(RAW_COLUMNS)].tail(n_bars).to_numpy(dtype=float)
    return {
        "id": f"demo-{ticker}",
        "parameters": {"ticker": ticker, "last_bar": str(frame.index[-1])},
        "inputs": [
            {
                "name": "ohlcv",
                "datatype": "FP64",
                "shape": [1, n_bars, len(RAW_COLUMNS)],
                "data": bars.ravel().tolist(),
            }
        ],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    data, model_dir, out = argv
    request = build_request(data, model_dir)
    Path(out).write_text(json.dumps(request) + "\n")
    print(json.dumps({"ticker": request["parameters"]["ticker"], "bars": request["inputs"][0]["shape"][1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
