"""Look for a secret in files: raw, with its trailing newline and base64-encoded.

Used by the molecule verify step to prove that the k3s token never reached
the Ansible log (every playbook's output, diffs included). The secret is
read from a file, never taken from the command line.

Usage: python tests/host/leakscan.py --secret-file FILE [--secret-file FILE2 ...] PATH [PATH...]
(one --secret-file per secret: the k3s token, the etcd S3 secret key, ...)
Exit status: 0 when no PATH (file, or folder searched recursively) holds
any of the secrets, 1 when some do (they are listed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

MIN_SECRET_LENGTH = 8


def secret_forms(secret: bytes) -> list[bytes]:
    """The byte strings under which the secret could appear in a log or file."""
    secret = secret.strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"secret is shorter than {MIN_SECRET_LENGTH} bytes; refusing a scan that would match noise"
        )
    forms = {secret, base64.b64encode(secret), base64.b64encode(secret + b"\n")}
    # slurp-style base64 of a longer file: the encoding of the secret alone
    # without padding still appears when the secret starts the file.
    forms.add(base64.b64encode(secret).rstrip(b"="))
    return sorted(forms)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file() and not p.is_symlink())
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path} does not exist")


def files_with_secret(secret: bytes, paths: Iterable[Path]) -> list[Path]:
    """Every file under paths that contains one of the secret's forms."""
    forms = secret_forms(secret)
    return [path for path in iter_files(paths) if any(form in path.read_bytes() for form in forms)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--secret-file", required=True, type=Path, action="append")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        leaks = sorted(
            {
                leak
                for secret in args.secret_file
                for leak in files_with_secret(secret.read_bytes(), args.paths)
            }
        )
    except (OSError, ValueError) as err:
        print(f"leakscan: {err}", file=sys.stderr)
        return 2
    if leaks:
        print("leakscan: the secret appears in: " + ", ".join(map(str, leaks)), file=sys.stderr)
        return 1
    print(f"leakscan: secret absent from {len(list(iter_files(args.paths)))} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
