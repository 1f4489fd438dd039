"""Mirror a MinIO (S3 API) bucket to a local folder and back, stdlib only.

The controller reaches MinIO on its reserved LoadBalancer IP (the mlflow
role allows the node network on 9000); requests are signed with AWS
Signature V4 and use path-style URLs, which MinIO serves. Objects are
compared by size and MD5 (the ETag of a single-part upload) so a second
mirror transfers nothing. No third-party client (mc, boto3) is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_CHUNK = 1024 * 1024


class S3Error(RuntimeError):
    """An S3 request failed; the message names the request and the server's answer."""


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _quote(text: str, safe: str = "-_.~") -> str:
    return urllib.parse.quote(text, safe=safe)


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    when: datetime,
) -> dict[str, str]:
    """Headers of a request signed with AWS Signature V4 (service s3)."""
    parsed = urllib.parse.urlsplit(url)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): str(v).strip() for k, v in headers.items()}
    signed["host"] = parsed.netloc
    signed["x-amz-content-sha256"] = payload_sha256
    signed["x-amz-date"] = amz_date
    query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    canonical_query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(query))
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            _quote(urllib.parse.unquote(parsed.path or "/"), safe="/-_.~"),
            canonical_query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope},"
        f"SignedHeaders={';'.join(names)},Signature={signature}"
    )
    return signed


@dataclass(frozen=True)
class RemoteObject:
    key: str
    size: int
    etag: str


def file_digests(path: str) -> tuple[str, str]:
    """(sha256, md5) hex digests of a local file, read in chunks."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


class S3Client:
    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        timeout: float = 60.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.timeout = timeout

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body_path: str | None = None,
        payload_sha256: str = EMPTY_SHA256,
        headers: dict[str, str] | None = None,
    ):
        url = self.endpoint + _quote(path, safe="/-_.~")
        if query:
            url += "?" + urllib.parse.urlencode(sorted(query.items()), quote_via=urllib.parse.quote)
        extra = dict(headers or {})
        data = None
        if body_path is not None:
            extra["content-length"] = str(os.path.getsize(body_path))
            data = open(body_path, "rb")  # noqa: SIM115 - urllib streams it; closed below
        signed = sign(
            method,
            url,
            extra,
            payload_sha256,
            self.access_key,
            self.secret_key,
            self.region,
            datetime.now(UTC),
        )
        request = urllib.request.Request(url, data=data, method=method, headers=signed)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise S3Error(f"{method} {self.endpoint}{path} answered HTTP {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise S3Error(
                f"{method} {self.endpoint}{path} failed: {exc.reason}; is MinIO reachable there?"
            ) from exc
        finally:
            if data is not None:
                data.close()

    def bucket_exists(self, bucket: str) -> bool:
        try:
            with self._request("HEAD", f"/{bucket}"):
                return True
        except S3Error as exc:
            if "HTTP 404" in str(exc):
                return False
            raise

    def create_bucket(self, bucket: str) -> None:
        with self._request("PUT", f"/{bucket}"):
            pass

    def list_objects(self, bucket: str) -> Iterator[RemoteObject]:
        token = None
        while True:
            query = {"list-type": "2"}
            if token:
                query["continuation-token"] = token
            with self._request("GET", f"/{bucket}", query=query) as response:
                root = ET.fromstring(response.read())
            for item in root.iter(f"{_NS}Contents"):
                yield RemoteObject(
                    key=item.findtext(f"{_NS}Key") or "",
                    size=int(item.findtext(f"{_NS}Size") or 0),
                    etag=(item.findtext(f"{_NS}ETag") or "").strip('"'),
                )
            if (root.findtext(f"{_NS}IsTruncated") or "false") != "true":
                return
            token = root.findtext(f"{_NS}NextContinuationToken")

    def download(self, bucket: str, key: str, target: str) -> None:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        partial = target + ".partial"
        with self._request("GET", f"/{bucket}/{key}") as response, open(partial, "wb") as handle:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                handle.write(chunk)
        os.replace(partial, target)

    def upload(self, bucket: str, key: str, source: str, sha256: str) -> None:
        with self._request("PUT", f"/{bucket}/{key}", body_path=source, payload_sha256=sha256):
            pass


def _safe_local(root: str, key: str) -> str:
    target = os.path.normpath(os.path.join(root, key))
    if not target.startswith(os.path.normpath(root) + os.sep):
        raise S3Error(f"object key {key!r} would escape the backup folder {root}; refusing to write it")
    return target


def _same(local: str, remote: RemoteObject) -> bool:
    if not os.path.exists(local) or os.path.getsize(local) != remote.size:
        return False
    if "-" in remote.etag:  # multipart upload: the ETag is not an MD5, size is all we can compare
        return True
    return file_digests(local)[1] == remote.etag


def mirror_down(client: S3Client, bucket: str, folder: str) -> list[str]:
    """Copy every object of ``bucket`` into ``folder``; returns the keys transferred."""
    copied = []
    for remote in client.list_objects(bucket):
        if remote.key.endswith("/"):
            continue
        local = _safe_local(folder, remote.key)
        if not _same(local, remote):
            client.download(bucket, remote.key, local)
            copied.append(remote.key)
    return copied


def mirror_up(client: S3Client, bucket: str, folder: str, create: bool = True) -> list[str]:
    """Upload every file under ``folder`` into ``bucket``; returns the keys transferred."""
    if not client.bucket_exists(bucket):
        if not create:
            raise S3Error(f"bucket {bucket} does not exist at {client.endpoint}")
        client.create_bucket(bucket)
    remote = {o.key: o for o in client.list_objects(bucket)}
    copied = []
    for base, _dirs, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith(".partial"):
                continue
            path = os.path.join(base, name)
            key = os.path.relpath(path, folder).replace(os.sep, "/")
            if key in remote and _same(path, remote[key]):
                continue
            client.upload(bucket, key, path, file_digests(path)[0])
            copied.append(key)
    return copied
