# Shared steps of the scripts that make a local image from a debootstrapped
# Debian root (build-node-image.sh: the molecule nodes; build-image-base.sh:
# the air-gapped Python base of the application images). No registry is
# reachable on the build and CI machines, so both images are made this way.
# Source it after setting PROG (the name used in messages); it defines:
#   die MESSAGE...
#   parse_force_flag "$@"           sets force=true|false
#   require_debootstrap_tools       podman, debootstrap, tar, sha256sum, root
#   image_is_current TAG HASH       true when TAG exists with label finmlops.packages=HASH
#   debootstrap_root DIR SUITE MIRROR PACKAGES
#   import_root DIR TAG HASH [--change ...]...
# The package-list hash is stored as an image label so a changed list
# rebuilds the image while an unchanged one is a cache hit.

die() {
  echo "$PROG: $*" >&2
  exit 1
}

parse_force_flag() {
  force=false
  case "${1:-}" in
    --force) force=true ;;
    "") ;;
    *) die "unknown argument '$1' (usage: $PROG [--force])" ;;
  esac
}

require_debootstrap_tools() {
  local tool
  for tool in podman debootstrap tar sha256sum; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "'$tool' not found; install it with: apt-get install podman runc debootstrap"
  done
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root; run as root (CI and the dev machines do)"
}

image_is_current() {
  local tag="$1" wanted="$2" have
  podman image exists "$tag" || return 1
  have="$(podman image inspect --format '{{ index .Labels "finmlops.packages" }}' "$tag" 2>/dev/null || true)"
  if [ "$have" = "$wanted" ]; then
    return 0
  fi
  echo "$PROG: $tag has another package list, rebuilding it"
  return 1
}

debootstrap_root() {
  local rootfs="$1" suite="$2" mirror="$3" packages="$4"
  echo "$PROG: debootstrap $suite into $rootfs (about a minute)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    die "debootstrap failed (full log: $rootfs.log); check that $mirror is reachable"
  }
  rm -f "$rootfs.log"
}

import_root() {
  local rootfs="$1" tag="$2" hash="$3"
  shift 3
  echo "$PROG: importing $tag"
  tar -C "$rootfs" -c . | podman import --quiet "$@" --change "LABEL finmlops.packages=$hash" - "$tag" >/dev/null
  echo "$PROG: built $tag"
}
