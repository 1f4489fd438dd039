#!/usr/bin/env bash
# Build the Debian 12 systemd image the molecule scenarios boot as k3s nodes.
#
# No container registry is reachable from the build and CI machines, so the
# image is made locally: debootstrap a minimal bookworm root, then import it
# with podman. It is cached: the build is skipped when an image with the same
# tag and the same package list already exists (the list's hash is stored in
# an image label, so changing NODE_IMAGE_PACKAGES below rebuilds it).
#
# The packages node_prep installs are NOT installed in the image: their .deb
# files and the package lists are pre-seeded in the apt cache instead, so the
# first converge installs them for real (as on a fresh host) while no test
# container ever contacts a Debian mirror (molecule sets
# node_prep_apt_update_cache: false).
#
# Usage: scripts/build-node-image.sh [--force]
# Environment: NODE_IMAGE (tag), DEBIAN_MIRROR, CONTAINERS_CONF (see
# molecule/containers.conf; the Makefile exports it).
set -euo pipefail

NODE_IMAGE="${NODE_IMAGE:-localhost/finmlops-node:bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# Base system for systemd containers and Ansible (python3, python3-apt for
# the apt and package_facts modules, openssh-server: the scenarios connect
# over SSH like a real inventory, which is also several times faster than
# the podman connection; python3-yaml for the k3s test double in
# tests/k3s_double), then what roles/node_prep installs
# (keep in sync with node_prep_packages in roles/node_prep/defaults/main.yml).
NODE_IMAGE_PACKAGES="python3,python3-apt,python3-yaml,openssh-server,systemd,systemd-sysv,dbus,iproute2,sudo,procps,kmod,ca-certificates"
# Downloaded into /var/cache/apt/archives only; node_prep installs them.
NODE_IMAGE_PRESEED="iptables nftables conntrack socat curl"

PROG=build-node-image
# shellcheck source=scripts/lib/debootstrap-image.sh
. "$(dirname "$0")/lib/debootstrap-image.sh"
parse_force_flag "$@"
require_debootstrap_tools

wanted_hash="$(printf '%s %s %s %s' "$SUITE" "$DEBIAN_MIRROR" "$NODE_IMAGE_PACKAGES" "$NODE_IMAGE_PRESEED" | sha256sum | cut -d' ' -f1)"
if ! $force && image_is_current "$NODE_IMAGE" "$wanted_hash"; then
  echo "build-node-image: $NODE_IMAGE is up to date, skipping the build"
  exit 0
fi

rootfs="$(mktemp -d /var/tmp/finmlops-node-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap_root "$rootfs" "$SUITE" "$DEBIAN_MIRROR" "$NODE_IMAGE_PACKAGES"

# Every container must get its own machine-id at boot (systemd generates one
# when the file is empty); a baked-in id would be shared by all five nodes.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
# Each node gets its own SSH host keys at first boot, not shared baked ones.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat >"$rootfs/etc/systemd/system/ssh.service.d/host-keys.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
# Units that only make sense on real hardware slow the boot or fail in a
# container; masking them keeps `systemctl is-system-running` meaningful.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
  systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
  systemd-remount-fs.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
  fstrim.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# Pre-seed the apt cache: the lists and the .deb files of what node_prep
# installs (and their dependencies), nothing of them installed.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb
echo "deb $DEBIAN_MIRROR $SUITE main" >"$rootfs/etc/apt/sources.list"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# shellcheck disable=SC2086 # the package list is meant to split into words
chroot "$rootfs" sh -c "apt-get update -qq && apt-get install -qq -y --download-only $NODE_IMAGE_PRESEED" \
  >"$rootfs.apt.log" 2>&1 || {
  tail -n 30 "$rootfs.apt.log" >&2
  die "pre-seeding the apt cache failed (full log: $rootfs.apt.log)"
}
rm -f "$rootfs.apt.log"
: >"$rootfs/etc/resolv.conf"

import_root "$rootfs" "$NODE_IMAGE" "$wanted_hash" \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change 'LABEL org.opencontainers.image.description="finmlops molecule test node, Debian 12 with systemd"'
