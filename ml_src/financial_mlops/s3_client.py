"""The ingest step's S3 client (list a prefix, download an object), over the MinIO Python SDK.

Why the `minio` SDK and not boto3 (docs/architecture.md, "Why minio, not
boto3"): the SDK is a 94 KB wheel with no python-dateutil or urllib3 cap,
while botocore (16.9 MB) caps python-dateutil below 3, a pin on the
environment that pandas and the kubernetes client share. Signing,
paging and error parsing are the SDK's; this module only maps the AWS_*
environment onto it and turns its errors into messages that name the
request and how to fix it, never the keys.

Configuration comes from the standard variables: AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN, AWS_REGION (or
AWS_DEFAULT_REGION, default us-east-1), AWS_ENDPOINT_URL_S3 or
AWS_ENDPOINT_URL (MinIO, e.g. http://minio.minio.svc:9000; default the AWS
endpoint of the region) and AWS_CA_BUNDLE (a PEM file trusted instead of the
system's CAs, for a MinIO behind a private CA). Requests use path-style
addressing, which MinIO and AWS both accept.
"""

from __future__ import annotations

import os
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import urllib3
from minio import Minio
from minio.error import MinioException
from minio.error import S3Error as MinioS3Error

TIMEOUT_SECONDS = 60


class S3Error(RuntimeError):
    """An S3 request that failed; the message has the HTTP status and S3's error code, never the keys."""


def _reason(exc: MinioException) -> str:
    """``HTTP <status> <S3 code>`` of a failed request, as S3 reported it."""
    if isinstance(exc, MinioS3Error):
        return f"HTTP {exc.response.status} {exc.code}"
    # ServerError (5xx after the retries) and InvalidResponseError (an answer
    # that is not S3's XML, e.g. a proxy's HTML page) carry the status in text.
    return str(exc).splitlines()[0][:300]


@dataclass(frozen=True)
class S3Client:
    endpoint: str
    region: str
    access_key: str
    # Kept out of repr(): a logged client must not show the credentials.
    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    # PEM file of the CAs to trust for an https endpoint; None: the system's.
    ca_bundle: str | None = None
    # The connection pool the SDK sends through; None: one built from ca_bundle.
    http_client: urllib3.PoolManager | None = field(default=None, repr=False, compare=False)

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
            ca_bundle=env.get("AWS_CA_BUNDLE") or None,
        )

    @cached_property
    def _sdk(self) -> Minio:
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise S3Error(
                f"endpoint {self.endpoint!r} is not an S3 API URL: set AWS_ENDPOINT_URL to "
                "http(s)://HOST[:PORT] with no path (MinIO: http://minio.minio.svc:9000)"
            )
        if self.ca_bundle and not os.path.isfile(self.ca_bundle):
            raise S3Error(f"AWS_CA_BUNDLE {self.ca_bundle} is not a file; point it at a PEM bundle")
        # The system trust store (as urllib had), or the bundle alone: the
        # SDK's own default would be certifi's, which a private CA is not in.
        pool = self.http_client or urllib3.PoolManager(
            ssl_context=ssl.create_default_context(cafile=self.ca_bundle),
            timeout=urllib3.Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS),
            retries=urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=[500, 502, 503, 504]),
        )
        # region given: the SDK signs for it and never asks GetBucketLocation
        # (a call a read-only ingest identity may not be allowed).
        sdk = Minio(
            parts.netloc,
            access_key=self.access_key,
            secret_key=self.secret_key,
            session_token=self.session_token,
            secure=parts.scheme == "https",
            region=self.region,
            http_client=pool,
        )
        # Path style on AWS too: bucket names with dots then match the TLS
        # certificate, and every endpoint is addressed the same way.
        sdk.disable_virtual_style_endpoint()
        return sdk

    def _failure(self, exc: Exception, bucket: str, key: str = "") -> S3Error:
        where = f"{self.endpoint}/{bucket}/{key}"
        if isinstance(exc, MinioException):
            return S3Error(f"{_reason(exc)} for {where}")
        if isinstance(exc, ValueError):  # the SDK's checks of bucket and key names
            return S3Error(f"{exc} (s3://{bucket}/{key})")
        # urllib3's errors (refused, timed out, TLS): the reason, not the URL
        # and headers of the request.
        return S3Error(f"cannot reach {self.endpoint}: {getattr(exc, 'reason', None) or exc}")

    def list_keys(self, bucket: str, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` (ListObjectsV2, all pages)."""
        try:
            for item in self._sdk.list_objects(bucket, prefix=prefix, recursive=True):
                yield item.object_name or ""
        except (MinioException, ValueError, urllib3.exceptions.HTTPError) as exc:
            raise self._failure(exc, bucket, prefix) from None

    def download(self, bucket: str, key: str, filename: str) -> None:
        try:
            self._sdk.fget_object(bucket, key, filename)
        except (MinioException, ValueError, urllib3.exceptions.HTTPError) as exc:
            raise self._failure(exc, bucket, key) from None
