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

die() {
  echo "build-image-base: $*" >&2
  exit 1
}

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) die "unknown argument '$1' (usage: $0 [--force])" ;;
esac

for tool in podman debootstrap tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found; install it with: apt-get install podman runc debootstrap"
done
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root; run as root (CI and the dev machines do)"

wanted_hash="$(printf '%s %s %s' "$SUITE" "$DEBIAN_MIRROR" "$IMAGE_BASE_PACKAGES" | sha256sum | cut -d' ' -f1)"
if ! $force && podman image exists "$IMAGE_BASE"; then
  have_hash="$(podman image inspect --format '{{ index .Labels "finmlops.packages" }}' "$IMAGE_BASE" 2>/dev/null || true)"
  if [ "$have_hash" = "$wanted_hash" ]; then
    echo "build-image-base: $IMAGE_BASE is up to date, skipping the build"
    exit 0
  fi
  echo "build-image-base: $IMAGE_BASE has another package list, rebuilding it"
fi

rootfs="$(mktemp -d /var/tmp/finmlops-image-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "build-image-base: debootstrap $SUITE into $rootfs (about a minute)"
debootstrap --variant=minbase --include="$IMAGE_BASE_PACKAGES" "$SUITE" "$rootfs" "$DEBIAN_MIRROR" \
  >"$rootfs.log" 2>&1 || {
  tail -n 30 "$rootfs.log" >&2
  die "debootstrap failed (full log: $rootfs.log); check that $DEBIAN_MIRROR is reachable"
}
rm -f "$rootfs.log"
# Nothing of the host in the image: no resolver, no apt lists, no caches.
: >"$rootfs/etc/resolv.conf"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
# The Containerfiles call `python3`, which the official python image also has.
echo "build-image-base: importing $IMAGE_BASE"
tar -C "$rootfs" -c . | podman import --quiet \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL finmlops.packages=$wanted_hash" \
  --change 'LABEL org.opencontainers.image.description="finmlops air-gapped Python base, Debian 12 minbase with python3.11"' \
  - "$IMAGE_BASE" >/dev/null
echo "build-image-base: built $IMAGE_BASE"
