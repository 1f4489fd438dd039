"""The embedded demo (playbooks/local.yml) in its short CI configuration ends with a served prediction."""

from __future__ import annotations

import json
import re
import socket
import subprocess

import pytest
from app_helpers import PROJECT_ROOT, changed_count, free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_demo_short_configuration_ends_with_a_served_prediction(ansible_env, tmp_path) -> None:
    port = free_port_block()
    short = {
        "demo_variants": ["lightweight"],
        "demo_epochs": 2,
        "demo_tickers": 2,
        "demo_rows": 700,
        "demo_min_test_samples": 50,
        # Two epochs on little data rarely beat the baselines; the gate still decides.
        "demo_min_edge_over_baselines": -0.5,
        # ... and no significance can rest on ~200 out-of-sample windows of such a model.
        "demo_gate_alpha": 1.0,
        # The render of the sample inventory is tested by tests/render and `make render`.
        "demo_platform_checks": False,
        "demo_dir": str(tmp_path / "demo"),
        "demo_mlserver_port": port,
    }
    argv = ["ansible-playbook", "-i", "inventory/local", "playbooks/local.yml", "-e", json.dumps(short)]

    def demo() -> subprocess.CompletedProcess:
        return subprocess.run(
            argv, cwd=PROJECT_ROOT, env=ansible_env, capture_output=True, text=True, timeout=900, check=False
        )

    run = demo()
    out = run.stdout
    assert run.returncode == 0, out[-6000:] + run.stderr[-2000:]
    body = out[: out.rindex("PLAY RECAP")]
    # The prediction, then (last line) where the HTML report is.
    assert "Show where the report is" in body[body.rindex("TASK [") :], body[-3000:]
    assert f"REPORT (open in a browser): file://{tmp_path / 'demo' / 'report.html'}" in body
    last_task = body[body.rindex("TASK [local_pipeline : Show the prediction served by MLServer") :]
    match = re.search(
        r"PREDICTION served by MLServer \(financial-lstm-lightweight v1, http://127\.0\.0\.1:(\d+)\):\s+"
        r"P\(up\)=(0\.\d{4}|1\.0000), direction=(up|down)",
        last_task,
    )
    assert match, last_task
    assert int(match.group(1)) == port
    # The server was stopped (always section): nothing listens on its REST port any more.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    served = list((tmp_path / "demo" / "serving").glob("financial-lstm-lightweight-v1/model-settings.json"))
    assert served, "the champion was exported for MLServer"
    assert changed_count(out) > 0

    # A re-run reuses every step (no new model version) and still serves a prediction.
    again = demo()
    assert again.returncode == 0, again.stdout[-6000:] + again.stderr[-2000:]
    assert changed_count(again.stdout) == 0, again.stdout[-6000:]
    assert "PREDICTION served by MLServer (financial-lstm-lightweight v1," in again.stdout
