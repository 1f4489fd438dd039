"""The backup/restore bucket mirror (finmlops.platform.bucket_mirror) against moto's real S3 API.

A full backup -> empty platform -> restore round trip, idempotent both ways,
through module_utils/s3_mirror.py and through the Ansible module itself
(tests/moto_s3.py: moto with IAM enforced, so every request's SigV4 is checked).
"""

from __future__ import annotations

import hashlib
import os
import re
import textwrap

import pytest
from ansible_cli import ansible_environment, run_ansible
from ansible_collections.finmlops.platform.plugins.module_utils.s3_mirror import (
    S3Client,
    S3Error,
    mirror_down,
    mirror_up,
    multipart_etag,
)

pytestmark = pytest.mark.integration

BUCKET = "mlflow-artifacts"
MODEL = "2/abc/artifacts/mlserver-model/model.pt"
ARTIFACTS = {
    "2/abc/artifacts/mlserver-model/model-settings.json": b'{"name": "lstm"}',
    MODEL: bytes(range(256)) * 40,
    "2/abc/artifacts/metrics.json": b"{}",
}


@pytest.fixture()
def s3(moto_s3):
    with moto_s3.bucket(BUCKET, ARTIFACTS):
        yield moto_s3


def test_backup_then_restore_into_an_empty_platform(s3, tmp_path):
    client = S3Client(s3.endpoint, s3.access_key, s3.secret_key)
    folder = tmp_path / BUCKET
    copied = mirror_down(client, BUCKET, str(folder))
    assert len(copied) == 3
    assert (folder / "2/abc/artifacts/mlserver-model/model.pt").read_bytes() == bytes(range(256)) * 40
    assert mirror_down(client, BUCKET, str(folder)) == []  # second run: nothing to do

    original = s3.objects(BUCKET)
    s3.drop(BUCKET)  # the new, empty platform
    restored = mirror_up(client, BUCKET, str(folder))
    assert sorted(restored) == sorted(original)
    assert s3.objects(BUCKET) == original
    assert mirror_up(client, BUCKET, str(folder)) == []


def test_a_changed_object_is_copied_again(s3, tmp_path):
    client = S3Client(s3.endpoint, s3.access_key, s3.secret_key)
    mirror_down(client, BUCKET, str(tmp_path))
    (tmp_path / MODEL).write_bytes(bytes(reversed(range(256))) * 40)  # same size, other content
    assert mirror_up(client, BUCKET, str(tmp_path)) == [MODEL]
    assert s3.objects(BUCKET)[MODEL] == bytes(reversed(range(256))) * 40


def test_multipart_etags_are_compared_by_content(s3, tmp_path):
    # 9 MiB in 5 MiB parts: a multipart upload, its ETag <md5 of part md5s>-2.
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    s3.sdk().fput_object(BUCKET, "big.bin", str(big), part_size=5 * 1024 * 1024)
    etag = s3.sdk().stat_object(BUCKET, "big.bin").etag.strip('"')
    assert etag.endswith("-2") and multipart_etag(str(big), 5 * 1024 * 1024) == etag
    client = S3Client(s3.endpoint, s3.access_key, s3.secret_key)
    backup = tmp_path / "backup"
    assert "big.bin" in mirror_down(client, BUCKET, str(backup))
    assert mirror_down(client, BUCKET, str(backup)) == []
    assert (
        hashlib.sha256((backup / "big.bin").read_bytes()).digest()
        == hashlib.sha256(big.read_bytes()).digest()
    )


def test_wrong_credentials_give_a_clear_error(s3, tmp_path):
    client = S3Client(s3.endpoint, "someone-else", "x")
    with pytest.raises(S3Error, match=r"GET http://127\.0\.0\.1:\d+/mlflow-artifacts answered HTTP 403"):
        mirror_down(client, BUCKET, str(tmp_path))


def test_endpoint_mistakes_are_named():
    with pytest.raises(S3Error, match=r"'192\.168\.1\.201:9000' is not an S3 API URL"):
        S3Client("192.168.1.201:9000", "a", "b")
    with pytest.raises(S3Error, match=r"ca_file /nonexistent/ca\.pem is not a file"):
        S3Client("https://minio.example:9000", "a", "b", ca_file="/nonexistent/ca.pem")


PLAYBOOK = """\
- name: Mirror a bucket with the module
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror
      finmlops.platform.bucket_mirror:
        endpoint: "{{ lookup('ansible.builtin.env', 'MOTO_ENDPOINT') }}"
        access_key: "{{ lookup('ansible.builtin.env', 'MOTO_ACCESS_KEY') }}"
        secret_key: "{{ lookup('ansible.builtin.env', 'MOTO_SECRET_KEY') }}"
        bucket: mlflow-artifacts
        path: "{{ folder }}"
        direction: "{{ direction }}"
"""


@pytest.mark.slow
def test_the_module_reports_no_change_on_a_second_run(s3, tmp_path):
    playbook = tmp_path / "mirror.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK))
    # The keys reach the module through the environment, never the command line.
    env = {
        **ansible_environment(),
        "MOTO_ENDPOINT": s3.endpoint,
        "MOTO_ACCESS_KEY": s3.access_key,
        "MOTO_SECRET_KEY": s3.secret_key,
    }

    def mirror(direction: str) -> int:
        run = run_ansible(
            "ansible-playbook",
            str(playbook),
            "-e",
            f"folder={tmp_path / 'backup'} direction={direction}",
            env=env,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert s3.secret_key not in run.stdout + run.stderr
        return int(re.search(r"changed=(\d+)", run.stdout).group(1))

    assert mirror("download") == 1
    assert mirror("download") == 0
    s3.drop(BUCKET)
    assert mirror("upload") == 1
    assert mirror("upload") == 0
    assert s3.objects(BUCKET) == ARTIFACTS
