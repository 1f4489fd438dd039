"""Start and stop ``mlserver start DIR`` on free loopback ports.

One launcher for everything that runs a real MLServer process on this
machine: the integration tests and the latency benchmark.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class MLServerProcess:
    url: str
    http_port: int
    grpc_address: str
    proc: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 30.0) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.is_file() else "(no log)"


def start_mlserver(
    model_dir: Path, log: Path, extra_env: dict[str, str] | None = None, timeout: float = 300.0
) -> MLServerProcess:
    """``mlserver start model_dir`` on free loopback ports; returns when every model is ready.

    Output goes to ``log``; metrics and environments folders are kept beside it.
    ``extra_env`` adds or overrides MLServer settings (e.g. MLSERVER_PARALLEL_WORKERS).
    """
    http, grpc, metrics = free_port(), free_port(), free_port()
    env = dict(os.environ)
    env.update(
        {
            "MLSERVER_HOST": "127.0.0.1",
            "MLSERVER_HTTP_PORT": str(http),
            "MLSERVER_GRPC_PORT": str(grpc),
            "MLSERVER_METRICS_PORT": str(metrics),
            "MLSERVER_METRICS_DIR": str(log.parent / ".metrics"),
            "MLSERVER_ENVIRONMENTS_DIR": str(log.parent / ".envs"),
            **(extra_env or {}),
        }
    )
    mlserver = Path(sys.executable).parent / "mlserver"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(mlserver), "start", str(model_dir)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    server = MLServerProcess(f"http://127.0.0.1:{http}", http, f"127.0.0.1:{grpc}", proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"mlserver for {model_dir} exited with {proc.returncode}; log:\n{_log_tail(log)}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/v2/health/ready", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"mlserver for {model_dir} not ready after {timeout}s; log:\n{_log_tail(log)}")
