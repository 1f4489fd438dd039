"""Wait a few seconds for a background pipeline step, then print one line about it.

The demo starts each step with `async` and calls this in a loop: Ansible shows
a task's output only when the task ends, but every loop item as it ends, so
each call becomes one visible line (its stdout is the item's label).

Usage: follow_step.py RESULTS_FILE PROGRESS_FILE LABEL [WAIT_SECONDS]

Prints two lines: ``running`` or ``finished``, then the text to show: the
step's latest progress line (epoch, loss, validation accuracy, ETA) when it
writes one, else the elapsed time. Returns early when the step has finished.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def job_state(results_file: Path) -> dict | None:
    """async_wrapper writes {"started": 1, ...} first and the module's result when done."""
    try:
        data = json.loads(results_file.read_text())
    except (OSError, ValueError):
        return None  # not written yet, or being written
    return data if isinstance(data, dict) else None


def finished(results_file: Path) -> bool:
    data = job_state(results_file)
    return data is not None and (bool(data.get("finished")) or "started" not in data)


def last_line(progress_file: Path) -> str:
    try:
        with progress_file.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(fh.tell() - 4096, 0))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    # An ansible-playbook log (ANSIBLE_LOG_PATH): its last task says most.
    tasks = [line for line in lines if "TASK [" in line]
    line = (tasks or lines or [""])[-1]
    return line.split("| ", 1)[-1].rstrip(" *").strip()


def duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def started_at(results_file: Path) -> float:
    """The results file is written when the job starts and only rewritten when it ends."""
    try:
        return results_file.stat().st_mtime
    except OSError:
        return time.time()


def main(argv: list[str]) -> int:
    results_file, progress_file, label = Path(argv[1]), Path(argv[2]), argv[3]
    wait = float(argv[4]) if len(argv) > 4 else 4.0
    started = started_at(results_file)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not finished(results_file):
        time.sleep(0.2)
    done = finished(results_file)
    line = last_line(progress_file)
    if done:
        result = job_state(results_file) or {}
        state = f"finished (rc={result.get('rc', '?')}, {result.get('delta', '?')})"
    else:
        state = f"running for {duration(time.time() - started)}"
    print("finished" if done else "running")
    print(f"{label} {state}" + (f" | {line}" if line else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
