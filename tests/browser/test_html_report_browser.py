"""The HTML report opened in headless Chromium: rendered (screenshot not blank), no console errors."""

from __future__ import annotations

import pytest
from cdp import CHROMIUM, Browser, non_blank_fraction
from financial_mlops.html_report import SYNTHETIC_LABEL, RunEvidence, write_report
from ml.report_fixtures import bare_train_report, full_train_report, gate_record

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]


def test_report_renders_in_chromium_without_errors(tmp_path) -> None:
    runs = [
        RunEvidence("baseline", full_train_report("baseline"), {"test": {"accuracy": 0.589}}, gate_record()),
        RunEvidence("lightweight", bare_train_report("lightweight"), None, gate_record("reject", False)),
    ]
    page = write_report(runs, tmp_path / "report.html")["path"]
    shot = tmp_path / "report.png"
    with Browser() as browser:
        browser.open(f"file://{page}")
        text = browser.wait_for_text(SYNTHETIC_LABEL, "Summary and gate decisions", "Calibration")
        images = browser.evaluate(
            "Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0, i.naturalWidth])"
        )
        browser.screenshot(shot, full_page=True)
        errors = browser.errors()
    assert errors == []
    assert len(images) == 4 and all(loaded for _, loaded, _ in images), images  # every figure decoded
    assert "baseline" in text and "promote" in text and "reject" in text
    assert "Missing evidence" not in text  # baseline has every figure's evidence
    assert "no report['test']['accuracy_ci']" in text  # lightweight's missing intervals are named
    assert non_blank_fraction(shot) > 0.03, "the screenshot is (nearly) blank"
