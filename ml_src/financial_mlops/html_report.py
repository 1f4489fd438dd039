"""One self-contained HTML page (figures embedded as base64 PNG, and the same PNGs beside it).

What it shows comes from the JSON reports and gate decision records only:
this module draws and tabulates, it never computes a statistic. A figure
whose evidence is not in the reports (confidence intervals, calibration
bins, the backtest's equity curve...) is replaced by a note naming the
missing key, so an older report is never dressed up with invented numbers.

Inputs per run: the train report (``train --report``), optionally the
evaluate report (the stored model re-scored) and the gate's decision record.
Every figure of a run on synthetic data carries a SYNTHETIC label.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

SYNTHETIC_LABEL = "SYNTHETIC DATA: says nothing about real markets"


@dataclass
class RunEvidence:
    """What one variant's run left behind (any part may be missing)."""

    name: str
    train: dict[str, Any]
    evaluation: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    missing: list[str] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        return bool((self.train.get("data") or {}).get("synthetic"))

    @classmethod
    def from_files(cls, name: str, train: Path, evaluation: Path | None = None, gate: Path | None = None):
        def read(path: Path | None) -> dict[str, Any] | None:
            return json.loads(path.read_text()) if path is not None and path.is_file() else None

        report = read(train)
        if report is None:
            raise FileNotFoundError(
                f"{name}: train report {train} does not exist (train --report PATH writes it)"
            )
        return cls(name, report, read(evaluation), read(gate))

    @classmethod
    def from_run_folder(cls, name: str, work: Path):
        """A run folder of the demo / the pipeline's steps: train/, evaluate/, gate/ inside it."""
        return cls.from_files(
            name,
            work / "train" / "report.json",
            work / "evaluate" / "report.json",
            work / "gate" / "decision.json",
        )


# --- figures --------------------------------------------------------------------------------


def _label_synthetic(fig: plt.Figure, synthetic: bool) -> None:
    if synthetic:
        fig.text(
            0.5, 0.995, SYNTHETIC_LABEL, ha="center", va="top", color="#b00020", fontsize=10, weight="bold"
        )


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    # no timestamp or software tag: the same reports give the same bytes (re-runs change nothing)
    fig.savefig(buf, format="png", dpi=96, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def learning_curves(runs: Sequence[RunEvidence]) -> bytes | str:
    with_history = [r for r in runs if (r.train.get("training") or {}).get("history")]
    if not with_history:
        return "no run has report['training']['history'] (per-epoch losses)"
    fig, axes = plt.subplots(1, len(with_history), figsize=(4.2 * len(with_history), 3.4), squeeze=False)
    for ax, run in zip(axes[0], with_history, strict=True):
        history = run.train["training"]["history"]
        epochs = [row["epoch"] for row in history]
        ax.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train loss")
        ax.plot(epochs, [row["val_loss"] for row in history], marker="o", label="val loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("BCE loss")
        ax.set_title(f"{run.name}: learning curves")
        acc = ax.twinx()
        acc.plot(
            epochs, [row["val_accuracy"] for row in history], color="tab:green", ls="--", label="val accuracy"
        )
        acc.set_ylabel("val accuracy")
        best = run.train["training"].get("best_epoch")
        if best:
            ax.axvline(best, color="grey", lw=0.8, ls=":", label=f"best epoch {best}")
        lines = ax.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
        ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="upper right")
    _label_synthetic(fig, any(r.synthetic for r in with_history))
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _png(fig)


def accuracy_vs_baselines(runs: Sequence[RunEvidence]) -> tuple[bytes | str, list[str]]:
    """Test accuracy and every naive baseline, each with its reported interval when there is one."""
    notes: list[str] = []
    fig, axes = plt.subplots(len(runs), 1, figsize=(7.5, 1.1 + 0.45 * 5 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs, strict=True):
        test = run.train.get("test") or {}
        rows = [(f"{run.name} (model)", test.get("accuracy"), test.get("accuracy_ci"))]
        rows += [
            (name, b.get("accuracy"), b.get("accuracy_ci"))
            for name, b in (run.train.get("baselines") or {}).items()
        ]
        rows = [r for r in rows if r[1] is not None]
        if "accuracy_ci" not in test:
            notes.append(f"{run.name}: no report['test']['accuracy_ci']; intervals are not shown")
        ys = range(len(rows))
        for y, (_label, value, ci) in zip(ys, rows, strict=True):
            color = "tab:blue" if y == 0 else "tab:grey"
            if ci:
                ax.errorbar(
                    value, y, xerr=[[value - ci[0]], [ci[1] - value]], fmt="o", color=color, capsize=4
                )
            else:
                ax.plot(value, y, "o", color=color)
            ax.annotate(f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""), (value, y),
                        xytext=(6, 4), textcoords="offset points", fontsize=7)  # fmt: skip
        ax.set_yticks(list(ys), [r[0] for r in rows], fontsize=8)
        ax.axvline(0.5, color="grey", lw=0.6, ls=":")
        ax.set_xlabel(f"test accuracy (n={test.get('n', '?')})")
        ax.invert_yaxis()
    _label_synthetic(fig, any(r.synthetic for r in runs))
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return _png(fig), notes


def calibration(runs: Sequence[RunEvidence]) -> bytes | str:
    with_bins = [r for r in runs if (r.train.get("calibration") or {}).get("bins")]
    if not with_bins:
        return "no report['calibration']['bins'] in any run: the calibration plot needs them"
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", label="perfectly calibrated")
    for run in with_bins:
        bins = [b for b in run.train["calibration"]["bins"] if b.get("n")]
        ax.plot(
            [b["mean_predicted"] for b in bins],
            [b["observed_up_rate"] for b in bins],
            marker="o",
            label=run.name,
        )
    ax.set_xlabel("mean predicted P(up) in bin")
    ax.set_ylabel("observed up rate")
    ax.set_title("Calibration (test split)")
    ax.legend(fontsize=8)
    _label_synthetic(fig, any(r.synthetic for r in with_bins))
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return _png(fig)


def equity_curves(runs: Sequence[RunEvidence]) -> bytes | str:
    with_curve = [
        r for r in runs if ((r.train.get("backtest") or {}).get("equity_curve") or {}).get("strategy")
    ]
    if not with_curve:
        return "no report['backtest']['equity_curve'] in any run: the equity curve needs it"
    fig, axes = plt.subplots(len(with_curve), 1, figsize=(7.5, 3.0 * len(with_curve)), squeeze=False)
    for ax, run in zip(axes[:, 0], with_curve, strict=True):
        backtest = run.train["backtest"]
        curve = backtest["equity_curve"]
        x = curve.get("dates") or list(range(len(curve["strategy"])))
        ax.plot(x, curve["strategy"], label="long/flat strategy")
        if curve.get("strategy_after_costs"):
            ax.plot(
                x, curve["strategy_after_costs"], label=f"after costs ({backtest.get('cost_bps', '?')} bps)"
            )
        if curve.get("buy_and_hold"):
            ax.plot(x, curve["buy_and_hold"], label="buy and hold", color="black", lw=1)
        ax.set_title(f"{run.name}: equity on the test split")
        ax.set_ylabel("equity (start = 1)")
        ax.legend(fontsize=8)
        if curve.get("dates"):
            step = max(len(x) // 6, 1)
            ax.set_xticks(x[::step], [str(d)[:10] for d in x[::step]], fontsize=7)
    _label_synthetic(fig, any(r.synthetic for r in with_curve))
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return _png(fig)


# --- page -----------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _ci(ci: Sequence[float] | None) -> str:
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""


def _summary_rows(runs: Sequence[RunEvidence]) -> Iterable[str]:
    for run in runs:
        model, test = run.train.get("model") or {}, run.train.get("test") or {}
        baselines = run.train.get("baselines") or {}
        best = max(baselines.items(), key=lambda kv: kv[1].get("accuracy", 0), default=None)
        reeval = ((run.evaluation or {}).get("test") or {}).get("accuracy")
        decision = (run.gate or {}).get("decision", "no decision record")
        reasons = "; ".join((run.gate or {}).get("reasons", []))
        best_text = (
            f"{html.escape(best[0])} {_fmt(best[1].get('accuracy'))}{_ci(best[1].get('accuracy_ci'))}"
            if best
            else "-"
        )
        cls = "pass" if decision == "promote" else "fail"
        yield (
            f"<tr><td>{html.escape(run.name)}</td>"
            f"<td>{model.get('hidden_size', '?')}x{model.get('num_layers', '?')}</td>"
            f"<td>{_fmt(model.get('parameters'))}</td>"
            f"<td>{_fmt(test.get('accuracy'))}{_ci(test.get('accuracy_ci'))}</td>"
            f"<td>{_fmt(reeval)}</td>"
            f"<td>{best_text}</td>"
            f"<td>{_fmt(test.get('n'))}</td>"
            f"<td class='{cls}'>{html.escape(str(decision))}</td><td>{html.escape(reasons)}</td></tr>"
        )


def _comparison_rows(runs: Sequence[RunEvidence]) -> list[str]:
    rows = []
    for run in runs:
        for c in (run.gate or {}).get("comparisons", []) or []:
            result = "passed" if c.get("passed") else "failed"
            rows.append(
                f"<tr><td>{html.escape(run.name)}</td><td>{_fmt(c.get('against'))}</td>"
                f"<td>{_fmt(c.get('metric'))}</td>"
                f"<td>{_fmt(c.get('difference'))}{_ci(c.get('ci'))}</td><td>{_fmt(c.get('p_value'))}</td>"
                f"<td>{_fmt(c.get('p_adjusted'))}</td><td>{_fmt(c.get('effective_n'))}</td>"
                f"<td class='{'pass' if c.get('passed') else 'fail'}'>{result}</td></tr>"
            )
    return rows


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3} .pass{color:#126b12;font-weight:bold} .fail{color:#b00020;font-weight:bold}
.synthetic{background:#b00020;color:#fff;padding:.4em .8em;display:inline-block;font-weight:bold}
.missing{background:#fff4e5;border-left:4px solid #e69500;padding:.5em .8em;margin:.5em 0}
img{max-width:100%;border:1px solid #eee}
"""


def write_report(
    runs: Sequence[RunEvidence], out: str | Path, title: str = "financial-mlops run report", extra: str = ""
) -> dict[str, Any]:
    """Write ``out`` (HTML) and ``<out stem>-figures/*.png``; files are rewritten only when they differ."""
    if not runs:
        raise ValueError("no runs to report on")
    out = Path(out)
    fig_dir = out.with_name(out.stem + "-figures")
    figures: list[tuple[str, str, bytes | str]] = [
        ("learning_curves", "Learning curves per variant", learning_curves(runs))
    ]
    accuracy, notes = accuracy_vs_baselines(runs)
    figures.append(("accuracy_vs_baselines", "Test accuracy next to every naive baseline", accuracy))
    figures.append(("calibration", "Calibration", calibration(runs)))
    figures.append(("equity_curve", "Directional strategy vs buy-and-hold", equity_curves(runs)))

    synthetic = any(r.synthetic for r in runs)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if synthetic:
        parts.append(f"<p class='synthetic'>{SYNTHETIC_LABEL}</p>")
    parts += [
        "<h2>Summary and gate decisions</h2><table><tr><th>variant</th><th>layers</th><th>params</th>"
        "<th>test acc [CI]</th><th>re-evaluated</th><th>best baseline (acc [CI])</th><th>test n</th>"
        "<th>gate</th><th>reasons</th></tr>",
        *_summary_rows(runs),
        "</table>",
    ]
    comparisons = _comparison_rows(runs)
    if comparisons:
        parts += [
            "<h2>Gate comparisons</h2><table><tr><th>variant</th><th>against</th><th>metric</th>"
            "<th>difference [CI]</th><th>p</th><th>p adjusted</th><th>effective n</th><th>result</th></tr>",
            *comparisons,
            "</table>",
        ]
    else:
        parts.append("<p class='missing'>The gate records have no <code>comparisons</code> (differences with "
                     "intervals and p-values): not shown.</p>")  # fmt: skip
    for run in runs:
        for warning in run.train.get("warnings", []) or []:
            parts.append(f"<p class='missing'>{html.escape(run.name)}: {html.escape(warning)}</p>")

    written: list[str] = []
    changed = False
    for key, heading, figure in figures:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(figure, str):
            parts.append(f"<p class='missing'>Missing evidence: {html.escape(figure)}.</p>")
            continue
        png = fig_dir / f"{key}.png"
        changed |= _write_if_different(png, figure)
        written.append(str(png))
        b64 = base64.b64encode(figure).decode()
        parts.append(f"<img alt='{html.escape(heading)}' src='data:image/png;base64,{b64}'>")
        if key == "accuracy_vs_baselines":
            parts += [f"<p class='missing'>{html.escape(n)}.</p>" for n in notes]
    if extra:
        parts.append(extra)
    parts.append("</body></html>\n")
    changed |= _write_if_different(out, "\n".join(parts).encode())
    return {"path": str(out), "figures": written, "changed": changed}


def _write_if_different(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m financial_mlops.html_report --run NAME=RUN_FOLDER ... --out PATH``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m financial_mlops.html_report", description=main.__doc__)
    parser.add_argument(
        "--run",
        action="append",
        required=True,
        metavar="NAME=FOLDER",
        help="a run folder with train/report.json (evaluate/, gate/ optional); repeatable",
    )
    parser.add_argument("--out", required=True, help="HTML file to write (figures go to <stem>-figures/)")
    parser.add_argument("--title", default="financial-mlops run report")
    args = parser.parse_args(argv)
    runs = []
    for item in args.run:
        name, sep, folder = item.partition("=")
        if not sep:
            parser.error(f"--run {item!r}: expected NAME=FOLDER")
        runs.append(RunEvidence.from_run_folder(name, Path(folder)))
    print(json.dumps(write_report(runs, args.out, args.title)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
