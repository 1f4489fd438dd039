"""The HTML report: self-contained, every figure from the reports, missing evidence named, not invented."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from financial_mlops.html_report import SYNTHETIC_LABEL, RunEvidence, write_report

from .report_fixtures import bare_train_report, full_train_report, gate_record


def test_full_reports_give_four_embedded_figures_and_the_same_pngs(tmp_path) -> None:
    runs = [
        RunEvidence("baseline", full_train_report("baseline"), {"test": {"accuracy": 0.589}}, gate_record()),
        RunEvidence("enhanced", full_train_report("enhanced"), None, gate_record("reject")),
    ]
    out = write_report(runs, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(embedded) == 4 and len(out["figures"]) == 4
    for b64, png in zip(embedded, out["figures"], strict=True):
        assert base64.b64decode(b64) == Path(png).read_bytes()  # the PNG files are the embedded figures
    assert "src='http" not in page and "<script" not in page  # nothing to fetch: self-contained
    assert SYNTHETIC_LABEL in page
    assert "0.5890 [0.560, 0.618]" in page  # accuracy with its reported interval
    assert "logistic_regression 0.5210 [0.491, 0.551]" in page
    assert "0.0680 [0.031, 0.104]" in page and "0.0012" in page  # gate comparison with CI and adjusted p
    assert "Missing evidence" not in page
    assert out["changed"] is True
    assert write_report(runs, tmp_path / "report.html")["changed"] is False  # same input, same bytes


def test_reports_without_the_statistics_say_what_is_missing(tmp_path) -> None:
    runs = [
        RunEvidence("baseline", bare_train_report(synthetic=False), None, gate_record(with_comparisons=False))
    ]
    out = write_report(runs, tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "Missing evidence: no report[&#x27;calibration&#x27;][&#x27;bins&#x27;]" in page
    assert "Missing evidence: no report[&#x27;backtest&#x27;][&#x27;equity_curve&#x27;]" in page
    assert "no report[&#x27;test&#x27;][&#x27;accuracy_ci&#x27;]; intervals are not shown" in page
    assert "have no <code>comparisons</code>" in page
    assert SYNTHETIC_LABEL not in page  # real data: no synthetic label
    assert len(out["figures"]) == 2  # learning curves and the point estimates only


def test_run_folder_and_cli(tmp_path, capsys) -> None:
    from financial_mlops.html_report import main

    work = tmp_path / "baseline-abc"
    for sub in ("train", "gate"):
        (work / sub).mkdir(parents=True)
    (work / "train" / "report.json").write_text(json.dumps(full_train_report()))
    (work / "gate" / "decision.json").write_text(json.dumps(gate_record()))
    assert main(["--run", f"baseline={work}", "--out", str(tmp_path / "demo.html")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["path"] == str(tmp_path / "demo.html") and printed["changed"]
    assert (tmp_path / "demo-figures" / "calibration.png").is_file()
