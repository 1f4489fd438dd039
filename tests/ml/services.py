"""Throwaway PostgreSQL and MLflow tracking server on loopback, for the integration tests."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from loopback import free_port, wait_until_ok


def find_pg_bin() -> Path | None:
    """Directory holding initdb and pg_ctl: PATH, /usr/local/bin, then Debian's versioned dirs."""
    candidates = []
    which = shutil.which("initdb")
    if which:
        candidates.append(Path(which).parent)
    candidates.append(Path("/usr/local/bin"))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _run_as() -> list[str]:
    """initdb refuses to run as root: drop to the postgres (or nobody) account when we are root."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"]
    raise RuntimeError(
        "running as root and neither a 'postgres' nor a 'nobody' account exists for PostgreSQL"
    )


@contextlib.contextmanager
def postgres(pg_bin: Path) -> Iterator[str]:
    """Start a PostgreSQL cluster on 127.0.0.1; yields a SQLAlchemy URL of an empty ``mlflow`` database.

    The driver is explicit: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, the venv has psycopg2.
    """
    import psycopg2

    root = Path(tempfile.mkdtemp(prefix="finmlops-pg-"))
    prefix = _run_as()
    if prefix:
        account = pwd.getpwnam(prefix[2])
        os.chown(root, account.pw_uid, account.pw_gid)
    data, log = root / "data", root / "server.log"
    port = free_port()
    env = {**os.environ, "LC_ALL": "C"}
    # trust auth is acceptable only because the server listens on loopback and lives for one test session
    subprocess.run(
        [*prefix, str(pg_bin / "initdb"), "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        env=env,
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
    subprocess.run(
        [
            *prefix,
            str(pg_bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="mlflow", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE mlflow")
        conn.close()
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(
            [*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            env=env,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(
    backend_uri: str,
    workdir: Path,
    timeout: float = 180.0,
    extra_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``mlflow server`` on a free loopback port with proxied artifacts under ``workdir``.

    ``extra_args`` (e.g. ``("--app-name", "basic-auth")``) and ``extra_env``
    (e.g. ``MLFLOW_AUTH_CONFIG_PATH``) are added to the command and environment.
    """
    port = free_port()
    log = (workdir / "mlflow-server.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(extra_env or {})
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            backend_uri,
            "--artifacts-destination",
            str(workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            *extra_args,
        ],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"

    def gone() -> str | None:
        if proc.poll() is None:
            return None
        tail = (workdir / "mlflow-server.log").read_text()[-3000:]
        return f"mlflow server exited with {proc.returncode}: {tail}"

    try:
        wait_until_ok(f"{url}/health", timeout, gone)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
