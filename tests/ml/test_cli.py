"""The CLI end to end on the local default store: synth -> train (SQLite MLflow + registry) -> evaluate."""

from __future__ import annotations

import json

import pytest
from financial_mlops.cli import build_parser, main
from financial_mlops.data import load_market
from mlflow.tracking import MlflowClient

REQUIRED_REPORT_KEYS = [
    ("test", "accuracy"),
    ("test", "n"),
    ("test", "up_share"),
    ("model", "variant"),
    ("model", "hidden_size"),
    ("model", "num_layers"),
    ("model", "parameters"),
]


def test_parser_lists_the_three_commands():
    parser = build_parser()
    args = parser.parse_args(["train", "--data", "x", "--variant", "enhanced", "--epochs", "2"])
    assert (args.command, args.variant, args.epochs) == ("train", "enhanced", 2)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--data", "x", "--variant", "gigantic"])


def test_synth_is_deterministic_and_labelled(tmp_path):
    for name in ("a", "b"):
        assert (
            main(["synth", "--out", str(tmp_path / name), "--signal", "none", "--bars", "300", "--seed", "4"])
            == 0
        )
    assert (tmp_path / "a" / "SYNTH00.csv").read_bytes() == (tmp_path / "b" / "SYNTH00.csv").read_bytes()
    market = load_market(tmp_path / "a")
    assert market.synthetic["synthetic"] is True and market.synthetic["signal"] == "none"
    assert main(["synth", "--out", str(tmp_path / "c"), "--bars", "300", "--seed", "5"]) == 0
    assert (tmp_path / "a" / "SYNTH00.csv").read_bytes() != (tmp_path / "c" / "SYNTH00.csv").read_bytes()


def test_train_reports_a_clear_error_for_bad_data(tmp_path, capsys):
    (tmp_path / "X.csv").write_text("date,open,high,low,close\n2024-01-01,1,2,1,1\n")
    assert main(["train", "--data", str(tmp_path / "X.csv"), "--no-tracking"]) == 2
    assert "missing required column(s) ['volume']" in capsys.readouterr().err


@pytest.mark.slow
def test_train_and_evaluate_with_the_local_sqlite_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["synth", "--out", "data", "--signal", "medium", "--bars", "600", "--tickers", "2",
                 "--single-file", "--format", "parquet"]) == 0  # fmt: skip
    rc = main(["train", "--data", "data", "--variant", "lightweight", "--epochs", "1", "--window", "10",
               "--no-progress", "--report", "report.json"])  # fmt: skip
    assert rc == 0
    report = json.loads((tmp_path / "report.json").read_text())
    for section, key in REQUIRED_REPORT_KEYS:
        assert key in report[section], f"{section}.{key}"
    assert set(report["baselines"]) == {"majority", "previous_bar", "logistic_regression"}
    assert all("accuracy" in b for b in report["baselines"].values())
    assert report["mlflow"]["tracking_uri"] == "sqlite:///mlruns.db"
    assert (tmp_path / "mlruns.db").is_file() and (tmp_path / "mlartifacts").is_dir()
    client = MlflowClient(tracking_uri="sqlite:///mlruns.db")
    version = client.get_model_version_by_alias("financial-lstm-lightweight", "challenger")
    assert version.run_id == report["mlflow"]["run_id"]

    assert main(["evaluate", "--data", "data", "--model", "financial-lstm-lightweight@challenger",
                 "--report", "eval.json"]) == 0  # fmt: skip
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    assert evaluation["test"]["accuracy"] == pytest.approx(report["test"]["accuracy"])
    assert evaluation["test"]["n"] == report["test"]["n"]
