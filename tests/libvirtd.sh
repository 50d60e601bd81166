#!/usr/bin/env bash
# Starts a real system libvirtd (and virtlogd) for the tests, and undoes
# exactly what it did:  tests/libvirtd.sh start STATEDIR | stop STATEDIR
# STATEDIR remembers what was created or started here.
set -euo pipefail
action=$1
state=$2
sock=/run/libvirt/libvirt-sock

start() {
  mkdir -p "$state"
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/libvirtd.sh: must run as root to start the system libvirtd" >&2
    exit 1
  fi
  if ! id libvirt-qemu >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu
    echo user >> "$state/created"
  fi
  if [ ! -d /var/log/libvirt ]; then
    mkdir -p /var/log/libvirt
    echo logdir >> "$state/created"
  fi
  if ! pgrep -x virtlogd >/dev/null; then
    virtlogd -d
    echo virtlogd >> "$state/started"
  fi
  if ! pgrep -x libvirtd >/dev/null; then
    libvirtd -d
    echo libvirtd >> "$state/started"
  fi
  for _ in $(seq 1 100); do
    if [ -S "$sock" ] && virsh -c qemu:///system version >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "tests/libvirtd.sh: libvirtd did not answer on $sock" >&2
  exit 1
}

stop() {
  [ -d "$state" ] || return 0
  if [ -f "$state/started" ]; then
    grep -qx libvirtd "$state/started" && pkill -x libvirtd || true
    grep -qx virtlogd "$state/started" && pkill -x virtlogd || true
    for _ in $(seq 1 50); do
      pgrep -x libvirtd >/dev/null || pgrep -x virtlogd >/dev/null || break
      sleep 0.1
    done
  fi
  if [ -f "$state/created" ]; then
    grep -qx logdir "$state/created" && rm -rf /var/log/libvirt || true
    grep -qx user "$state/created" && userdel libvirt-qemu 2>/dev/null || true
  fi
  rm -rf "$state"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop STATEDIR" >&2; exit 2 ;;
esac
