"""The S3 client of the ingest step, against moto's real S3 API (tests/moto_s3.py) with SigV4 checked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from financial_mlops.ingest import ingest
from financial_mlops.s3_client import S3Client, S3Error
from moto_s3 import RecordingPool

from .helpers import ohlcv_frame

# ListObjectsV2 returns 1000 keys a page: this many objects make a second page.
PAGE = 1000


def test_missing_credentials_are_named_without_values() -> None:
    with pytest.raises(S3Error, match="AWS_SECRET_ACCESS_KEY not set"):
        S3Client.from_environment({"AWS_ACCESS_KEY_ID": "id-only"})
    client = S3Client.from_environment(
        {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_ENDPOINT_URL": "http://minio:9000/"}
    )
    assert client.endpoint == "http://minio:9000" and client.region == "us-east-1"
    logged = S3Client.from_environment({"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "the-secret"})
    assert "the-secret" not in repr(logged) and logged.endpoint == "https://s3.us-east-1.amazonaws.com"


def test_ca_bundle_and_endpoint_mistakes_are_named(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_CA_BUNDLE": str(tmp_path / "ca.pem")}
    client = S3Client.from_environment({**env, "AWS_ENDPOINT_URL": "https://minio.example:9000"})
    assert client.ca_bundle == str(tmp_path / "ca.pem")
    with pytest.raises(S3Error, match=r"AWS_CA_BUNDLE .*ca\.pem is not a file"):
        list(client.list_keys("market", "daily/"))
    with pytest.raises(S3Error, match=r"'minio:9000/s3' is not an S3 API URL.*no path"):
        list(dataclasses.replace(client, endpoint="minio:9000/s3").list_keys("market", ""))


@pytest.fixture
def market(moto_s3):
    """Bucket ``market`` with three CSVs and a README under daily/."""
    objects = {
        f"daily/{t}.csv": ohlcv_frame(300, seed=i).to_csv().encode()
        for i, t in enumerate(["AAA", "BBB", "CCC"])
    }
    objects["daily/README.txt"] = b"not data"
    with moto_s3.bucket("market", objects):
        yield moto_s3


@pytest.mark.integration
def test_ingest_a_prefix_from_s3_across_pages(market, tmp_path: Path) -> None:
    # Enough keys under daily/old/ (which ingest leaves alone) for a second page.
    market.put("market", {f"daily/old/{n:04d}.csv": b"old" for n in range(PAGE - 3)})
    pool = RecordingPool()
    client = S3Client(
        endpoint=market.endpoint,
        region="us-east-1",
        access_key=market.access_key,
        secret_key=market.secret_key,
        http_client=pool,
    )
    manifest = ingest("s3://market/daily/", tmp_path / "out", s3_client=lambda: client)
    assert manifest["tickers"] == ["AAA", "BBB", "CCC"] and manifest["source"] == "s3://market/daily/"
    listing = [url for _, url in pool.requests if "list-type=2" in url]
    assert len(listing) == 2 and "continuation-token=" in listing[1], "the second page was fetched"
    assert all(url.startswith(f"{market.endpoint}/market") for _, url in pool.requests), "path style"


@pytest.mark.integration
def test_s3_errors_are_named_and_never_show_the_secret(market, tmp_path: Path) -> None:
    wrong = S3Client(
        endpoint=market.endpoint,
        region="us-east-1",
        access_key=market.access_key,
        secret_key="not-the-secret",
    )
    with pytest.raises(Exception) as err:
        ingest("s3://market/daily/", tmp_path / "a", s3_client=lambda: wrong)
    assert "HTTP 403 SignatureDoesNotMatch" in str(err.value) and "not-the-secret" not in str(err.value)
    assert market.endpoint in str(err.value) and "AWS_SECRET_ACCESS_KEY" in str(err.value)
    right = S3Client(
        endpoint=market.endpoint,
        region="us-east-1",
        access_key=market.access_key,
        secret_key=market.secret_key,
    )
    with pytest.raises(Exception, match="HTTP 404 NoSuchKey"):
        ingest("s3://market/daily/ZZZ.csv", tmp_path / "b", s3_client=lambda: right)
    with pytest.raises(Exception, match="HTTP 404 NoSuchBucket"):
        ingest("s3://no-such-bucket/daily/", tmp_path / "c", s3_client=lambda: right)


def test_an_unreachable_endpoint_is_named(tmp_path: Path) -> None:
    from loopback import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    client = S3Client(endpoint=endpoint, region="us-east-1", access_key="a", secret_key="s3cret-value")
    with pytest.raises(Exception) as err:
        ingest("s3://market/daily/", tmp_path / "out", s3_client=lambda: client)
    assert f"cannot reach {endpoint}" in str(err.value) and "s3cret-value" not in str(err.value)
