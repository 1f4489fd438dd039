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


def test_every_secret_file_is_looked_for(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The molecule verify scans for the k3s token and the etcd S3 secret key in one run."""
    s3_secret = b"s3-secret-key-ABCDEFGH"
    (tree / "etc/rancher/k3s/config.yaml.d").mkdir()
    write(tree / "etc/rancher/k3s/config.yaml.d/20-etcd-snapshots.yaml", b"etcd-s3-secret-key: " + s3_secret)
    token, s3 = write(tree / "token", SECRET), write(tree / "s3", s3_secret)
    args = ["--secret-file", str(token), "--secret-file", str(s3)]
    assert leakscan.main([*args, str(tree / "etc")]) == 1
    assert "20-etcd-snapshots.yaml" in capsys.readouterr().err
    (tree / "etc/rancher/k3s/config.yaml.d/20-etcd-snapshots.yaml").unlink()
    assert leakscan.main([*args, str(tree / "etc")]) == 0


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_secure_token_counts_by_its_password(tree: Path) -> None:
    password = b"agent-password-0123456789"
    secure = b"K10" + b"ab" * 32 + b"::node:" + password
    leak = write(tree / "etc/systemd/k3s.service", b"Environment=K3S_TOKEN=" + password)
    assert leakscan.files_with_secret(secure, [tree / "etc"]) == [leak]
    with pytest.raises(ValueError, match="password of the secure token"):
        leakscan.files_with_secret(b"K10" + b"ab" * 32 + b"::node:short", [tree])


def test_several_secrets_and_excluded_token_files(tree: Path) -> None:
    other = b"second-secret-abcdefgh"
    write(tree / "etc/rancher/k3s/token", SECRET)
    write(tree / "etc/rancher/k3s/agent-token", other)
    files = [str(write(tree / "s1", SECRET)), str(write(tree / "s2", other))]
    argv = ["--secret-file", files[0], "--secret-file", files[1]]
    assert leakscan.main([*argv, "--exclude", "token", "--exclude", "agent-token", str(tree / "etc")]) == 0
    assert leakscan.main([*argv, "--exclude", "token", str(tree / "etc")]) == 1
    assert leakscan.files_with_secret([SECRET, other], [tree / "etc"]) == [
        tree / "etc/rancher/k3s/agent-token",
        tree / "etc/rancher/k3s/token",
    ]
