"""Mirror a MinIO (S3 API) bucket to a local folder and back, over the MinIO Python SDK.

The controller reaches MinIO on its reserved LoadBalancer IP (the mlflow
role allows the node network on 9000). The `minio` SDK signs, pages and
parses; it was chosen over boto3 because it is a 94 KB wheel with no
python-dateutil pin, where botocore (16.9 MB) caps python-dateutil below 3
for the whole controller environment (docs/architecture.md, "Why minio, not
boto3"). Objects are compared by size and MD5 (the ETag of a single-part
upload; of a multipart one, the MD5 of its parts' MD5s) so a second mirror
transfers nothing.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import traceback
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

try:
    import urllib3
    from minio import Minio
    from minio.error import MinioException
    from minio.error import S3Error as MinioS3Error
except ImportError:
    # The module reports it with missing_required_lib (the collection's requirements.txt).
    HAS_MINIO = False
    MINIO_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_MINIO = True
    MINIO_IMPORT_ERROR = None

_MIB = 1024 * 1024
_CHUNK = _MIB
# Files a download leaves while it runs: never uploaded as objects.
_IN_PROGRESS_SUFFIXES = (".partial", ".part.minio")
# Restore uploads a file of up to this size in one PUT (its ETag stays its
# MD5), a larger one in parts of this size (the SDK holds up to 3 in memory).
_UPLOAD_PART_SIZE = 64 * _MIB
# Part sizes whose multipart ETags the mirror recomputes: the minio Python
# SDK's minimum (5 MiB), boto3's default chunk (8 MiB: MLflow's artifact
# uploads), minio-go's minimum (16 MiB: Argo's artifact uploads, mc) and the
# mirror's own. S3 reports neither part size nor part MD5s in a listing.
_KNOWN_PART_SIZES = (5 * _MIB, 8 * _MIB, 16 * _MIB, _UPLOAD_PART_SIZE)


class S3Error(RuntimeError):
    """An S3 request failed; the message names the request and the server's answer."""


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
    """The five S3 calls the mirror makes, with errors that say which request failed and why."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        timeout: float = 60.0,
        ca_file: str | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        parts = urllib.parse.urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise S3Error(
                f"endpoint {endpoint!r} is not an S3 API URL: give http(s)://HOST[:PORT] with no path, "
                "e.g. http://192.168.1.201:9000 (MinIO's reserved LoadBalancer IP)"
            )
        if ca_file and not os.path.isfile(ca_file):
            raise S3Error(f"ca_file {ca_file} is not a file; give the PEM bundle of MinIO's CA")
        # The system trust store (or ca_file alone) rather than the SDK's
        # default, certifi's bundle, which a platform's private CA is not in.
        pool = urllib3.PoolManager(
            ssl_context=ssl.create_default_context(cafile=ca_file),
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=[500, 502, 503, 504]),
        )
        # region given: the SDK never asks GetBucketLocation, which the
        # backup's read-only identity is not allowed to.
        self._sdk = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parts.scheme == "https",
            region=region,
            http_client=pool,
        )
        # MinIO is always addressed path-style (the SDK switches to virtual
        # hosts only for AWS names); keep it so for every endpoint.
        self._sdk.disable_virtual_style_endpoint()

    def _call(self, method: str, bucket: str, key: str, action, *args, **kwargs):
        """``action(*args, **kwargs)``; a failure becomes an S3Error naming ``method`` on bucket/key."""
        request = f"{method} {self.endpoint}/{bucket}" + (f"/{key}" if key else "")
        try:
            return action(*args, **kwargs)
        except MinioS3Error as exc:
            status = exc.response.status
            hint = "; check access_key and secret_key (the MinIO identity's Secret)" if status == 403 else ""
            answer = f"{exc.code} {exc.message or ''}".rstrip()
            raise S3Error(f"{request} answered HTTP {status}: {answer}{hint}") from None
        except MinioException as exc:  # 5xx after the retries, or an answer that is not S3's XML
            raise S3Error(f"{request} failed: {str(exc)[:300]}") from None
        except ValueError as exc:  # the SDK's own checks: bucket and key names, part counts
            raise S3Error(f"{request}: {exc}") from None
        except urllib3.exceptions.HTTPError as exc:  # refused, timed out, TLS: the reason, not the headers
            reason = getattr(exc, "reason", None) or exc
            raise S3Error(f"{request} failed: {reason}; is MinIO reachable there?") from None

    def bucket_exists(self, bucket: str) -> bool:
        return self._call("HEAD", bucket, "", self._sdk.bucket_exists, bucket)

    def create_bucket(self, bucket: str) -> None:
        self._call("PUT", bucket, "", self._sdk.make_bucket, bucket)

    def list_objects(self, bucket: str) -> Iterator[RemoteObject]:
        items = self._sdk.list_objects(bucket, recursive=True)
        while True:
            item = self._call("GET", bucket, "", next, items, None)
            if item is None:
                return
            yield RemoteObject(
                key=item.object_name or "", size=item.size or 0, etag=(item.etag or "").strip('"')
            )

    def download(self, bucket: str, key: str, target: str) -> None:
        # The SDK writes TARGET.<etag>.part.minio and renames it when complete.
        self._call("GET", bucket, key, self._sdk.fget_object, bucket, key, target)

    def upload(self, bucket: str, key: str, source: str) -> None:
        self._call(
            "PUT", bucket, key, self._sdk.fput_object, bucket, key, source, part_size=_UPLOAD_PART_SIZE
        )


def _safe_local(root: str, key: str) -> str:
    target = os.path.normpath(os.path.join(root, key))
    if not target.startswith(os.path.normpath(root) + os.sep):
        raise S3Error(f"object key {key!r} would escape the backup folder {root}; refusing to write it")
    return target


def multipart_etag(path: str, part_size: int) -> str:
    """The ETag S3 and MinIO give a multipart upload of ``path`` in ``part_size`` parts.

    MD5 of the parts' binary MD5s, then ``-<number of parts>``.
    """
    digests, parts = hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as handle:
        for part in iter(lambda: handle.read(part_size), b""):
            digests.update(hashlib.md5(part, usedforsecurity=False).digest())
            parts += 1
    return f"{digests.hexdigest()}-{parts}"


def _same(local: str, remote: RemoteObject) -> bool:
    if not os.path.exists(local) or os.path.getsize(local) != remote.size:
        return False
    if "-" not in remote.etag:
        return file_digests(local)[1] == remote.etag
    # A multipart upload: its ETag depends on the part size the uploader
    # chose. Recompute it for the known part sizes that give its part count
    # (usually one); when none does, size is all there is to compare.
    parts = remote.etag.rpartition("-")[2]
    sizes = [size for size in _KNOWN_PART_SIZES if str(-(-remote.size // size)) == parts]
    return not sizes or any(multipart_etag(local, size) == remote.etag for size in sizes)


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
            if name.endswith(_IN_PROGRESS_SUFFIXES):
                continue
            path = os.path.join(base, name)
            key = os.path.relpath(path, folder).replace(os.sep, "/")
            if key in remote and _same(path, remote[key]):
                continue
            client.upload(bucket, key, path)
            copied.append(key)
    return copied
