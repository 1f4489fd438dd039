"""The pipeline's first step: fetch a market data set into a folder, validate it, and record what it is.

Sources (``--source``):

* ``synthetic``: generate the deterministic SYNTHETIC market (labelled as such);
* a path or ``file:///path``: a CSV/Parquet file or a folder of them;
* ``http://`` / ``https://``: one CSV/Parquet file;
* ``s3://bucket/key`` (one file) or ``s3://bucket/prefix/`` (every CSV/Parquet
  file under it): S3 or MinIO, endpoint and credentials from the standard
  AWS_* variables (AWS_ENDPOINT_URL for MinIO), never from the URI.

The folder ends with ``INGEST.json``: the source (without credentials), the
sha256 of every file, and the validation summary. Ingest refuses to write
into a non-empty folder that it did not write, and a repeated ingest of the
same source into the same folder replaces only its own files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from financial_mlops.data import SUPPORTED_SUFFIXES, SYNTHETIC_MARKER, DataValidationError, load_market
from financial_mlops.s3_client import S3Client, S3Error

INGEST_MANIFEST = "INGEST.json"
SYNTHETIC_SOURCE = "synthetic"
HTTP_TIMEOUT_SECONDS = 60


class IngestError(ValueError):
    """A source that cannot be fetched; the message names the source and what to change."""


@dataclass(frozen=True)
class SyntheticOptions:
    tickers: int = 4
    bars: int = 2500
    seed: int = 0
    signal: str = "medium"


# Query parameters that carry a signature or a credential in presigned URLs:
# AWS SigV4 (X-Amz-*) and SigV2 (Signature, AWSAccessKeyId), Google Cloud
# Storage (X-Goog-*), Azure SAS (sig) and the generic sig/signature/token
# forms. Compared case-insensitively; the other parameters stay, so the
# shown URL still names the object and its expiry.
_SECRET_QUERY_PARAMS = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "signature",
        "awsaccesskeyid",
        "x-goog-signature",
        "x-goog-credential",
        "sig",
        "token",
        "access_token",
    }
)
REDACTED = "***"


def _redact_query(query: str) -> str:
    """The query with the value of every signature/credential parameter replaced by ***.

    Split by hand rather than parsed and re-encoded, so that the parameters
    left alone are shown byte for byte as given.
    """
    if not query:
        return query
    kept = []
    for field in query.split("&"):
        name = field.partition("=")[0]
        if urllib.parse.unquote_plus(name).strip().lower() in _SECRET_QUERY_PARAMS:
            kept.append(f"{name}={REDACTED}")
        else:
            kept.append(field)
    return "&".join(kept)


def redact_uri(uri: str) -> str:
    """The URI as logs and INGEST.json may show it.

    Without user:password, and with the signature and credential parameters
    of presigned URLs (S3 ``X-Amz-Signature``/``X-Amz-Credential``/
    ``X-Amz-Security-Token``, Azure SAS ``sig``, ``signature=``...) replaced
    by ``***``: whoever reads the log must not be able to replay the URL.
    """
    parts = urllib.parse.urlsplit(uri)
    netloc = parts.netloc
    if parts.username is not None or parts.password is not None:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = _redact_query(parts.query)
    if netloc == parts.netloc and query == parts.query:
        return uri
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _is_data_file(name: str) -> bool:
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES


def _fetch_synthetic(staging: Path, options: SyntheticOptions) -> None:
    from financial_mlops.synth import generate_market, write_market

    market = generate_market(
        n_tickers=options.tickers, n_bars=options.bars, seed=options.seed, signal=options.signal
    )
    write_market(staging, market, seed=options.seed, signal=options.signal)


def _fetch_local(staging: Path, path: Path, shown: str) -> None:
    if path.is_file():
        if not _is_data_file(path.name):
            raise IngestError(
                f"source {shown}: {path.suffix!r} is not one of {', '.join(SUPPORTED_SUFFIXES)}"
            )
        shutil.copy2(path, staging / path.name)
        return
    if not path.is_dir():
        raise IngestError(
            f"source {shown}: no such file or folder; pass a CSV/Parquet file or a folder of them"
        )
    files = sorted(p for p in path.iterdir() if p.is_file() and _is_data_file(p.name))
    if not files:
        raise IngestError(f"source {shown}: the folder holds no {', '.join(SUPPORTED_SUFFIXES)} files")
    for file in files:
        shutil.copy2(file, staging / file.name)
    # A synthetic data set stays labelled synthetic wherever it is copied.
    if (path / SYNTHETIC_MARKER).is_file():
        shutil.copy2(path / SYNTHETIC_MARKER, staging / SYNTHETIC_MARKER)


def _fetch_http(staging: Path, uri: str, shown: str) -> None:
    name = Path(urllib.parse.urlsplit(uri).path).name
    if not _is_data_file(name):
        raise IngestError(
            f"source {shown}: the URL must name a {'/'.join(SUPPORTED_SUFFIXES)} file "
            f"(got {name or 'no file name'!r})"
        )
    try:
        with (
            urllib.request.urlopen(uri, timeout=HTTP_TIMEOUT_SECONDS) as response,
            (staging / name).open("wb") as out,
        ):
            shutil.copyfileobj(response, out)
    except urllib.error.HTTPError as exc:
        raise IngestError(f"source {shown}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise IngestError(f"source {shown}: cannot download ({exc}); check the URL and the network") from exc


def default_s3_client() -> S3Client:
    """S3/MinIO client configured by the AWS_* environment (AWS_ENDPOINT_URL points it at MinIO)."""
    return S3Client.from_environment()


def _fetch_s3(staging: Path, uri: str, shown: str, client_factory: Callable[[], Any]) -> None:
    parts = urllib.parse.urlsplit(uri)
    bucket, key = parts.netloc, urllib.parse.unquote(parts.path.lstrip("/"))
    if not bucket:
        raise IngestError(f"source {shown}: no bucket; write s3://BUCKET/KEY or s3://BUCKET/PREFIX/")
    try:
        client = client_factory()
        if key and not key.endswith("/"):
            if not _is_data_file(key):
                raise IngestError(
                    f"source {shown}: the key must name a CSV/Parquet file, or end with / for a prefix"
                )
            keys = [key]
        else:
            # Sub-folders would mix data sets: only the files directly under the prefix count.
            keys = sorted(
                k for k in client.list_keys(bucket, key) if _is_data_file(k) and "/" not in k[len(key) :]
            )
            if not keys:
                raise IngestError(f"source {shown}: no CSV/Parquet objects directly under the prefix")
        for k in keys:
            client.download(bucket, k, str(staging / Path(k).name))
    except S3Error as exc:
        raise IngestError(
            f"source {shown}: {exc}; check the bucket, the key and the AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY / AWS_ENDPOINT_URL variables"
        ) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(source: str, staging: Path, synthetic: SyntheticOptions, s3_client: Callable[[], Any]) -> None:
    shown = redact_uri(source)
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if source == SYNTHETIC_SOURCE:
        _fetch_synthetic(staging, synthetic)
    elif scheme in ("http", "https"):
        _fetch_http(staging, source, shown)
    elif scheme == "s3":
        _fetch_s3(staging, source, shown, s3_client)
    elif scheme == "file":
        _fetch_local(staging, Path(urllib.parse.unquote(urllib.parse.urlsplit(source).path)), shown)
    elif scheme == "" or len(scheme) == 1:  # a plain path (a Windows drive letter is not a scheme)
        _fetch_local(staging, Path(source), shown)
    else:
        raise IngestError(
            f"source {shown}: unsupported scheme {scheme!r}; use synthetic, a path, file://, http(s):// or s3://"
        )


def _check_target(out: Path) -> None:
    """Only an empty folder, or one an earlier ingest wrote, may be written to."""
    if not out.exists():
        return
    if not out.is_dir():
        raise IngestError(f"--out {out} is a file; pass a folder")
    entries = [p.name for p in out.iterdir()]
    if entries and INGEST_MANIFEST not in entries:
        raise IngestError(
            f"--out {out} is not empty and was not written by ingest ({', '.join(sorted(entries)[:5])}...); "
            "choose an empty or new folder, nothing was changed"
        )


def ingest(
    source: str,
    out: str | Path,
    synthetic: SyntheticOptions | None = None,
    s3_client: Callable[[], Any] = default_s3_client,
) -> dict[str, Any]:
    """Fetch ``source`` into ``out``, validate it, write INGEST.json; returns the manifest.

    Fetching goes to a staging folder beside ``out`` and is validated there,
    so a failed or invalid download leaves an earlier ``out`` untouched.
    """
    out = Path(out)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-ingest-", dir=out.parent))
    try:
        fetch(source, staging, synthetic or SyntheticOptions(), s3_client)
        market = load_market(staging)  # DataValidationError names file, column and row
        files = sorted(p for p in staging.iterdir() if p.is_file())
        manifest = {
            "source": redact_uri(source),
            "synthetic": market.synthetic is not None,
            "files": {p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in files},
            "tickers": market.tickers,
            "bars_per_ticker": {t: len(market.series[t].frame) for t in market.tickers},
        }
        manifest["fingerprint"] = hashlib.sha256(
            json.dumps(manifest["files"], sort_keys=True).encode()
        ).hexdigest()[:16]
        (staging / INGEST_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except DataValidationError as exc:
        # Name the file as the user knows it (the source), not the staging copy.
        where = str(exc).replace(str(staging), redact_uri(source).rstrip("/"))
        raise IngestError(f"{where}; nothing was ingested, {out} is unchanged") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return manifest
