"""Build an air-gap bundle holding the k3s TEST DOUBLE, for molecule only.

The bundle has the layout of the real k3s release assets that the
k3s role's air-gap path (`k3s_airgap_dir`) expects:

    k3s                              the test double, reporting --version
    k3s-airgap-images-amd64.tar      a small tar standing in for the images
    sha256sum-amd64.txt              checksums of both, as k3s publishes them

The output is deterministic (fixed tar metadata), so building the same
version twice gives the same checksums and an unchanged converge.

Usage: python3 tests/k3s_double/make_airgap.py --version v1.33.1+k3s1 --dest DIR
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import tarfile
from pathlib import Path

DOUBLE_SOURCE = Path(__file__).with_name("k3s_double.py")
VERSION_LINE = re.compile(r'^K3S_DOUBLE_VERSION = "[^"]*"$', re.MULTILINE)
K3S_VERSION = re.compile(r"^v\d+\.\d+\.\d+\+k3s\d+$")


def double_source(version: str) -> str:
    """The test double's code with the version it must report."""
    source = DOUBLE_SOURCE.read_text()
    result, count = VERSION_LINE.subn(f'K3S_DOUBLE_VERSION = "{version}"', source)
    if count != 1:
        raise RuntimeError(f"{DOUBLE_SOURCE} must define K3S_DOUBLE_VERSION exactly once")
    return result


def images_tarball(version: str) -> bytes:
    note = (
        f"k3s TEST DOUBLE images tarball for {version}: holds no container images.\n"
        "It exercises the air-gap copy to /var/lib/rancher/k3s/agent/images/.\n"
    ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("TEST-DOUBLE.txt")
        info.size, info.mtime, info.mode = len(note), 0, 0o644
        tar.addfile(info, io.BytesIO(note))
    return buffer.getvalue()


def build(version: str, dest: Path, arch: str = "amd64") -> dict[str, str]:
    """Write the bundle into dest and return {file name: sha256}."""
    if not K3S_VERSION.match(version):
        raise ValueError(f"version {version!r} is not a k3s release tag such as v1.33.1+k3s1")
    dest.mkdir(parents=True, exist_ok=True)
    binary = "k3s" if arch == "amd64" else f"k3s-{arch}"
    files = {
        binary: double_source(version).encode(),
        f"k3s-airgap-images-{arch}.tar": images_tarball(version),
    }
    sums: dict[str, str] = {}
    for name, content in files.items():
        path = dest / name
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)
        path.chmod(0o755 if name == binary else 0o644)
        sums[name] = hashlib.sha256(content).hexdigest()
    sums_text = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    sums_file = dest / f"sha256sum-{arch}.txt"
    if not sums_file.exists() or sums_file.read_text() != sums_text:
        sums_file.write_text(sums_text)
    return sums


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", required=True, help="k3s version the double reports")
    parser.add_argument("--dest", required=True, type=Path, help="bundle folder (created)")
    parser.add_argument("--arch", default="amd64", choices=["amd64", "arm64"])
    args = parser.parse_args(argv)
    try:
        build(args.version, args.dest, args.arch)
    except (ValueError, RuntimeError) as err:
        print(f"make_airgap: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
