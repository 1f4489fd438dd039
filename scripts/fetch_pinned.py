#!/usr/bin/env python3
"""Provide the pinned upstream files (schemas, test fixtures, charts) of every lock file.

    scripts/fetch_pinned.py [--shared ../shared] [--cache .cache] [--only NAME ...]

Each ``playbooks/vars/<name>-lock.yml`` holds one list of entries
``{dest, url, sha256}`` (``unpack: true``: the URL is a .tgz archive,
unpacked into the folder ``dest``). For each lock:

- ``<shared>/<name>`` exists (the reviewed copies beside the clone): it is
  used as it is and nothing is fetched;
- otherwise every entry is made present in ``<cache>/<name>/<dest>``: a file
  already there with the pinned sha256 is kept, anything else is downloaded
  and checked; a mismatch or a failed download stops with one message naming
  the folder to provide by hand.

``FINMLOPS_FETCH_BASE_URL`` replaces the upstream hosts with a mirror: an
entry's URL ``https://host/path`` is fetched from ``$FINMLOPS_FETCH_BASE_URL/host/path``
(the layout of ``wget --mirror``), e.g. an internal artifact server or a
loopback test server.

Exit codes: 0 all present, 2 something could not be provided (message on stderr).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCK_DIR = ROOT / "playbooks" / "vars"
BASE_URL_ENV = "FINMLOPS_FETCH_BASE_URL"
TIMEOUT_SECONDS = 30
STAMP = ".finmlops-sha256"


class FetchError(RuntimeError):
    """A pinned file that could not be provided; the message says what to do."""


def load_lock(path: Path) -> tuple[str, list[dict]]:
    """The lock's name (``schemas`` for schemas-lock.yml) and its checked entries."""
    name = path.name.removesuffix("-lock.yml")
    data = yaml.safe_load(path.read_text()) or {}
    lists = [v for v in data.values() if isinstance(v, list)] if isinstance(data, dict) else []
    if len(lists) != 1:
        raise FetchError(f"{path}: expected one list of {{dest, url, sha256}} entries, found {len(lists)}")
    entries = lists[0]
    for i, entry in enumerate(entries):
        missing = [k for k in ("dest", "url", "sha256") if not isinstance(entry, dict) or not entry.get(k)]
        if missing:
            raise FetchError(f"{path}: entry {i} lacks {', '.join(missing)}")
        dest = Path(entry["dest"])
        if dest.is_absolute() or ".." in dest.parts:
            raise FetchError(
                f"{path}: entry {i} dest {entry['dest']!r} must be a relative path inside the folder"
            )
    return name, entries


def source_url(url: str) -> str:
    base = os.environ.get(BASE_URL_ENV, "").rstrip("/")
    if not base:
        return url
    return f"{base}/{url.split('://', 1)[-1]}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, expected: str, target: Path, folder: Path) -> None:
    """Download to a temporary file beside ``target``, check the sha256, then move it in place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as resp:
            shutil.copyfileobj(resp, out)
        actual = sha256_of(tmp)
        if actual != expected:
            raise FetchError(
                f"{url}: sha256 {actual} is not the pinned {expected}; not using it. "
                f"Provide the reviewed files in {folder} (or ../shared) by hand."
            )
        tmp.replace(target)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise FetchError(
            f"cannot download {url} ({getattr(exc, 'reason', exc)}): offline? Put the pinned files in "
            f"{folder} (copy of ../shared/{folder.name}), or set {BASE_URL_ENV} to a mirror, and re-run."
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def provide(entry: dict, folder: Path) -> bool:
    """Make one entry present; True when it had to be fetched."""
    dest = folder / entry["dest"]
    if entry.get("unpack"):
        stamp = dest / STAMP
        if stamp.is_file() and stamp.read_text().strip() == entry["sha256"]:
            return False
        archive = folder / ".archives" / Path(entry["url"]).name
        if not (archive.is_file() and sha256_of(archive) == entry["sha256"]):
            download(source_url(entry["url"]), entry["sha256"], archive, folder)
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        with tarfile.open(archive, "r:gz") as tgz:
            tgz.extractall(dest, filter="data")
        stamp.write_text(entry["sha256"] + "\n")
        return True
    if dest.is_file() and sha256_of(dest) == entry["sha256"]:
        return False
    download(source_url(entry["url"]), entry["sha256"], dest, folder)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shared", type=Path, default=ROOT.parent / "shared", help="reviewed copies (default ../shared)"
    )
    parser.add_argument(
        "--cache", type=Path, default=ROOT / ".cache", help="where fetched files go (default .cache)"
    )
    parser.add_argument("--only", action="append", help="lock name(s) to provide (default: every lock)")
    parser.add_argument("--lock-dir", type=Path, default=LOCK_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    try:
        locks = [load_lock(p) for p in sorted(args.lock_dir.glob("*-lock.yml"))]
        for name, entries in locks:
            if args.only and name not in args.only:
                continue
            if (args.shared / name).is_dir():
                continue  # the reviewed copies beside the clone win
            folder = (args.cache / name).resolve()
            todo = [e for e in entries if not _present(e, folder)]
            if not todo:
                continue
            where = os.environ.get(BASE_URL_ENV) or "upstream (the lock's URLs)"
            print(
                f"fetch-pinned: {name}: {len(todo)} of {len(entries)} pinned files missing from "
                f"{folder} (no {args.shared / name}); downloading from {where}, sha256-checked",
                file=sys.stderr,
                flush=True,
            )
            for entry in todo:
                provide(entry, folder)
    except FetchError as exc:
        print(f"fetch-pinned: {exc}", file=sys.stderr)
        return 2
    return 0


def _present(entry: dict, folder: Path) -> bool:
    dest = folder / entry["dest"]
    if entry.get("unpack"):
        stamp = dest / STAMP
        return stamp.is_file() and stamp.read_text().strip() == entry["sha256"]
    return dest.is_file() and sha256_of(dest) == entry["sha256"]


if __name__ == "__main__":
    sys.exit(main())
