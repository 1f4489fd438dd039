"""A minimal S3 client (list a prefix, download an object) for the ingest step, with AWS Signature V4.

Why not boto3: botocore pins python-dateutil below 3 while the kubernetes
client this project needs requires 3 or later, so both cannot be installed
together. Ingest needs two read-only calls; they are signed here following
the AWS SigV4 specification (tests check the published S3 example). The
Ansible collection's module_utils/s3_mirror.py has a signer of its own on
purpose: modules must be self-contained, and the trainer image carries this
package without the collection; both are tested against the same example.

Configuration comes from the standard variables: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN, AWS_REGION (or
AWS_DEFAULT_REGION, default us-east-1) and AWS_ENDPOINT_URL (MinIO, e.g.
http://minio.minio.svc:9000; default the AWS endpoint of the region).
Requests use path-style addressing, which MinIO and AWS both accept.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
TIMEOUT_SECONDS = 60


class S3Error(RuntimeError):
    """An S3 request that failed; the message has the HTTP status and S3's error code, never the keys."""


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _quote(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text, safe=safe)


def sign_v4(
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    access_key: str,
    secret_key: str,
    region: str,
    when: datetime,
    payload_sha256: str = EMPTY_SHA256,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` plus x-amz-date, x-amz-content-sha256 and the SigV4 Authorization header."""
    parts = urllib.parse.urlsplit(url)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower().strip(): " ".join(str(v).split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    signed["x-amz-content-sha256"] = payload_sha256
    names = sorted(signed)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    canonical_query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(query))
    canonical_request = "\n".join(
        [
            method,
            _quote(urllib.parse.unquote(parts.path) or "/", safe="-_.~/"),
            canonical_query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items()}
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_sha256
    out["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return out


@dataclass(frozen=True)
class S3Client:
    endpoint: str
    region: str
    access_key: str
    # Kept out of repr(): a logged client must not show the credentials.
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> S3Client:
        env = os.environ if env is None else env
        missing = [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(k)]
        if missing:
            raise S3Error(
                f"{' and '.join(missing)} not set: s3:// sources need S3/MinIO credentials in the "
                "environment (in the cluster: ml_trainer_ingest_secret)"
            )
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = (env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or "").rstrip("/")
        return cls(
            endpoint=endpoint or f"https://s3.{region}.amazonaws.com",
            region=region,
            access_key=env["AWS_ACCESS_KEY_ID"],
            secret_key=env["AWS_SECRET_ACCESS_KEY"],
            session_token=env.get("AWS_SESSION_TOKEN") or None,
        )

    def _open(self, url: str):
        headers = {"x-amz-security-token": self.session_token} if self.session_token else {}
        signed = sign_v4(
            "GET",
            url,
            headers,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            when=datetime.now(UTC),
        )
        request = urllib.request.Request(url, headers=signed, method="GET")
        try:
            return urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
        except urllib.error.HTTPError as exc:
            code = ""
            with contextlib.suppress(ET.ParseError):
                code = ET.fromstring(exc.read()).findtext("Code") or ""
            raise S3Error(f"HTTP {exc.code} {code or exc.reason} for {url.split('?')[0]}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise S3Error(f"cannot reach {self.endpoint}: {exc}") from None

    def _url(self, bucket: str, key: str = "", query: Mapping[str, str] | None = None) -> str:
        url = f"{self.endpoint}/{_quote(bucket)}/{_quote(key, safe='-_.~/')}"
        if not query:
            return url
        return url + "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(query.items()))

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` (ListObjectsV2, all pages)."""
        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            with self._open(self._url(bucket, query=query)) as response:
                root = ET.fromstring(response.read())
            for item in root.iter(f"{S3_NS}Contents"):
                yield item.findtext(f"{S3_NS}Key") or ""
            if root.findtext(f"{S3_NS}IsTruncated") != "true":
                return
            token = root.findtext(f"{S3_NS}NextContinuationToken")

    def download(self, bucket: str, key: str, filename: str) -> None:
        with self._open(self._url(bucket, key)) as response, open(filename, "wb") as out:
            shutil.copyfileobj(response, out)
