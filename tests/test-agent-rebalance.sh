#!/usr/bin/env bash
# vnumad rebalancing from measured load on a real libvirtd, with real
# guests: busy TCG guests (a boot sector that spins) give real vCPU time
# and run-queue delay. This host has one NUMA node and two CPUs; a
# capabilities file (the agent's `capabilities` key) describes the same
# machine as two nodes, node 0 = CPU 0 with all the memory, node 1 =
# CPU 1 without memory (a CPU-only node, as some hosts really have), so
# every pin is real and memory never has to leave node 0.
#   1. host_cpuset=0: both busy guests are placed on node 0 (CPU 0)
#   2. SIGHUP with host_cpuset removed: the agent reloads, node 1 is
#      usable, the measured contention on node 0 makes it move one
#      client there (balance migration): pins read back from libvirt,
#      the move counted in the record and the report; memory follows
#      (page migration to node 1's memory node, 0: a real, empty walk)
#   3. a guest with one of two vCPUs online gets the second hot-added:
#      the agent pins it to its client's home node
#   4. a guest with two cells of its own, cell 1's vCPU offline: that
#      client (hot-plug headroom) is homed with cell 0's; hot-adding
#      its vCPU gives it the other node (pins and record read back)
#   tests/test-agent-rebalance.sh PATH/TO/vnumad
# Needs VNUMA_TEST_LIBVIRT_URI (scripts/test.sh sets it); exits 77 (skip)
# without it. Domains are named vnuma-test-rebal-PID-*; the agent is scoped.
set -uo pipefail
vnumad=$1
src=${VNUMA_SRCDIR:?run through meson}
uri=${VNUMA_TEST_LIBVIRT_URI:-}
if [ -z "$uri" ]; then
  echo "SKIP: needs the libvirtd of a scripts/test.sh run (VNUMA_TEST_LIBVIRT_URI)"
  exit 77
fi

tmp=$(mktemp -d)
chmod 755 "$tmp"   # QEMU (another user) reads the boot disk from here
prefix=vnuma-test-rebal-$$
made=()
agent_pid=
. "$(dirname "$0")/lib.sh"
deadline 180  # meson's timeout (tests/meson.build) leaves room for the cleanup

cleanup() {
  if [ -n "$agent_pid" ]; then kill "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; fi
  for name in "${made[@]}"; do virsh -c "$uri" destroy "$name" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT

on_check_failed() {
  tail -20 "$tmp/err" | sed 's/^/  vnumad: /' >&2
}

# A boot sector that spins forever (jmp $): a guest that uses its vCPU.
python3 -c '
import sys
b = bytearray(512); b[0:2] = b"\xeb\xfe"; b[510:512] = b"\x55\xaa"
b += bytes(1 << 20)   # SeaBIOS boots no disk of one sector
open(sys.argv[1], "wb").write(b)' "$tmp/spin.img"
chmod 644 "$tmp/spin.img"

create() {  # create NAME VCPUS [CURRENT]: a running transient busy guest
  local vcpu="<vcpu placement='static'>$2</vcpu>"
  [ -n "${3:-}" ] && vcpu="<vcpu placement='static' current='$3'>$2</vcpu>"
  cp "$tmp/spin.img" "$tmp/$1.img"
  made+=("$1")
  sed -e "s|<name>qemu-tcg-wide</name>|<name>$1</name>|" -e '/<uuid>/d' \
      -e "s|<vcpu placement='static'>10</vcpu>|$vcpu|" -e "s|524288|65536|g" \
      -e "s|</type>|</type>\n    <boot dev='hd'/>|" \
      -e "s|<model fallback='allow'>qemu64</model>|<model fallback='allow'>qemu64</model>${CELLS:-}|" \
      -e "s|<devices>|<devices>\n    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$tmp/$1.img'/><target dev='sda' bus='sata'/></disk>|" \
      "$src/examples/domains/qemu-tcg-wide.xml" >"$tmp/$1.xml"
  virsh -c "$uri" create "$tmp/$1.xml" >/dev/null
}

pins() {  # pins NAME: each vCPU's affinity, space-separated
  virsh -c "$uri" vcpupin "$1" | awk '$1 ~ /^[0-9]+$/ { print $2 }' | tr '\n' ' ' | sed 's/ $//'
}

last_report() {  # last_report EXPR: EXPR on the daemon's last report line as r
  python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print($1)" "$tmp/out"
}

virsh -c "$uri" capabilities >"$tmp/caps.xml"
python3 "$src/tests/split-caps.py" "$tmp/caps.xml" "$tmp/caps-split.xml" --cpu-only-node1
conf() {  # conf EXTRA: the agent's config
  printf '[vnuma]\ndefine_sizing=false\nrebalance_period=0.5\ncapabilities=%s\n%s' \
    "$tmp/caps-split.xml" "$1" >"$tmp/vnuma.conf"
}

# 1. Both busy guests on node 0.
step "1. Both busy guests on node 0"
p=$prefix-p
q=$prefix-q
h=$prefix-h
c=$prefix-c
check "create $p" create "$p" 1
check "create $q" create "$q" 1
conf 'host_cpuset=0\n'
"$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma.conf" --domain "$p" --domain "$q" --domain "$h" --domain "$c" \
  --report json >"$tmp/out" 2>"$tmp/err" &
agent_pid=$!
check "both placed on CPU 0" wait_for 20 bash -c "[ \"\$(virsh -c '$uri' vcpupin '$p' | awk '\$1==\"0\"{print \$2}')\" = 0 ] && [ \"\$(virsh -c '$uri' vcpupin '$q' | awk '\$1==\"0\"{print \$2}')\" = 0 ]"
sleep 3
check "no move while node 1 is not usable" bash -c "! grep -q '\"action\":\"move\"' '$tmp/out'"

# 2. Node 1 becomes usable: one client moves there, from measured load.
step "2. Node 1 becomes usable: one client moves there, from measured load"
conf ''
kill -HUP "$agent_pid"
check "reload logged" wait_for 10 grep -q "configuration reloaded" "$tmp/err"
check "a balance move" wait_for 40 grep -q '"action":"move","applied":true,"failed":false,"detail":"balance migration' "$tmp/out"
sleep 1
check "pins read back: one guest on CPU 1, one on CPU 0" \
  bash -c "[ \"\$(printf '%s\n' \"\$(virsh -c '$uri' vcpupin '$p' | awk '\$1==\"0\"{print \$2}')\" \"\$(virsh -c '$uri' vcpupin '$q' | awk '\$1==\"0\"{print \$2}')\" | sort | tr '\n' ' ')\" = '0 1 ' ]"
check "the move is in the record" bash -c "virsh -c '$uri' metadata '$p' urn:x-vnuma:agent:1 | grep -q 'balance=\"1\"' || virsh -c '$uri' metadata '$q' urn:x-vnuma:agent:1 | grep -q 'balance=\"1\"'"
check "memory followed (page migration, then nodeset narrowed)" \
  wait_for 20 grep -q "memory: memory followed the move" "$tmp/err"
check "report: one balance migration in all" \
  [ "$(last_report "sum(d['migrations']['balance'] for d in r['domains'])")" = 1 ]
check "report: memory per client measured" \
  [ "$(last_report "all(d['memory_source'] in ('cells', 'proportional') for d in r['domains'])")" = True ]
grep -o '"memory_source":"[a-z]*"' "$tmp/out" | tail -1

# 3. A vCPU hot-added later is pinned to its client's home node.
step "3. A vCPU hot-added later is pinned to its client's home node"
check "create $h (1 of 2 vCPUs online)" create "$h" 2 1
check "$h placed" wait_for 20 grep -q "$h: place:" "$tmp/err"
check "hot-add a vCPU" virsh -c "$uri" setvcpus "$h" 2 --live
check "agent pinned the hot-added vCPU" wait_for 20 grep -q "$h: vcpus: vCPUs 1-1 hot-added: pinned" "$tmp/err"
check "vCPU 1 pinned to its home's CPUs" \
  bash -c "[ -n \"\$(virsh -c '$uri' vcpupin '$h' | awk '\$1==\"1\"{print \$2}')\" ] && [ \"\$(virsh -c '$uri' vcpupin '$h' | awk '\$1==\"1\"{print \$2}')\" != 0-1 ]"

# 4. Hot-plug headroom: a guest whose own two cells hold one vCPU each,
# cell 1's offline. Its client is homed with the online one (node 0)
# while it has no vCPU online, and gets a node of its own (the other
# one) when its vCPU is hot-added (docs/agent.md).
step "4. Hot-plug headroom homed with the online client, given its own node on hot-add"
cells="<numa><cell id='0' cpus='0' memory='32768' unit='KiB'/><cell id='1' cpus='1' memory='32768' unit='KiB'/></numa>"
CELLS="$cells" check "create $c (2 cells of 1 vCPU, 1 online)" create "$c" 2 1
check "$c placed" wait_for 20 grep -q "$c: place:" "$tmp/err"
read -r before0 before1 <<<"$(pins "$c")"
check "headroom vCPU 1 pinned with vCPU 0 while offline ($before0 $before1)" \
  [ -n "$before1" -a "$before0" = "$before1" ]
check "hot-add vCPU 1" virsh -c "$uri" setvcpus "$c" 2 --live
check "agent gave the headroom client a node of its own" \
  wait_for 20 grep -q "$c: vcpus: vCPUs 1-1 hot-added: pinned to their clients' home nodes (1 client(s)" "$tmp/err"
read -r after0 after1 <<<"$(pins "$c")"
check "vCPU 0 stays on CPU $before0, vCPU 1 moved to the other CPU ($after0 $after1)" \
  [ "$after0" = "$before0" -a -n "$after1" -a "$after1" != "$before1" -a "$after1" != 0-1 ]
check "the record homes client 1 (vCPU 1) on node $after1 (node N = CPU N here)" \
  bash -c "virsh -c '$uri' metadata '$c' urn:x-vnuma:agent:1 | grep -q '<client vcpus=\"1\" node=\"$after1\"'"

kill -TERM "$agent_pid"; wait "$agent_pid"
check "daemon exits 0" [ "$?" -eq 0 ]
agent_pid=
check "no failed action" bash -c "! grep -q '\"failed\":true' '$tmp/out'"

finish test-agent-rebalance
