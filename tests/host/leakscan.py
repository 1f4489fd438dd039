"""Look for secrets in files: raw, with its trailing newline and base64-encoded.

Used by the molecule verify steps to prove that the k3s tokens never reached
the Ansible log (every playbook's output, diffs included), nor the units,
configuration files and records on the nodes. Secrets are read from files,
never taken from the command line. A k3s token in the secure form
(K10<ca hash>::<user>:<password>) counts by its password part too: the CA
hash and user name are not secret, the password is.

Usage: python tests/host/leakscan.py --secret-file FILE [--secret-file FILE...]
                                     [--exclude GLOB...] PATH [PATH...]
(one --secret-file per secret: the k3s tokens, the etcd S3 secret key, ...)
--exclude skips files whose name matches GLOB (the token files themselves).
Exit status: 0 when no PATH (file, or folder searched recursively) holds
a secret, 1 when some do (they are listed), 2 on bad input.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
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
    forms: set[bytes] = set()
    parts = [secret]
    if secret.startswith(b"K10") and b"::" in secret:
        parts.append(secret.split(b"::", 1)[1].split(b":", 1)[-1])
        if len(parts[-1]) < MIN_SECRET_LENGTH:
            raise ValueError(f"the password of the secure token is shorter than {MIN_SECRET_LENGTH} bytes")
    for part in parts:
        forms |= {part, base64.b64encode(part), base64.b64encode(part + b"\n")}
        # slurp-style base64 of a longer file: the encoding of the secret alone
        # without padding still appears when the secret starts the file.
        forms.add(base64.b64encode(part).rstrip(b"="))
    return sorted(forms)


def iter_files(paths: Iterable[Path], exclude: Iterable[str] = ()) -> Iterator[Path]:
    patterns = list(exclude)

    def wanted(p: Path) -> bool:
        return not any(fnmatch.fnmatchcase(p.name, pattern) for pattern in patterns)

    for path in paths:
        if path.is_dir():
            yield from (
                p for p in sorted(path.rglob("*")) if p.is_file() and not p.is_symlink() and wanted(p)
            )
        elif path.is_file():
            if wanted(path):
                yield path
        else:
            raise FileNotFoundError(f"{path} does not exist")


def files_with_secret(
    secret: bytes | Iterable[bytes], paths: Iterable[Path], exclude: Iterable[str] = ()
) -> list[Path]:
    """Every file under paths that contains one of the forms of one of the secrets."""
    secrets = [secret] if isinstance(secret, bytes) else list(secret)
    forms = [form for one in secrets for form in secret_forms(one)]
    return [path for path in iter_files(paths, exclude) if any(form in path.read_bytes() for form in forms)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--secret-file", required=True, type=Path, action="append")
    parser.add_argument("--exclude", default=[], action="append", metavar="GLOB")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        secrets = [path.read_bytes() for path in args.secret_file]
        leaks = files_with_secret(secrets, args.paths, args.exclude)
    except (OSError, ValueError) as err:
        print(f"leakscan: {err}", file=sys.stderr)
        return 2
    if leaks:
        print("leakscan: the secret appears in: " + ", ".join(map(str, leaks)), file=sys.stderr)
        return 1
    count = len(list(iter_files(args.paths, args.exclude)))
    print(f"leakscan: {len(secrets)} secret(s) absent from {count} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
