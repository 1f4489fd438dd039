#!/usr/bin/env bash
# Make the wheelhouse of the air-gapped image build (containers/README.md):
# every wheel the `[train]` and `[serve]` extras need, resolved on this host
# with its own pip configuration (index, local wheel folders, constraints;
# torch comes from the CPU wheel pip is configured with), plus the build
# backend that installs the project from source inside the build.
# The builds then run `pip install --no-index --find-links /wheelhouse`, so
# no container ever talks to an index (nor needs to trust its CA).
#
# Cached: skipped when the wheelhouse was made from the same pyproject.toml,
# pip configuration and Python. Usage: scripts/build-wheelhouse.sh [DIR]
# Environment: PYTHON (the interpreter whose pip resolves; default .venv's).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${FINMLOPS_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/financial-mlops/wheelhouse}}"
python="${PYTHON:-$root/.venv/bin/python}"
extras="train,serve"

die() {
  echo "build-wheelhouse: $*" >&2
  exit 1
}
[ -x "$python" ] || die "$python not found; run 'make setup' first (or set PYTHON=/path/to/python3.11)"
"$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
  die "$python is not Python 3.11, the images' Python: wheels would not match"

wanted="$( (
  cat "$root/pyproject.toml"
  "$python" -m pip config list 2>/dev/null
  "$python" -VV
  echo "$extras"
) | sha256sum | cut -d' ' -f1)"
if [ -f "$dir/.finmlops-stamp" ] && [ "$(cat "$dir/.finmlops-stamp")" = "$wanted" ]; then
  echo "build-wheelhouse: $dir is up to date, skipping"
  exit 0
fi

mkdir -p "$dir"
rm -f "$dir"/*.whl "$dir/.finmlops-stamp"
echo "build-wheelhouse: resolving .[${extras}] into $dir"
"$python" -m pip wheel --quiet --wheel-dir "$dir" "$root[$extras]" "setuptools>=77" wheel
# The project itself is built inside the image from its sources.
rm -f "$dir"/financial_mlops-*.whl
echo "$wanted" >"$dir/.finmlops-stamp"
echo "build-wheelhouse: $(find "$dir" -name '*.whl' | wc -l) wheels, $(du -sh "$dir" | cut -f1) in $dir"
