"""Probe what each MinIO identity's policy allows, against moto's S3 with IAM enforced.

Runs in the moto virtualenv (boto3 lives there, not in the project's venv):
    python moto_policy_probe.py ENDPOINT IDENTITIES_JSON PROBES_JSON
ENDPOINT is a moto server started with INITIAL_NO_AUTH_ACTION_COUNT=N: the
setup below runs unauthenticated, then the script spends the rest of the N
free actions until an unsigned-for request is refused, so every probe after
it is authenticated and authorized by moto's IAM policy evaluation. Prints
{identity: {probe: "allowed" | "denied"}} as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from botocore.exceptions import ClientError

# The setup shared with the other moto tests (tests/moto_setup.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from moto_setup import DENIED, client, create_identities, wait_for_enforcement


def probe(s3, spec: dict) -> str:
    bucket, key = spec["bucket"], spec.get("key", "")
    calls = {
        "list": lambda: s3.list_objects_v2(Bucket=bucket, Prefix=key),
        "get": lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read(),
        "put": lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"probe"),
        "delete": lambda: s3.delete_object(Bucket=bucket, Key=key),
        "create-bucket": lambda: s3.create_bucket(Bucket=bucket),
    }
    try:
        calls[spec["action"]]()
    except ClientError as err:
        if (
            err.response["Error"]["Code"] in DENIED
            or err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        ):
            return "denied"
        raise
    return "allowed"


def main() -> int:
    endpoint, identities, probes = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    iam, s3 = client("iam", endpoint), client("s3", endpoint)
    for bucket in sorted({p["bucket"] for p in probes if p["action"] != "create-bucket"}):
        s3.create_bucket(Bucket=bucket)
    for p in probes:
        if p.get("seed"):
            s3.put_object(Bucket=p["bucket"], Key=p["key"], Body=b"seeded")
    keys = create_identities(iam, identities)
    wait_for_enforcement(endpoint)
    results = {}
    for name, (key, secret) in keys.items():
        s3_as = client("s3", endpoint, key, secret)
        results[name] = {p["id"]: probe(s3_as, p) for p in probes}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
