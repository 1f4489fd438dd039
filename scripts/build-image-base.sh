#!/usr/bin/env bash
# Build the local Python base of the application images, for the air-gapped
# build (containers/README.md): no registry is reachable, so instead of
# python:3.11-slim-bookworm the images start from a Debian 12 minbase root
# made with debootstrap (python3.11 + venv) and imported with podman, as the
# molecule node image is made (scripts/build-node-image.sh).
#
# Cached: skipped when the image exists with the same package list (its
# hash is an image label). Usage: scripts/build-image-base.sh [--force]
# Environment: IMAGE_BASE (tag), DEBIAN_MIRROR, CONTAINERS_CONF.
set -euo pipefail

IMAGE_BASE="${IMAGE_BASE:-localhost/finmlops-python-base:bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# python3-venv brings ensurepip (the build stages make /opt/venv with it);
# passwd for useradd in the runtime stages; ca-certificates for TLS clients
# in the trainer (MLflow, S3, Kubernetes API).
IMAGE_BASE_PACKAGES="python3.11,python3-venv,passwd,ca-certificates"

PROG=build-image-base
# shellcheck source=scripts/lib/debootstrap-image.sh
. "$(dirname "$0")/lib/debootstrap-image.sh"
parse_force_flag "$@"
require_debootstrap_tools

wanted_hash="$(printf '%s %s %s' "$SUITE" "$DEBIAN_MIRROR" "$IMAGE_BASE_PACKAGES" | sha256sum | cut -d' ' -f1)"
if ! $force && image_is_current "$IMAGE_BASE" "$wanted_hash"; then
  echo "build-image-base: $IMAGE_BASE is up to date, skipping the build"
  exit 0
fi

rootfs="$(mktemp -d /var/tmp/finmlops-image-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap_root "$rootfs" "$SUITE" "$DEBIAN_MIRROR" "$IMAGE_BASE_PACKAGES"
# Nothing of the host in the image: no resolver, no apt lists, no caches.
: >"$rootfs/etc/resolv.conf"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
# The Containerfiles call `python3`, which the official python image also has.
import_root "$rootfs" "$IMAGE_BASE" "$wanted_hash" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change 'LABEL org.opencontainers.image.description="finmlops air-gapped Python base, Debian 12 minbase with python3.11"'
