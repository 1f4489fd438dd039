"""IAM identities on a moto server, then wait until moto enforces IAM. Runs in the moto virtualenv.

    python moto_setup.py ENDPOINT IDENTITIES_JSON
IDENTITIES_JSON is a list of {"name", "policy_name", "policy"}. ENDPOINT is a
moto server started with INITIAL_NO_AUTH_ACTION_COUNT=N (tests/moto_s3.py):
the setup runs unauthenticated, then the rest of the N free actions are spent
until an unknown key is refused, so every request after it is authenticated
(SigV4 checked) and authorized by moto's IAM policy evaluation. Prints
{name: [access_key_id, secret_access_key]} as JSON. tests/platform/
moto_policy_probe.py imports the functions.
"""

from __future__ import annotations

import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
CONFIG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}


def client(service: str, endpoint: str, key: str = "setup", secret: str = "setup-secret"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=CONFIG,
    )


def create_identities(iam, identities: list[dict]) -> dict[str, tuple[str, str]]:
    """An IAM user per identity with its policy attached; name -> (access key id, secret)."""
    keys = {}
    for identity in identities:
        iam.create_user(UserName=identity["name"])
        arn = iam.create_policy(
            PolicyName=identity["policy_name"], PolicyDocument=json.dumps(identity["policy"])
        )["Policy"]["Arn"]
        iam.attach_user_policy(UserName=identity["name"], PolicyArn=arn)
        access = iam.create_access_key(UserName=identity["name"])["AccessKey"]
        keys[identity["name"]] = (access["AccessKeyId"], access["SecretAccessKey"])
    return keys


def wait_for_enforcement(endpoint: str) -> None:
    outsider = client("s3", endpoint, "AKIANOTAUSER00000000", "not-a-secret")
    for _ in range(1000):
        try:
            outsider.list_buckets()
        except ClientError as err:
            if err.response["Error"]["Code"] in DENIED:
                return
            raise
    raise SystemExit("moto never started to enforce IAM (is INITIAL_NO_AUTH_ACTION_COUNT set?)")


def main() -> int:
    endpoint, identities = sys.argv[1], json.loads(sys.argv[2])
    keys = create_identities(client("iam", endpoint), identities)
    wait_for_enforcement(endpoint)
    print(json.dumps(keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
