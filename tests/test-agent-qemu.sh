#!/usr/bin/env bash
# vnumad against a real system libvirtd with diskless TCG guests (no
# /dev/kvm needed): pins really applied and read back, the nodeset made
# restrictive, restart resumes from metadata, a destroyed domain is no
# failure, sizing on define, the daemon placing on the STARTED event.
#   tests/test-agent-qemu.sh PATH/TO/vnumad
# Needs VNUMA_TEST_LIBVIRT_URI (scripts/test.sh sets it); exits 77 (skip)
# without it. Every domain it makes is named vnuma-test-agent-PID-* and
# destroyed/undefined on exit; the agent is scoped to them (--domain), so
# other domains on the host are never touched.
set -uo pipefail
vnumad=$1
src=${VNUMA_SRCDIR:?run through meson}
uri=${VNUMA_TEST_LIBVIRT_URI:-}
if [ -z "$uri" ]; then
  echo "SKIP: no libvirtd to test against: run through scripts/test.sh, or start one with" \
       "'tests/libvirtd.sh start STATEDIR' and export VNUMA_TEST_LIBVIRT_URI=qemu:///system"
  exit 77
fi

tmp=$(mktemp -d)
prefix=vnuma-test-agent-$$
made=()
daemon=
. "$(dirname "$0")/lib.sh"
deadline 240  # meson's timeout (tests/meson.build) leaves room for the cleanup

cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null
  for name in "${made[@]}"; do
    virsh -c "$uri" destroy "$name" >/dev/null 2>&1
    virsh -c "$uri" undefine "$name" >/dev/null 2>&1
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

on_check_failed() {
  [ -f "$tmp/err" ] && sed 's/^/  vnumad: /' "$tmp/err" >&2
}

guest_xml() {  # guest_xml NAME: the example TCG guest (10 vCPUs, 512 MiB), renamed, no UUID
  sed -e "s|<name>qemu-tcg-wide</name>|<name>$1</name>|" -e '/<uuid>/d' \
    "$src/examples/domains/qemu-tcg-wide.xml" >"$tmp/$1.xml"
  echo "$tmp/$1.xml"
}

create() {  # create NAME: a running transient guest
  made+=("$1")
  virsh -c "$uri" create "$(guest_xml "$1")" >/dev/null
}

agent() {  # agent NAME ARGS...: one pass scoped to NAME; report in $tmp/out
  local name=$1; shift
  "$vnumad" --connect "$uri" --config "$tmp/vnuma.conf" --domain "$name" --once --report json "$@" \
    >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

report() {  # report EXPR: EXPR on the last JSON line as r
  python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print($1)" "$tmp/out"
}

actions() {  # the action kinds of the last report, space-separated
  report "' '.join(a['action'] for a in r['actions'])"
}

# Every vCPU's affinity as "CPU list" per line, from libvirt.
vcpu_affinity() {
  virsh -c "$uri" vcpupin "$1" | awk '$1 ~ /^[0-9]+$/ { print $2 }' | sort -u | tr '\n' ' '
}

# This host has one NUMA node and two CPUs: host_cpuset=1 makes the
# placement visible (every vCPU pinned to CPU 1, not the default 0-1).
printf '[vnuma]\nhost_cpuset=1\ndefine_sizing=false\n' >"$tmp/vnuma.conf"

# 1. Initial placement of a running domain, read back from libvirt.
step "1. Initial placement of a running domain, read back from libvirt"
a=$prefix-a
check "create $a" create "$a"
agent "$a"
check "once exits 0" [ "$rc" -eq 0 ]
check "placed" [ "$(actions)" = "place" ]
check "vCPUs pinned to CPU 1" [ "$(vcpu_affinity "$a")" = "1 " ]
check "emulator pinned to CPU 1" bash -c "virsh -c '$uri' emulatorpin '$a' | grep -qE '^ *\*: *1$'"
check "nodeset restrictive" bash -c "virsh -c '$uri' numatune '$a' | grep -qE '^numa_mode *: restrictive'"
check "live XML pins" bash -c "virsh -c '$uri' dumpxml '$a' | grep -q \"<vcpupin vcpu='9' cpuset='1'/>\""
check "record in metadata" bash -c "virsh -c '$uri' metadata '$a' urn:x-vnuma:agent:1 | grep -q '<client vcpus='"

# 2. A restarted agent resumes from the metadata and changes nothing.
step "2. A restarted agent resumes from the metadata and changes nothing"
before=$(virsh -c "$uri" dumpxml "$a")
agent "$a"
check "restart exits 0" [ "$rc" -eq 0 ]
check "resumed" [ "$(actions)" = "resume" ]
check "live XML unchanged" [ "$before" = "$(virsh -c "$uri" dumpxml "$a")" ]
check "vCPU time measured" [ "$(report "sum(c['demand'] >= 0 for d in r['domains'] for c in d['clients'])")" -gt 0 ]
check "locality from numa_maps" [ "$(report "[d['locality'] is not None for d in r['domains']]")" = "[True]" ]

# 3. Destroyed before a pass, and destroyed while one runs: exit 0.
step "3. Destroyed before a pass, and destroyed while one runs: exit 0"
virsh -c "$uri" destroy "$a" >/dev/null
agent "$a"
check "destroyed: exits 0" [ "$rc" -eq 0 ]
check "destroyed: forgotten" [ "$(report "len(r['domains'])")" = "0" ]
for i in 1 2 3; do
  b=$prefix-b$i
  create "$b"
  "$vnumad" --connect "$uri" --config "$tmp/vnuma.conf" --domain "$b" --once >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  virsh -c "$uri" destroy "$b" >/dev/null 2>&1
  wait "$pid"
  check "destroyed mid-pass ($i): exits 0" [ "$?" -eq 0 ]
done

# 4. Sizing on define: the persistent definition gets vnuma's layout,
#    once; the second run finds it sized.
step "4. Sizing on define: the persistent definition gets vnuma's layout"
printf '[vnuma]\nhost_cpuset=1\n' >"$tmp/vnuma.conf"
c=$prefix-c
made+=("$c")
virsh -c "$uri" define "$(guest_xml "$c")" >/dev/null
agent "$c"
check "define exits 0" [ "$rc" -eq 0 ]
check "defined" [ "$(actions)" = "define" ]
check "definition sized" bash -c "virsh -c '$uri' dumpxml --inactive '$c' | grep -q '<vnuma:layout'"
agent "$c"
check "second define: nothing" [ "$(actions)" = "define-skip" ]

# 5. The daemon: places a domain on its STARTED event, survives its
#    destruction, writes metrics, stops cleanly on SIGTERM.
step "5. The daemon: placement on STARTED, destruction, metrics, SIGTERM"
printf '[vnuma]\nhost_cpuset=1\nrebalance_period=0.5\nmetrics_path=%s/vnuma.prom\n' "$tmp" >"$tmp/vnuma.conf"
d=$prefix-d
"$vnumad" --connect "$uri" --config "$tmp/vnuma.conf" --domain "$d" --report json \
  >"$tmp/daemon.out" 2>"$tmp/daemon.err" &
daemon=$!
sleep 1
create "$d"
for _ in $(seq 1 50); do
  [ "$(vcpu_affinity "$d")" = "1 " ] && break
  sleep 0.1
done
check "daemon placed on start" [ "$(vcpu_affinity "$d")" = "1 " ]
sleep 1
check "metrics written" grep -q "^vnuma_client_home_node{domain=\"$d\"" "$tmp/vnuma.prom"
virsh -c "$uri" destroy "$d" >/dev/null
sleep 1
check "daemon alive after destroy" kill -0 "$daemon"
kill -TERM "$daemon"
wait "$daemon"
check "daemon exits 0 on SIGTERM" [ "$?" -eq 0 ]
daemon=
check "daemon reported passes" [ "$(wc -l <"$tmp/daemon.out")" -ge 3 ]
check "daemon: no failed action" bash -c "! grep -q '\"failed\":true' '$tmp/daemon.out'"

finish test-agent-qemu
