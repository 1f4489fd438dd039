#!/usr/bin/python
"""Ansible module: mirror a MinIO bucket to a controller folder or back (S3 API, through the minio SDK)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.finmlops.platform.plugins.module_utils.s3_mirror import (
    HAS_MINIO,
    MINIO_IMPORT_ERROR,
    S3Client,
    S3Error,
    mirror_down,
    mirror_up,
)

DOCUMENTATION = r"""
module: bucket_mirror
short_description: Mirror a MinIO bucket to a local folder (backup) or a local folder to a bucket (restore)
description:
  - Talks to MinIO's S3 API through the MinIO Python SDK (path-style, AWS Signature V4); needs no mc or boto3.
  - Objects are compared by size and MD5 (for multipart uploads, their part MD5s), so a repeated run
    transfers nothing and reports no change.
requirements:
  - minio >= 7.2, < 8 (the collection's requirements.txt)
options:
  endpoint:
    description: MinIO API URL, e.g. http://192.168.1.201:9000 (its reserved LoadBalancer IP).
    type: str
    required: true
  access_key:
    description: MinIO access key (the root user).
    type: str
    required: true
    no_log: true
  secret_key:
    description: MinIO secret key.
    type: str
    required: true
    no_log: true
  bucket:
    description: Bucket name.
    type: str
    required: true
  path:
    description: Local folder (created for downloads).
    type: path
    required: true
  direction:
    description: C(download) copies bucket to folder, C(upload) copies folder to bucket.
    type: str
    choices: [download, upload]
    required: true
  create_bucket:
    description: Create the bucket when uploading into a platform where it does not exist yet.
    type: bool
    default: true
  region:
    description: Signing region (MinIO's default is us-east-1).
    type: str
    default: us-east-1
  ca_file:
    description:
      - PEM file of the CAs to trust for an C(https) endpoint, instead of the controller's system CAs.
      - For a MinIO whose certificate a private CA signed.
    type: path
author: financial-mlops maintainers
"""

EXAMPLES = r"""
- name: Back up the MLflow artifacts
  finmlops.platform.bucket_mirror:
    endpoint: http://192.168.1.201:9000
    access_key: "{{ platform_secrets.minio_root_user }}"
    secret_key: "{{ platform_secrets.minio_root_password }}"
    bucket: mlflow-artifacts
    path: /backups/2026-11-20/minio/mlflow-artifacts
    direction: download
"""

RETURN = r"""
transferred:
  description: Object keys copied in this run.
  type: list
  returned: always
"""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "endpoint": {"type": "str", "required": True},
            "access_key": {"type": "str", "required": True, "no_log": True},
            "secret_key": {"type": "str", "required": True, "no_log": True},
            "bucket": {"type": "str", "required": True},
            "path": {"type": "path", "required": True},
            "direction": {"type": "str", "choices": ["download", "upload"], "required": True},
            "create_bucket": {"type": "bool", "default": True},
            "region": {"type": "str", "default": "us-east-1"},
            "ca_file": {"type": "path"},
        },
        supports_check_mode=False,
    )
    if not HAS_MINIO:
        module.fail_json(msg=missing_required_lib("minio"), exception=MINIO_IMPORT_ERROR)
    params = module.params
    try:
        client = S3Client(
            params["endpoint"],
            params["access_key"],
            params["secret_key"],
            params["region"],
            ca_file=params["ca_file"],
        )
        if params["direction"] == "download":
            transferred = mirror_down(client, params["bucket"], params["path"])
        else:
            transferred = mirror_up(client, params["bucket"], params["path"], params["create_bucket"])
    except (S3Error, OSError) as exc:
        module.fail_json(msg=f"bucket {params['bucket']} ({params['direction']}): {exc}")
        return
    module.exit_json(changed=bool(transferred), transferred=transferred, count=len(transferred))


if __name__ == "__main__":
    main()
