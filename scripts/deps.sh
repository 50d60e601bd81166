#!/usr/bin/env bash
# Installs what building and testing vnuma needs on Debian 12, once.
set -euo pipefail

packages=(
  gcc meson ninja-build pkg-config
  libglib2.0-dev libxml2-dev libcmocka-dev libvirt-dev
  libstdc++-12-dev libicu-dev liblzma-dev zlib1g-dev libpcre2-dev
  libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86
  libxml2-utils python3 valgrind
  tini
  gnuplot-nox
  libnuma-dev
  groff-base man-db
  clang-14 libclang-rt-14-dev systemd
  linux-image-amd64 busybox-static numactl cpio
  debhelper dpkg-dev lintian prometheus prometheus-node-exporter
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "scripts/deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
