#!/usr/bin/env bash
# Run checkov over the rendered manifests with the project's skip list.
#   scripts/run-checkov.sh [RENDER_DIR]      (default: build/manifests)
# checkov lives in its own venv (.venv-checkov): resolved together with
# mlflow, pip backtracks for many minutes over checkov's exact pins.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
render_dir="${1:-${root}/build/manifests}"
venv="${CHECKOV_VENV:-${root}/.venv-checkov}"

if [[ ! -d "${render_dir}" ]]; then
  echo "run-checkov: ${render_dir} does not exist; render first (make render)" >&2
  exit 2
fi

if [[ ! -x "${venv}/bin/checkov" ]]; then
  echo "run-checkov: creating ${venv} (one-time, a few minutes)" >&2
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install --quiet 'checkov>=3.2,<4'
fi

# --framework kubernetes: the render folder holds plain manifests;
# kustomization.yaml is skipped so each object is checked once. Expanded
# chart output (*-chart-<release>-<version>/) is upstream's: it is judged by
# the render checks (Pod Security, references, flows), not held to our
# checkov baseline.
# BC_SKIP_MAPPING and --skip-download keep checkov offline (no Prisma
# Cloud guideline download, no policy update).
export BC_SKIP_MAPPING=TRUE
exec "${venv}/bin/checkov" \
  --config-file "${root}/.checkov.yaml" \
  --directory "${render_dir}" \
  --framework kubernetes \
  --skip-path kustomization.yaml \
  --skip-path '[0-9]+-[a-z0-9-]+-chart-[a-z0-9.-]+' \
  --skip-download --compact --quiet
