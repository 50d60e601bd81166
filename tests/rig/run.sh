#!/usr/bin/env bash
# The NUMA rig: proves vnuma on real multi-node NUMA hosts made from this
# machine alone. For each host fixture it boots an outer VM (QEMU TCG,
# Debian's kernel, the machine's own root over read-only 9p under a tmpfs
# overlay) whose nodes, sockets and SLIT distances are the fixture's
# (tests/rig/topology.py), starts virtlogd + libvirtd inside with
# vnuma-hook installed, runs tests/rig/scenarios.py there against the real
# kernel's view (numa_maps, cpuset.mems, thread affinity), and brings the
# results back through a writable 9p share.
#
#   tests/rig/run.sh [--host FIXTURE[:SCENARIOS]]... [--steady SECONDS]
#                    [--results DIR] [--cores-per-node N] [--memory-mib M]
#
# FIXTURE: a name in examples/hosts/ or a path. SCENARIOS: comma list of
# hotplug,baseline,wide,persist,busy,balance,locality,steady (default: all). Without
# --host: epyc-nps2-2s (4 nodes, 10/12/32) with every scenario but busy,
# and epyc-nps4-2s (8 nodes) with baseline,wide,busy. A host whose VM reaches its
# long steady-load phase lets the next host's VM start beside it.
# Results (JSON, TSV, logs) land in DIR (default build/rig/); the closing
# line is "rig: N passed, N failed". Exit 0 only when every check passed.
# Leaves nothing behind: its QEMU processes and temp dir go on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$(pwd)
builddir=${BUILDDIR:-build}
hosts=()
steady=600
results=$builddir/rig
cores_per_node=2
memory_mib=3072

while [ $# -gt 0 ]; do
  case "$1" in
    --host) hosts+=("$2"); shift 2 ;;
    --scenario) scenario_all=$2; shift 2 ;;
    --steady) steady=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --cores-per-node) cores_per_node=$2; shift 2 ;;
    --memory-mib) memory_mib=$2; shift 2 ;;
    *) echo "usage: $0 [--host FIXTURE[:SCENARIOS]]... [--scenario LIST] [--steady SECONDS]" \
            "[--results DIR] [--cores-per-node N] [--memory-mib M]" >&2; exit 2 ;;
  esac
done
[ ${#hosts[@]} -gt 0 ] || hosts=(epyc-nps2-2s:hotplug,baseline,wide,persist,locality,balance,steady
                                 epyc-nps4-2s:baseline,wide,busy)

scripts/deps.sh
scripts/build.sh
builddir=$(realpath "$builddir")

kernel=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || { echo "tests/rig/run.sh: no /boot/vmlinuz-*-amd64 (linux-image-amd64)" >&2; exit 1; }
kver=${kernel#/boot/vmlinuz-}

tmp=$(mktemp -d /tmp/vnuma-rig.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The initramfs: busybox-static, the modules the 9p + overlay root needs
# (in load order), and tests/rig/init.
modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p overlay"
mkdir -p "$tmp/initrd/bin" "$tmp/initrd/lib/modules" "$tmp/initrd/proc" "$tmp/initrd/sys" "$tmp/initrd/dev"
cp /bin/busybox "$tmp/initrd/bin/busybox"
for m in $modules; do
  ko=$(find "/lib/modules/$kver" -name "$m.ko" | head -n 1)
  [ -n "$ko" ] || { echo "tests/rig/run.sh: module $m.ko not found for $kver" >&2; exit 1; }
  cp "$ko" "$tmp/initrd/lib/modules/"
done
echo "$modules" >"$tmp/initrd/modules.list"
cp tests/rig/init "$tmp/initrd/init"
(cd "$tmp/initrd" && find . | cpio -o -H newc --quiet | gzip -1) >"$tmp/initrd.gz"

# The guests' images: every vCPU spinning, idle, or idle until an NMI.
mkdir -p "$tmp/images"
for kind in spin:-DSPIN idle:-DIDLE nmi:-DWAKE_ON_NMI; do
  gcc -m32 -nostdlib -static -Wl,-N -Wl,-Ttext=0x100000 -Wl,--build-id=none \
    -Wl,--no-warn-rwx-segments "${kind#*:}" -o "$tmp/images/${kind%%:*}.elf" tests/rig/guest.S
done

fixture_path() {
  case "$1" in
    */*) echo "$1" ;;
    *) echo "examples/hosts/$1.xml" ;;
  esac
}

start_vm() {  # start_vm NAME FIXTURE SCENARIOS: boots the outer VM in the background
  local name=$1 fixture=$2 scenarios=$3 out=$tmp/$1
  local -a topo
  mkdir -p "$out"
  # The VM's /tmp is its own: what it reads from here goes in its share.
  cp -r "$tmp/images" "$out/images"
  if [ -d "$tmp/cache/capabilities" ]; then
    mkdir -p "$out/cache-in" && cp -a "$tmp/cache/capabilities" "$out/cache-in/"
  fi
  mapfile -t topo < <(python3 tests/rig/topology.py "$fixture" \
    --cores-per-node "$cores_per_node" --memory-mib "$memory_mib")
  [ ${#topo[@]} -gt 0 ] || exit 1
  cat >"$out/rig.env" <<EOF
RIG_SRC=$src
RIG_BUILD=$builddir
RIG_HOST=$name
RIG_SCENARIOS=$scenarios
RIG_STEADY=$steady
RIG_IMAGES=/rig-out/images
RIG_CACHE=/rig-out/cache-in
EOF
  echo "rig: $name: booting $(basename "$fixture") as ${topo[*]:0:4}"
  qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu max,vendor=GenuineIntel \
    -nodefaults -display none -no-reboot -serial "file:$out/console.log" \
    -kernel "$kernel" -initrd "$tmp/initrd.gz" -append "console=ttyS0 rdinit=/init panic=-1 quiet" \
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap" \
    "${topo[@]}" >"$out/qemu.log" 2>&1 &
  pids+=($!)
  date +%s >"$out/started"
}

alive() { kill -0 "$1" 2>/dev/null; }

# Hosts run one after another, except that a VM in its steady-load phase
# (it writes $out/background) lets the next one start. Each VM gets
# steady + 40 min at most.
t0=$(date +%s)
names=()
for spec in "${hosts[@]}"; do
  fixture=$(fixture_path "${spec%%:*}")
  [ -f "$fixture" ] || { echo "tests/rig/run.sh: no fixture $fixture" >&2; exit 2; }
  name=$(basename "$fixture" .xml)
  scenarios=${scenario_all:-}
  [ "$spec" != "${spec#*:}" ] && scenarios=${spec#*:}
  start_vm "$name" "$fixture" "$scenarios"
  names+=("$name")
  pid=${pids[-1]}
  while alive "$pid" && [ ! -e "$tmp/$name/background" ]; do
    if [ -d "$tmp/$name/capabilities-cache" ] && [ ! -d "$tmp/cache/capabilities" ]; then
      mkdir -p "$tmp/cache" && cp -a "$tmp/$name/capabilities-cache" "$tmp/cache/capabilities"
    fi
    if [ $(( $(date +%s) - $(cat "$tmp/$name/started") )) -gt $((steady + 2400)) ]; then
      echo "rig: $name: VM timed out; stopping it" >&2
      kill "$pid"
    fi
    sleep 2
  done
done
for i in "${!names[@]}"; do
  while alive "${pids[$i]}"; do
    if [ $(( $(date +%s) - $(cat "$tmp/${names[$i]}/started") )) -gt $((steady + 2400)) ]; then
      echo "rig: ${names[$i]}: VM timed out; stopping it" >&2
      kill "${pids[$i]}"
    fi
    sleep 2
  done
done

# Results: copied out, figures printed, one closing line.
status=0
passed=0
failed=0
rm -rf "$results"
mkdir -p "$results"
for name in "${names[@]}"; do
  out=$tmp/$name
  mkdir -p "$results/$name"
  cp -r "$out"/*.json "$out"/*.jsonl "$out"/*.tsv "$out"/*.log "$out"/*.txt "$results/$name/" 2>/dev/null || true
  if [ -f "$out/summary.txt" ]; then
    sed "s/^/rig: $name: /" "$out/summary.txt"
  fi
  if [ "$(cat "$out/status" 2>/dev/null)" != 0 ]; then
    status=1
    echo "rig: $name: FAILED (status '$(cat "$out/status" 2>/dev/null)'); its failed checks:" >&2
    grep -h 'FAIL: ' "$out/inner.log" 2>/dev/null | sed 's/^/  /' >&2 || echo "  (none logged)" >&2
    echo "rig: $name: last lines of inner.log:" >&2
    tail -n 20 "$out/inner.log" 2>/dev/null | sed 's/^/  /' >&2 || tail -n 20 "$out/console.log" >&2
  fi
  read -r p f <"$out/counts" 2>/dev/null || { p=0; f=1; }
  if [ "$f" -ne 0 ] || [ "$(cat "$out/status" 2>/dev/null)" != 0 ]; then
    # The evidence stays: the agent's and libvirtd's logs and, per failed
    # check, each guest's maps + numa_maps (evidence-SCENARIO-GUEST.txt).
    echo "rig: $name: evidence in $(realpath "$results/$name"):" \
         "$(cd "$results/$name" && ls agent.log libvirtd.log evidence-*.txt 2>/dev/null | tr '\n' ' ')" >&2
  fi
  passed=$((passed + p))
  failed=$((failed + f))
done
echo "rig: results in $results; wall time $(( $(date +%s) - t0 )) s"
echo "rig: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
