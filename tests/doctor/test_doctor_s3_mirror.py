"""Bucket mirroring for backup/restore: SigV4 against AWS's published example,
and a full mirror round trip against a small S3 server on loopback."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

import pytest
from ansible_collections.finmlops.platform.plugins.module_utils.s3_mirror import (
    EMPTY_SHA256,
    S3Client,
    S3Error,
    mirror_down,
    mirror_up,
    sign,
)


def test_signature_matches_the_aws_documentation_example():
    # "Example: GET Object" of the AWS Signature V4 documentation for S3.
    headers = sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        EMPTY_SHA256,
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1",
        datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


class FakeS3(BaseHTTPRequestHandler):
    """Just enough of the S3 API (path style) for the mirror: HEAD/PUT bucket, list v2, GET/PUT object."""

    buckets: ClassVar[dict[str, dict[str, bytes]]] = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _parts(self):
        parsed = urlsplit(self.path)
        bucket, _, key = unquote(parsed.path).lstrip("/").partition("/")
        return bucket, key, parse_qs(parsed.query)

    def _reply(self, code, body=b"", headers=None):
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 Credential=minio-admin/"):
            self._reply(403, b"<Error><Code>AccessDenied</Code></Error>")
            return False
        return True

    def do_HEAD(self):
        if self._authorized():
            bucket, _, _ = self._parts()
            self._reply(200 if bucket in self.buckets else 404)

    def do_GET(self):
        if not self._authorized():
            return
        bucket, key, query = self._parts()
        if bucket not in self.buckets:
            self._reply(404, b"<Error><Code>NoSuchBucket</Code></Error>")
        elif key:
            self._reply(200, self.buckets[bucket][key])
        else:
            keys = sorted(self.buckets[bucket])
            start = int(query.get("continuation-token", ["0"])[0])
            page = keys[start : start + 2]  # tiny pages exercise the continuation token
            truncated = start + 2 < len(keys)
            items = "".join(
                f"<Contents><Key>{escape(k)}</Key><Size>{len(self.buckets[bucket][k])}</Size>"
                f'<ETag>"{hashlib.md5(self.buckets[bucket][k]).hexdigest()}"</ETag></Contents>'
                for k in page
            )
            token = f"<NextContinuationToken>{start + 2}</NextContinuationToken>" if truncated else ""
            body = (
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<IsTruncated>{str(truncated).lower()}</IsTruncated>{token}{items}</ListBucketResult>"
            )
            self._reply(200, body.encode())

    def do_PUT(self):
        if not self._authorized():
            return
        bucket, key, _ = self._parts()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not key:
            self.buckets.setdefault(bucket, {})
        else:
            assert self.headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
            self.buckets[bucket][key] = body
        self._reply(200)


@pytest.fixture()
def s3():
    FakeS3.buckets = {
        "mlflow-artifacts": {
            "2/abc/artifacts/mlserver-model/model-settings.json": b'{"name": "lstm"}',
            "2/abc/artifacts/mlserver-model/model.pt": bytes(range(256)) * 40,
            "2/abc/artifacts/metrics.json": b"{}",
        }
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_backup_then_restore_into_an_empty_platform(s3, tmp_path):
    client = S3Client(s3, "minio-admin", "secret-key")
    folder = tmp_path / "mlflow-artifacts"
    copied = mirror_down(client, "mlflow-artifacts", str(folder))
    assert len(copied) == 3
    assert (folder / "2/abc/artifacts/mlserver-model/model.pt").read_bytes() == bytes(range(256)) * 40
    assert mirror_down(client, "mlflow-artifacts", str(folder)) == []  # second run: nothing to do

    original = FakeS3.buckets.pop("mlflow-artifacts")  # the new, empty platform
    restored = mirror_up(client, "mlflow-artifacts", str(folder))
    assert sorted(restored) == sorted(original)
    assert FakeS3.buckets["mlflow-artifacts"] == original
    assert mirror_up(client, "mlflow-artifacts", str(folder)) == []


def test_wrong_credentials_give_a_clear_error(s3, tmp_path):
    client = S3Client(s3, "someone-else", "x")
    with pytest.raises(S3Error, match=r"GET http://127\.0\.0\.1:\d+/mlflow-artifacts answered HTTP 403"):
        mirror_down(client, "mlflow-artifacts", str(tmp_path))
