"""moto's S3 server on loopback, in its own virtualenv: the real S3 API the tests talk to.

No MinIO server can be had here; moto implements the S3 API (ListObjectsV2
paging, multipart uploads, ETags, error codes) and, with IAM enforced
(INITIAL_NO_AUTH_ACTION_COUNT), checks every request's SigV4 signature and
evaluates the same AWS policy language MinIO implements.

moto needs botocore, whose python-dateutil cap (<3) the project keeps out of
its own venv (docs/architecture.md, "Why minio, not boto3"), so it lives in
its own virtualenv, made on first use (PyPI must be reachable then):
    python -m venv ~/.cache/financial-mlops/moto-venv
    ~/.cache/financial-mlops/moto-venv/bin/pip install 'moto[server]>=5.1,<6'
FINMLOPS_MOTO_VENV points at another one. A test skips, saying so, only when
that virtualenv cannot be built.

Tests import it as ``from moto_s3 import ...`` (tests/ is on sys.path, see
tests/ansible_cli.py); the ``moto_s3`` fixture of tests/conftest.py is one
server for the session with one identity allowed all of S3.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import urllib3
from side_venv import side_venv

MOTO_SPEC = "moto[server]>=5.1,<6"
HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
S3_ADMIN = {
    "name": "s3-admin",
    "policy_name": "s3-all",
    "policy": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    },
}


def moto_python() -> Path:
    """Python of the moto virtualenv, built on first use; skips the test when it cannot be."""
    return side_venv("moto-venv", "FINMLOPS_MOTO_VENV", [MOTO_SPEC])


@contextlib.contextmanager
def moto_server(log_dir: Path, no_auth_actions: int) -> Iterator[tuple[Path, str]]:
    """Start moto_server on a free loopback port; yields (moto venv python, endpoint URL).

    The first ``no_auth_actions`` requests are not authenticated (the setup's);
    moto checks and authorizes every later one.
    """
    python = moto_python()
    from loopback import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (log_dir / "moto.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(python.parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(no_auth_actions)},
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"moto_server did not start on {url}; see {log.name}") from None
                    time.sleep(0.3)
            yield python, url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def create_identities(python: Path, url: str, identities: list[dict]) -> dict[str, tuple[str, str]]:
    """IAM users with their policies (tests/moto_setup.py); name -> (access key id, secret)."""
    run = subprocess.run(
        [str(python), str(HERE / "moto_setup.py"), url, json.dumps(identities)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return {name: (key, secret) for name, (key, secret) in json.loads(run.stdout).items()}


class RecordingPool(urllib3.PoolManager):
    """A connection pool for the minio SDK (``http_client=``) that keeps every request's method and URL."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str]] = []

    def urlopen(self, method, url, *args, **kwargs):
        self.requests.append((method, url))
        return super().urlopen(method, url, *args, **kwargs)

    def object_gets(self) -> list[tuple[str, str]]:
        """(bucket, key) of every GetObject, in order (path style: /BUCKET/KEY, no query)."""
        gets = []
        for method, url in self.requests:
            parts = urllib.parse.urlsplit(url)
            bucket, _, key = urllib.parse.unquote(parts.path).lstrip("/").partition("/")
            if method == "GET" and key and not parts.query:
                gets.append((bucket, key))
        return gets


@dataclass
class MotoS3:
    """A running moto S3 endpoint and the keys of an identity allowed all of S3."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = REGION

    def environment(self) -> dict[str, str]:
        """The AWS_* variables that point a client at this endpoint as this identity."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
        }

    def sdk(self):
        from minio import Minio

        return Minio(
            self.endpoint.removeprefix("http://"),
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=self.region,
        )

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of ``bucket`` and its content."""
        sdk = self.sdk()
        out = {}
        for item in sdk.list_objects(bucket, recursive=True):
            response = sdk.get_object(bucket, item.object_name)
            try:
                out[item.object_name] = response.read()
            finally:
                response.close()
                response.release_conn()
        return out

    def put(self, bucket: str, objects: Mapping[str, bytes]) -> None:
        """Write ``objects`` into ``bucket``, a few requests at a time (seeding a thousand keys)."""
        sdk = self.sdk()
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            done = [
                pool.submit(sdk.put_object, bucket, key, io.BytesIO(body), len(body))
                for key, body in objects.items()
            ]
            for future in done:
                future.result()

    def drop(self, bucket: str) -> None:
        """Remove ``bucket`` and everything in it (the platform without it)."""
        from minio.deleteobjects import DeleteObject

        sdk = self.sdk()
        if sdk.bucket_exists(bucket):
            keys = [DeleteObject(item.object_name) for item in sdk.list_objects(bucket, recursive=True)]
            errors = list(sdk.remove_objects(bucket, keys))  # DeleteObjects, 1000 keys a request
            assert not errors, errors
            sdk.remove_bucket(bucket)

    @contextlib.contextmanager
    def bucket(self, name: str, objects: Mapping[str, bytes]) -> Iterator[str]:
        """A fresh bucket holding ``objects``, removed afterwards; yields its name."""
        self.drop(name)
        self.sdk().make_bucket(name)
        self.put(name, objects)
        try:
            yield name
        finally:
            self.drop(name)


@contextlib.contextmanager
def moto_s3_admin(log_dir: Path) -> Iterator[MotoS3]:
    """moto with IAM enforced and one identity allowed all of S3."""
    # 4 IAM calls set the identity up; moto_setup.py spends the rest.
    with moto_server(log_dir, no_auth_actions=10) as (python, url):
        access, secret = create_identities(python, url, [S3_ADMIN])[S3_ADMIN["name"]]
        yield MotoS3(endpoint=url, access_key=access, secret_key=secret)
