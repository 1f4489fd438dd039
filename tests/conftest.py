"""Shared pytest fixtures: import paths, schema folder, project paths."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_cli import ansible_environment
from moto_s3 import MotoS3, moto_s3_admin

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = PROJECT_ROOT / "collections"
# Our collection is imported as ansible_collections.finmlops.platform, exactly
# as Ansible loads it, so tests exercise the code the modules run.
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

SCHEMA_DIR = Path(os.environ.get("FINMLOPS_SCHEMA_DIR", PROJECT_ROOT.parent / "shared" / "schemas"))
# `make unit` sets both to ../shared/<name>, or to .cache/<name> fetched by
# scripts/fetch_pinned.py when ../shared is not beside the clone.
UPSTREAM_EXAMPLES = Path(
    os.environ.get("FINMLOPS_UPSTREAM_EXAMPLES", PROJECT_ROOT.parent / "shared" / "upstream-examples")
)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    if not SCHEMA_DIR.is_dir():
        pytest.fail(
            f"pinned schemas not found at {SCHEMA_DIR}: run `make pinned` (fetches them into .cache/schemas) "
            "or set FINMLOPS_SCHEMA_DIR"
        )
    return SCHEMA_DIR


@pytest.fixture(scope="session")
def upstream_examples() -> Path:
    if not UPSTREAM_EXAMPLES.is_dir():
        pytest.fail(
            f"upstream examples not found at {UPSTREAM_EXAMPLES}: run `make pinned` (fetches them into "
            ".cache/upstream-examples) or set FINMLOPS_UPSTREAM_EXAMPLES"
        )
    return UPSTREAM_EXAMPLES


@pytest.fixture(scope="session")
def ansible_env() -> dict[str, str]:
    """Environment for running Ansible CLIs from tests, as the Makefile does."""
    return ansible_environment()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory) -> Iterator[MotoS3]:
    """One moto S3 server for the session, IAM enforced (tests/moto_s3.py); tests make their own buckets."""
    with moto_s3_admin(tmp_path_factory.mktemp("moto-s3")) as server:
        yield server
