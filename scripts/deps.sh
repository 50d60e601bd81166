#!/usr/bin/env bash
# Installs what building and testing vnuma needs on Debian 12, once.
set -euo pipefail

packages=(
  gcc meson ninja-build pkg-config
  libglib2.0-dev libxml2-dev libcmocka-dev libvirt-dev
  libstdc++-12-dev libicu-dev liblzma-dev zlib1g-dev libpcre2-dev
  libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86
  libxml2-utils python3 python3-libvirt xz-utils valgrind
  tini
  gnuplot-nox
  libnuma-dev
  groff-base man-db
  clang-14 libclang-rt-14-dev systemd
  linux-image-amd64 busybox-static numactl cpio
  # Nova's functional tests (tests/nova): Nova Zed, placement, Nova's test deps
  python3-nova python3-placement python3-oslotest python3-fixtures python3-testtools
  python3-ddt python3-wsgi-intercept python3-requests-mock python3-stestr
  python3-testscenarios python3-testresources
  debhelper dh-python dpkg-dev lintian prometheus prometheus-node-exporter
)

# Nova's functional API fixture reads api-paste.ini, which only the
# nova-common package ships (installing it would start nova services):
# its .deb is unpacked into a directory of our own instead.
nova_paste=/usr/local/share/vnuma-tests/nova/api-paste.ini
install_nova_paste() {
  [ -f "$nova_paste" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/deps.sh: $nova_paste missing (run as root to unpack it from nova-common)" >&2
    exit 1
  fi
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp"   # apt's _apt user downloads into it
  (cd "$tmp" && apt-get download -qq nova-common >/dev/null 2>&1 && dpkg -x nova-common_*.deb root)
  install -D -m 644 "$tmp/root/usr/share/nova-common/api-paste.ini" "$nova_paste"
  rm -rf "$tmp"
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  install_nova_paste
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
  exit 1
fi
echo "scripts/deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt (unattended-upgrades at boot, a second checkout) may hold
# dpkg's lock for a while: wait for it rather than fail.
apt_wait=(-o DPkg::Lock::Timeout=600)
apt-get "${apt_wait[@]}" update -qq
apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_nova_paste
