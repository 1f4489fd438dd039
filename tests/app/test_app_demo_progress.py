"""`make demo` shows a sign of life at least every 10 s: gaps between output lines of a short demo run."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import time

import pytest
from app_helpers import PROJECT_ROOT, free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.integration]

MAX_GAP_SECONDS = 10.0


def _overload() -> float:
    """How many times more runnable work than cores the machine has (1.0 when it is not overloaded).

    The 10 s promise is for a machine that runs the demo; on a shared machine
    with several times more work than cores every step is that much slower,
    and the allowed gap is scaled by the same factor (it is printed, so a
    scaled pass is visible). CI runs the suite alone, where the factor is 1.
    """
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def test_demo_prints_a_line_at_least_every_ten_seconds(ansible_env, tmp_path) -> None:
    short = {
        "demo_variants": ["lightweight"],
        # Enough epochs that training outlasts several progress intervals.
        "demo_epochs": 6,
        "demo_tickers": 2,
        "demo_rows": 900,
        "demo_min_test_samples": 50,
        "demo_min_edge_over_baselines": -0.5,
        # This test is about output timing, not the gate: significance is relaxed.
        "demo_gate_alpha": 1.0,
        "demo_platform_checks": False,
        "demo_dir": str(tmp_path / "demo"),
        "demo_mlserver_port": free_port_block(),
    }
    argv = ["ansible-playbook", "-i", "inventory/local", "playbooks/local.yml", "-e", json.dumps(short)]
    # No PYTHONUNBUFFERED here: a user's `make demo | tee log` pipes the output too.
    env = {k: v for k, v in ansible_env.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(
        argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    overload = _overload()
    stamped: list[tuple[float, str]] = []
    start = time.monotonic()
    assert proc.stdout is not None
    for line in proc.stdout:
        stamped.append((time.monotonic() - start, line.rstrip("\n")))
    rc = proc.wait(timeout=900)
    output = "\n".join(line for _, line in stamped)
    assert rc == 0, output[-6000:]

    gaps = [(b[0] - a[0], a[1], b[1]) for a, b in itertools.pairwise(stamped)]
    worst = max(gaps, key=lambda g: g[0])
    overload = max(overload, _overload())
    allowed = MAX_GAP_SECONDS * overload
    print(f"longest gap {worst[0]:.1f} s; allowed {allowed:.1f} s (machine overload factor {overload:.2f})")
    assert worst[0] <= allowed, (
        f"{worst[0]:.1f} s of silence between {worst[1]!r} and {worst[2]!r} "
        f"(allowed {allowed:.1f} s = {MAX_GAP_SECONDS:.0f} s x overload factor {overload:.2f})"
    )
    # The lines are progress, not only heartbeats: each shows the step's latest progress line,
    # and the train step's progress has epochs with loss, accuracy and ETA. (Which epoch a
    # 5 s sample catches is luck: this short run's epochs take well under a second each.)
    follow = [line for _, line in stamped if re.search(r"lightweight/train (running|finished)", line)]
    assert any(" | train lightweight: " in line or " | report: " in line for line in follow), follow
    (progress,) = (tmp_path / "demo" / "runs").glob("lightweight-*/steps/train.progress.log")
    epochs = [line for line in progress.read_text().splitlines() if "epoch " in line]
    assert any("train_loss " in line and "val_acc " in line and "ETA " in line for line in epochs), epochs
    assert stamped[-1][0] > 20, "the run was long enough to measure gaps"
