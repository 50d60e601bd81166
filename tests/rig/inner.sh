#!/bin/bash
# PID 1 of the rig's outer VM (after the initramfs switched root onto the
# host's root under a tmpfs overlay). Makes the box a libvirt host of its
# own — state dirs on tmpfs, so nothing of the real host's libvirt is seen
# or touched — installs vnuma's hook, starts virtlogd + libvirtd, runs
# tests/rig/scenarios.py, writes its exit status to /rig-out/status and
# powers off. Everything it learns goes to /rig-out (the results share).
# As PID 1, bash reaps orphans only between foreground commands: a QEMU
# that libvirt (which daemonises it) kills would stay a zombie while
# scenarios.py runs, and libvirt waits for it to vanish. tini as PID 1
# reaps at once, with this script as its child (docs/testing.md).
if [ "$$" = 1 ] && [ -z "${RIG_UNDER_TINI:-}" ]; then
  RIG_UNDER_TINI=1 exec tini -- "$0" "$@"
fi
out=/rig-out
exec >"$out/inner.log" 2>&1
# shellcheck source=/dev/null
. "$out/rig.env"    # RIG_SRC RIG_BUILD RIG_HOST RIG_SCENARIOS RIG_STEADY RIG_IMAGES RIG_CACHE

status=1
power_off() {
  echo "$status" >"$out/status"
  sync
  echo o >/proc/sysrq-trigger
  sleep 60
}
trap power_off EXIT

set -x
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# The VM's /tmp is its own, but the checkout and its build may live under
# the host's /tmp (a CI clone): those come back through it.
mkdir -p /run/rig-host-tmp
mount --bind /tmp /run/rig-host-tmp
mount -t tmpfs tmpfs /tmp
for d in "$RIG_SRC" "$RIG_BUILD"; do
  case "$d" in
    /tmp/*) mkdir -p "$d" && mount --bind "/run/rig-host-tmp/${d#/tmp/}" "$d" ;;
  esac
done
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo 1 >/proc/sys/kernel/sysrq
echo "+cpuset +cpu +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
# The real host's libvirt state (other checkouts' tests use it) must not
# leak in: fresh, empty state and config dirs.
for d in /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /etc/libvirt/hooks /etc/libvirt/qemu /etc/vnuma; do
  mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
done
# libvirtd resolves its built-in QEMU user before reading qemu.conf: the
# user must exist (in the overlay only), even though QEMU runs as root.
id libvirt-qemu >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu
printf 'user = "root"\ngroup = "root"\n' >/etc/libvirt/qemu.conf
# A capabilities cache from an earlier host of this run (same QEMU, same
# kernel, same -cpu; read through the root share) saves libvirtd ~40 s of
# probing under TCG; libvirt re-probes by itself when it does not apply.
if [ -d "$RIG_CACHE/capabilities" ]; then
  mkdir -p /var/cache/libvirt/qemu && cp -a "$RIG_CACHE/capabilities" /var/cache/libvirt/qemu/
fi

mkdir -p /etc/libvirt/hooks/qemu.d
ln -s "$RIG_BUILD/hooks/vnuma-hook" /etc/libvirt/hooks/qemu.d/vnuma
printf '[vnuma]\nlog_file=%s/hook.log\n' "$out" >/etc/vnuma/vnuma.conf

# As docs/agent.md asks of hosts vnumad manages: the kernel's own NUMA
# balancing would migrate guest pages beside the agent's bounded rate.
echo 0 >/proc/sys/kernel/numa_balancing
numactl --hardware
virtlogd -d
libvirtd >>"$out/libvirtd.log" 2>&1 &
libvirtd_pid=$!
for _ in $(seq 1 240); do
  virsh -c qemu:///system version >/dev/null 2>&1 && break
  kill -0 "$libvirtd_pid" || break
  sleep 0.5
done
virsh -c qemu:///system version || exit 1
if [ ! -d "$RIG_CACHE/capabilities" ]; then
  cp -a /var/cache/libvirt/qemu/capabilities "$out/capabilities-cache"
fi
set +x
cd "$RIG_SRC" || exit 1
python3 tests/rig/scenarios.py --host "$RIG_HOST" --out "$out" --images "$RIG_IMAGES" \
  --build "$RIG_BUILD" --steady "$RIG_STEADY" ${RIG_SCENARIOS:+--scenario "$RIG_SCENARIOS"}
status=$?
