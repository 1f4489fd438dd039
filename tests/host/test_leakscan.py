"""leakscan finds a secret in the forms a log or a file could hold it."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import leakscan

SECRET = b"s3cr3t-token-0123456789"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "etc/rancher/k3s").mkdir(parents=True)
    (tmp_path / "etc/rancher/k3s/config.yaml").write_text("token-file: /etc/rancher/k3s/token\n")
    (tmp_path / "etc/systemd").mkdir(parents=True)
    (tmp_path / "etc/systemd/k3s.service").write_text("ExecStart=/usr/local/bin/k3s server\n")
    return tmp_path


def test_clean_tree_has_no_leak(tree: Path) -> None:
    assert leakscan.files_with_secret(SECRET, [tree]) == []
    assert leakscan.main(["--secret-file", str(write(tree / "secret", SECRET)), str(tree / "etc")]) == 0


@pytest.mark.parametrize(
    "content",
    [b"token: " + SECRET, b"content: " + base64.b64encode(SECRET + b"\n"), b"x" + base64.b64encode(SECRET)],
    ids=["raw", "slurp-base64", "base64"],
)
def test_each_form_of_the_secret_is_found(tree: Path, content: bytes) -> None:
    leak = write(tree / "etc/rancher/k3s/config.yaml", content)
    assert leakscan.files_with_secret(SECRET + b"\n", [tree / "etc"]) == [leak]
    assert leakscan.main(["--secret-file", str(write(tree / "secret", SECRET)), str(tree / "etc")]) == 1


def test_short_secret_and_missing_path_are_errors(tree: Path) -> None:
    with pytest.raises(ValueError, match="shorter than"):
        leakscan.files_with_secret(b"abc", [tree])
    assert leakscan.main(["--secret-file", str(write(tree / "secret", SECRET)), str(tree / "nowhere")]) == 2


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path
