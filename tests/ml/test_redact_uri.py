"""redact_uri: what the ingest step shows of a source URL (logs, errors, INGEST.json).

A presigned URL is a bearer credential: whoever reads it can fetch (or, for
a PUT URL, overwrite) the object until it expires. Its signature and
credential parameters must not survive into anything the step writes.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
from financial_mlops.cli import main
from financial_mlops.ingest import INGEST_MANIFEST, IngestError, ingest, redact_uri

from .helpers import ohlcv_frame, write_csv

SIGNATURE = "0f4c2a9d8be1c7f3a5e6d4b2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2"
CREDENTIAL = "AKIAEXAMPLEKEY%2F20261201%2Fus-east-1%2Fs3%2Faws4_request"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN%2B%2Fabc%3D"
AWS_PRESIGNED = (
    "https://market.s3.amazonaws.com/daily/AAA.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={CREDENTIAL}&X-Amz-Date=20261201T120000Z&X-Amz-Expires=3600"
    f"&X-Amz-Security-Token={SESSION_TOKEN}&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param(
            AWS_PRESIGNED,
            "https://market.s3.amazonaws.com/daily/AAA.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=***&X-Amz-Date=20261201T120000Z&X-Amz-Expires=3600"
            "&X-Amz-Security-Token=***&X-Amz-SignedHeaders=host&X-Amz-Signature=***",
            id="s3-sigv4-presigned",
        ),
        pytest.param(
            "http://minio.test:9000/b/k.csv?AWSAccessKeyId=AKIAEXAMPLE&Expires=1767225600&Signature=abc%2Bdef%3D",
            "http://minio.test:9000/b/k.csv?AWSAccessKeyId=***&Expires=1767225600&Signature=***",
            id="s3-sigv2-query-auth",
        ),
        pytest.param(
            "https://acct.blob.core.windows.net/data/AAA.csv?sv=2024-11-04&se=2026-12-02T00%3A00%3A00Z"
            "&sr=b&sp=r&sig=Zm9vYmFyYmF6cXV4%2Bc2lnbmF0dXJl%3D",
            "https://acct.blob.core.windows.net/data/AAA.csv?sv=2024-11-04&se=2026-12-02T00%3A00%3A00Z"
            "&sr=b&sp=r&sig=***",
            id="azure-sas",
        ),
        pytest.param(
            "https://storage.googleapis.com/b/AAA.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=svc%40p.iam.gserviceaccount.com&X-Goog-Signature=deadbeef",
            "https://storage.googleapis.com/b/AAA.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=***&X-Goog-Signature=***",
            id="gcs-v4",
        ),
        pytest.param(
            "https://cdn.test/AAA.csv?signature=s3cr3tsig&v=2",
            "https://cdn.test/AAA.csv?signature=***&v=2",
            id="generic-signature",
        ),
        pytest.param(
            "https://cdn.test/AAA.csv?x-amz-signature=lower&SIG=upper",
            "https://cdn.test/AAA.csv?x-amz-signature=***&SIG=***",
            id="names-compared-case-insensitively",
        ),
        pytest.param(
            "https://cdn.test/AAA.csv?X%2DAmz%2DSignature=encodedname",
            "https://cdn.test/AAA.csv?X%2DAmz%2DSignature=***",
            id="percent-encoded-name",
        ),
        pytest.param(
            "https://alice:s3cret@cdn.test:8443/AAA.csv?sig=abc&page=1#top",
            "https://***@cdn.test:8443/AAA.csv?sig=***&page=1#top",
            id="userinfo-and-signature",
        ),
    ],
)
def test_signatures_and_credentials_are_replaced(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.test/AAA.csv",
        "https://example.test/AAA.csv?version=3&designation=x&signed=1&q=a%20b",
        "s3://market/daily/",
        "/data/market",
        "synthetic",
        "https://example.test/AAA.csv?flag&sigma=2",
    ],
)
def test_urls_without_secrets_are_shown_unchanged(uri: str) -> None:
    assert redact_uri(uri) == uri


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_presigned_source_leaves_no_signature_in_manifest_errors_or_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    www = tmp_path / "www" / "daily"
    www.mkdir(parents=True)
    write_csv(ohlcv_frame(300, seed=1), www / "AAA.csv")
    handler = functools.partial(_Handler, directory=str(tmp_path / "www"))
    secrets = (SIGNATURE, CREDENTIAL, SESSION_TOKEN, "AKIAEXAMPLEKEY")
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        query = AWS_PRESIGNED.split("?", 1)[1]
        try:
            out = tmp_path / "out"
            assert main(["ingest", "--source", f"{base}/daily/AAA.csv?{query}", "--out", str(out)]) == 0
            with pytest.raises(IngestError) as missing:
                ingest(f"{base}/daily/missing.csv?{query}", tmp_path / "other")
        finally:
            server.shutdown()
    written = (out / INGEST_MANIFEST).read_text()
    shown = [written, capsys.readouterr().out, str(missing.value)]
    assert json.loads(written)["source"].endswith("&X-Amz-Signature=***")
    assert "HTTP 404" in shown[2]
    for text in shown:
        for secret in secrets:
            assert secret not in text
