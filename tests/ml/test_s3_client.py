"""The S3 client of the ingest step: SigV4 against AWS's published example, and a loopback S3 test double."""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from financial_mlops.ingest import ingest
from financial_mlops.s3_client import EMPTY_SHA256, S3Client, S3Error, sign_v4

from .helpers import ohlcv_frame

ACCESS = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_signature_matches_the_published_s3_get_object_example() -> None:
    # docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "Example: GET Object".
    headers = sign_v4(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        access_key=ACCESS,
        secret_key=SECRET,
        region="us-east-1",
        when=datetime(2013, 5, 24, tzinfo=UTC),
    )
    assert headers["x-amz-content-sha256"] == EMPTY_SHA256
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_missing_credentials_are_named_without_values() -> None:
    with pytest.raises(S3Error, match="AWS_SECRET_ACCESS_KEY not set"):
        S3Client.from_environment({"AWS_ACCESS_KEY_ID": "id-only"})
    client = S3Client.from_environment(
        {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_ENDPOINT_URL": "http://minio:9000/"}
    )
    assert client.endpoint == "http://minio:9000" and client.region == "us-east-1"


class FakeS3Server(http.server.BaseHTTPRequestHandler):
    """Test double of an S3 endpoint on loopback: path-style ListObjectsV2 (2 keys a page) and GetObject.

    It recomputes each request's signature with the known secret, so an unsigned or
    wrongly signed request gets 403 SignatureDoesNotMatch as from S3.
    """

    objects: ClassVar[dict[str, bytes]] = {}
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, ctype: str = "application/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = f"http://{self.headers['Host']}{self.path}"
        signed = {"x-amz-date": self.headers["x-amz-date"] or ""}
        expected = sign_v4(
            "GET",
            url,
            {},
            access_key=ACCESS,
            secret_key=SECRET,
            region="us-east-1",
            when=datetime.strptime(signed["x-amz-date"] or "19700101T000000Z", "%Y%m%dT%H%M%SZ").replace(
                tzinfo=UTC
            ),
        )
        if self.headers.get("Authorization") != expected["Authorization"]:
            self._reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
            return
        parts = urllib.parse.urlsplit(self.path)
        bucket, _, key = urllib.parse.unquote(parts.path).lstrip("/").partition("/")
        self.seen.append(self.path)
        if bucket != "market":
            self._reply(404, b"<Error><Code>NoSuchBucket</Code></Error>")
        elif key:
            body = self.objects.get(key)
            self._reply(200, body, "text/csv") if body is not None else self._reply(
                404, b"<Error><Code>NoSuchKey</Code></Error>"
            )
        else:
            query = dict(urllib.parse.parse_qsl(parts.query))
            keys = sorted(k for k in self.objects if k.startswith(query.get("prefix", "")))
            start = int(query.get("continuation-token", "0"))
            page = keys[start : start + 2]
            more = start + 2 < len(keys)
            xml = '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            xml += "".join(f"<Contents><Key>{k}</Key></Contents>" for k in page)
            xml += f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>"
            xml += f"<NextContinuationToken>{start + 2}</NextContinuationToken>" if more else ""
            self._reply(200, (xml + "</ListBucketResult>").encode())


@pytest.fixture
def s3_endpoint():
    FakeS3Server.objects = {
        f"daily/{t}.csv": ohlcv_frame(300, seed=i).to_csv().encode()
        for i, t in enumerate(["AAA", "BBB", "CCC"])
    }
    FakeS3Server.objects["daily/README.txt"] = b"not data"
    FakeS3Server.seen = []
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeS3Server) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def test_ingest_a_prefix_from_the_s3_double_across_pages(s3_endpoint: str, tmp_path: Path) -> None:
    client = S3Client(endpoint=s3_endpoint, region="us-east-1", access_key=ACCESS, secret_key=SECRET)
    manifest = ingest("s3://market/daily/", tmp_path / "out", s3_client=lambda: client)
    assert manifest["tickers"] == ["AAA", "BBB", "CCC"] and manifest["source"] == "s3://market/daily/"
    listing = [p for p in FakeS3Server.seen if "list-type=2" in p]
    assert len(listing) == 2 and "continuation-token=2" in listing[1], "the second page was fetched"


def test_s3_errors_are_named_and_never_show_the_secret(s3_endpoint: str, tmp_path: Path) -> None:
    wrong = S3Client(endpoint=s3_endpoint, region="us-east-1", access_key=ACCESS, secret_key="not-the-secret")
    with pytest.raises(Exception) as err:
        ingest("s3://market/daily/", tmp_path / "a", s3_client=lambda: wrong)
    assert "HTTP 403 SignatureDoesNotMatch" in str(err.value) and "not-the-secret" not in str(err.value)
    right = S3Client(endpoint=s3_endpoint, region="us-east-1", access_key=ACCESS, secret_key=SECRET)
    with pytest.raises(Exception, match="HTTP 404 NoSuchKey"):
        ingest("s3://market/daily/ZZZ.csv", tmp_path / "b", s3_client=lambda: right)
