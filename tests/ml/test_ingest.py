"""The ingest step: every source kind lands as a validated, checksummed folder; bad input changes nothing."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
from financial_mlops.cli import main
from financial_mlops.ingest import INGEST_MANIFEST, IngestError, SyntheticOptions, ingest, redact_uri
from financial_mlops.s3_client import S3Client
from moto_s3 import RecordingPool

from .helpers import ohlcv_frame, write_csv

SMALL = SyntheticOptions(tickers=2, bars=300, seed=3)


def _csv_folder(folder: Path, tickers: tuple[str, ...] = ("AAA", "BBB")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, ticker in enumerate(tickers):
        write_csv(ohlcv_frame(300, seed=i), folder / f"{ticker}.csv")
    return folder


def test_synthetic_source_is_labelled_and_recorded(tmp_path: Path) -> None:
    manifest = ingest("synthetic", tmp_path / "out", SMALL)
    assert manifest["synthetic"] is True
    assert manifest["tickers"] == ["SYNTH00", "SYNTH01"]
    assert manifest["bars_per_ticker"] == {"SYNTH00": 300, "SYNTH01": 300}
    on_disk = json.loads((tmp_path / "out" / INGEST_MANIFEST).read_text())
    assert on_disk == manifest
    assert set(manifest["files"]) == {"SYNTH00.csv", "SYNTH01.csv", "SYNTHETIC.json"}
    # Deterministic: the same options give the same fingerprint.
    assert ingest("synthetic", tmp_path / "again", SMALL)["fingerprint"] == manifest["fingerprint"]


def test_local_folder_file_and_file_uri(tmp_path: Path) -> None:
    src = _csv_folder(tmp_path / "src")
    from_dir = ingest(str(src), tmp_path / "a")
    assert from_dir["synthetic"] is False and from_dir["tickers"] == ["AAA", "BBB"]
    from_file = ingest((src / "AAA.csv").as_uri(), tmp_path / "b")
    assert from_file["tickers"] == ["AAA"] and list(from_file["files"]) == ["AAA.csv"]
    assert from_file["files"]["AAA.csv"]["sha256"] == from_dir["files"]["AAA.csv"]["sha256"]


def test_reingest_replaces_only_its_own_folder(tmp_path: Path) -> None:
    src = _csv_folder(tmp_path / "src")
    out = tmp_path / "out"
    ingest(str(src), out)
    (src / "BBB.csv").unlink()
    assert ingest(str(src), out)["tickers"] == ["AAA"]
    assert sorted(p.name for p in out.iterdir()) == ["AAA.csv", INGEST_MANIFEST]


def test_refuses_a_foreign_non_empty_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(IngestError, match=r"not empty and was not written by ingest \(notes.txt"):
        ingest("synthetic", out, SMALL)
    assert (out / "notes.txt").read_text() == "mine"


def test_invalid_data_names_the_source_row_and_keeps_the_old_folder(tmp_path: Path) -> None:
    src = _csv_folder(tmp_path / "src")
    out = tmp_path / "out"
    ingest(str(src), out)
    before = (out / INGEST_MANIFEST).read_text()
    frame = ohlcv_frame(300, seed=0)
    frame.iloc[41, frame.columns.get_loc("close")] = -1.0
    write_csv(frame, src / "AAA.csv")
    with pytest.raises(IngestError) as err:
        ingest(str(src), out)
    message = str(err.value)
    assert f"{src}/AAA.csv" in message and "row 42" in message and "close" in message
    assert "nothing was ingested" in message and "-ingest-" not in message
    assert (out / INGEST_MANIFEST).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"], "no staging folder is left"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


def test_https_style_download_from_a_loopback_server(tmp_path: Path) -> None:
    served = _csv_folder(tmp_path / "www", ("CCC",))
    handler = functools.partial(_Handler, directory=str(served))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            manifest = ingest(f"{base}/CCC.csv", tmp_path / "out")
            assert manifest["tickers"] == ["CCC"] and manifest["source"] == f"{base}/CCC.csv"
            with pytest.raises(IngestError, match="HTTP 404"):
                ingest(f"{base}/missing.csv", tmp_path / "other")
            with pytest.raises(IngestError, match="must name a"):
                ingest(f"{base}/", tmp_path / "other")
        finally:
            server.shutdown()


@pytest.mark.integration
def test_s3_prefix_takes_the_files_directly_under_it(tmp_path: Path, moto_s3) -> None:
    """Against moto's S3 (tests/moto_s3.py), configured by the AWS_* variables as in the cluster."""
    daily = _csv_folder(tmp_path / "s3" / "market" / "daily")
    old = _csv_folder(tmp_path / "s3" / "market" / "daily" / "old", ("ZZZ",))
    objects = {f"daily/{p.name}": p.read_bytes() for p in daily.glob("*.csv")}
    objects |= {f"daily/old/{p.name}": p.read_bytes() for p in old.glob("*.csv")}
    pool = RecordingPool()
    client = dataclasses.replace(S3Client.from_environment(moto_s3.environment()), http_client=pool)
    with moto_s3.bucket("market", objects):
        manifest = ingest("s3://market/daily/", tmp_path / "out", s3_client=lambda: client)
        assert manifest["tickers"] == ["AAA", "BBB"]
        assert pool.object_gets() == [("market", "daily/AAA.csv"), ("market", "daily/BBB.csv")]
        single = ingest("s3://market/daily/BBB.csv", tmp_path / "one", s3_client=lambda: client)
        assert single["tickers"] == ["BBB"]
        with pytest.raises(IngestError, match="no CSV/Parquet objects directly under the prefix"):
            ingest("s3://market/empty/", tmp_path / "none", s3_client=lambda: client)


def test_credentials_in_a_uri_never_reach_the_manifest(tmp_path: Path) -> None:
    assert redact_uri("https://alice:s3cret@example.test/x.csv") == "https://***@example.test/x.csv"
    with pytest.raises(IngestError) as err:
        ingest("ftp://bob:hunter2@example.test/x.csv", tmp_path / "out")
    assert "hunter2" not in str(err.value) and "unsupported scheme 'ftp'" in str(err.value)


def test_cli_ingest_then_validate_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    argv = ["ingest", "--source", "synthetic", "--out", str(out), "--synthetic-tickers", "2"]
    assert main([*argv, "--synthetic-bars", "400"]) == 0
    assert "ingested SYNTHETIC data set" in capsys.readouterr().out
    report = tmp_path / "validate.json"
    assert main(["validate-data", "--data", str(out), "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["synthetic"] is True and data["per_ticker"]["SYNTH00"]["bars"] == 400
    assert all(n >= 16 for n in data["split_sizes"].values())
    # Too short for the split: exit 2 with the ticker's file and the minimum named.
    short = tmp_path / "short"
    assert main(["ingest", "--source", "synthetic", "--out", str(short), "--synthetic-bars", "90"]) == 0
    capsys.readouterr()
    assert main(["validate-data", "--data", str(short)]) == 2
    err = capsys.readouterr().err
    assert "SYNTH00.csv" in err and "only 90 rows, need at least" in err
