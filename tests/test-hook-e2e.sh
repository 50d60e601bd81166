#!/usr/bin/env bash
# vnuma-hook inside a real system libvirtd, with real (TCG) guests: the
# hook installed in qemu.d by `tests/libvirtd.sh start STATEDIR HOOK`
# sees each start (prepare begin), re-homes a saved domain on `virsh
# restore`, and never stops a domain from starting because of a broken
# config or garbage metadata.
#   tests/test-hook-e2e.sh HOOK VNUMACTL
# Needs VNUMA_TEST_LIBVIRT_URI and VNUMA_TEST_HOOK_STATE (= STATEDIR);
# exits 77 (skip) without them. Rewrites STATEDIR/vnuma.conf between
# steps (the hook reads it at every call) and puts it back at the end.
set -uo pipefail
hook=$1
vnumactl=$2
src=${VNUMA_SRCDIR:?run through meson}
uri=${VNUMA_TEST_LIBVIRT_URI:-}
state=${VNUMA_TEST_HOOK_STATE:-}
if [ -z "$uri" ] || [ -z "$state" ]; then
  echo "SKIP: no libvirtd with the vnuma hook: run through scripts/test.sh, or start one with" \
       "'tests/libvirtd.sh start STATEDIR BUILDDIR/hooks/vnuma-hook' and export" \
       "VNUMA_TEST_LIBVIRT_URI=qemu:///system VNUMA_TEST_HOOK_STATE=STATEDIR"
  exit 77
fi

wrapper=/etc/libvirt/hooks/qemu.d/vnuma
conf=$state/vnuma.conf
tmp=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
deadline 240  # meson's timeout (tests/meson.build) leaves room for the cleanup
domains_made=()


v() { timeout 60 virsh -q -c "$uri" "$@"; }

cleanup() {
  local name
  for name in "${domains_made[@]}"; do
    v destroy "$name" >/dev/null 2>&1
    v undefine "$name" >/dev/null 2>&1
    rm -f "$state/$name.save"
  done
  [ -f "$tmp/orig.conf" ] && cp "$tmp/orig.conf" "$conf"
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the set-up this test relies on -------------------------------------
step "the set-up this test relies on"
fatal() { echo "test-hook-e2e: $*" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
[ -x "$wrapper" ] || fatal "$wrapper missing: start libvirtd with tests/libvirtd.sh start STATEDIR HOOK"
grep -qF "$conf" "$wrapper" || fatal "$wrapper does not use $conf (another state dir?)"
[ -f "$conf" ] || fatal "$conf missing"
v version >/dev/null 2>&1 || fatal "no libvirtd answers on $uri"
check "the installed wrapper runs this build's hook" grep -qF "$(realpath "$hook")" "$wrapper"
cp "$conf" "$tmp/orig.conf"
log=$(sed -n 's/^[[:space:]]*log_file[[:space:]]*=[[:space:]]*//p' "$tmp/orig.conf" | tail -n 1)
log=${log:-$state/hook.log}

# Two online host CPUs to move a guest between (0 and 1 on a 2-CPU box).
read -r cpu_a cpu_b < <(python3 -c '
import sys
cpus = []
for part in open("/sys/devices/system/cpu/online").read().strip().split(","):
    lo, _, hi = part.partition("-")
    cpus += range(int(lo), int(hi or lo) + 1)
print(*cpus[:2])')
[ -n "${cpu_b:-}" ] || fatal "needs two online CPUs"

setconf() {  # setconf LINE...: the hook's config, with the log kept
  { echo "[vnuma]"; echo "log_file=$log"; printf '%s\n' "$@"; } >"$conf"
}

mark() { log_mark=$( [ -f "$log" ] && wc -l <"$log" || echo 0); }
new_log() { tail -n +$((log_mark + 1)) "$log" 2>/dev/null; }
logged() { new_log | grep -q -- "$1"; }  # logged PATTERN: since the last mark

# newdomain NAME SRC OUT: SRC renamed NAME, libvirt picks the UUID
newdomain() {
  sed -e "s|<name>[^<]*</name>|<name>$1</name>|" -e '/<uuid>/d' "$2" >"$3"
  domains_made+=("$1")
}

running() { [ "$(v domstate "$1" 2>/dev/null)" = running ]; }

# pins_all DOMAIN CPU: live XML, `virsh vcpupin` and the threads' real
# affinity all say every vCPU is on CPU (and only CPU)
live_pins_all() {
  local pins
  v dumpxml "$1" >"$tmp/live.xml" || return 1
  pins=$(grep -c "<vcpupin vcpu='[0-9]*' cpuset='$2'/>" "$tmp/live.xml")
  [ "$pins" -eq 10 ] && [ "$(grep -c "<vcpupin " "$tmp/live.xml")" -eq 10 ]
}
vcpupin_all() {
  v vcpupin "$1" >"$tmp/vcpupin.txt" || return 1
  [ "$(awk 'NF == 2 && $1 ~ /^[0-9]+$/' "$tmp/vcpupin.txt" | wc -l)" -eq 10 ] &&
    awk -v cpu="$2" 'NF == 2 && $1 ~ /^[0-9]+$/ && $2 != cpu { bad = 1 } END { exit bad }' "$tmp/vcpupin.txt"
}
affinity_all() {  # the vCPU threads' affinity masks (virsh vcpuinfo): only CPU
  v vcpuinfo "$1" >"$tmp/vcpuinfo.txt" || return 1
  awk -v cpu="$2" '/^CPU Affinity:/ { n++; m = $3; if (substr(m, cpu + 1, 1) != "y" || gsub(/y/, "", m) != 1) bad = 1 }
    END { exit bad || n != 10 }' "$tmp/vcpuinfo.txt"
}
guest_abi() {  # the guest-visible part of a domain XML: <vcpu>, <topology>, <numa>
  sed -n -e '/<vcpu /p' -e '/<topology /p' -e '/<numa>/,/<\/numa>/p' "$1"
}

# --- a wide TCG guest placed by vnuma on CPU A -----------------------------
step "a wide TCG guest placed by vnuma on CPU A"
wide=vnuma-test-e2e-$$-wide
newdomain "$wide" "$src/examples/domains/qemu-tcg-wide.xml" "$tmp/wide-src.xml"
setconf "host_cpuset=$cpu_a"
"$vnumactl" plan --config "$conf" "$tmp/wide-src.xml" >"$tmp/wide.xml" 2>"$tmp/plan.err"
check "vnumactl planned the guest on CPU $cpu_a (sysfs host)" \
  [ "$(grep -c "<vcpupin vcpu='[0-9]*' cpuset='$cpu_a'/>" "$tmp/wide.xml")" -eq 10 ]
v define "$tmp/wide.xml" >/dev/null
check "define the planned guest" [ $? -eq 0 ]
mark
v start "$wide" >/dev/null
check "start the planned guest" [ $? -eq 0 ]
check "guest running" running "$wide"
check "hook log: prepare begin with the domain name" logged "$wide prepare begin"
check "hook log: the planned guest is sized for this host" logged "$wide prepare begin: sized and placed for this host"
check "live XML: vcpupins on CPU $cpu_a" live_pins_all "$wide" "$cpu_a"
check "virsh vcpupin: CPU $cpu_a" vcpupin_all "$wide" "$cpu_a"
check "vCPU threads' affinity: CPU $cpu_a" affinity_all "$wide" "$cpu_a"
cp "$tmp/live.xml" "$tmp/live-before.xml"

# --- save, move the host CPU set, restore: the hook re-homes ---------------
step "save, move the host CPU set, restore: the hook re-homes"
save=$state/$wide.save
v save "$wide" "$save" >/dev/null
check "virsh save" [ $? -eq 0 ]
check "saved guest is shut off" [ "$(v domstate "$wide")" = "shut off" ]
setconf "host_cpuset=$cpu_b"
mark
v restore "$save" >/dev/null
check "virsh restore" [ $? -eq 0 ]
check "restored guest running" running "$wide"
check "hook log: restore begin re-homed" logged "$wide restore begin: re-homed"
check "live XML after restore: vcpupins on CPU $cpu_b" live_pins_all "$wide" "$cpu_b"
check "live XML after restore: emulatorpin on CPU $cpu_b" grep -q "<emulatorpin cpuset='$cpu_b'/>" "$tmp/live.xml"
check "virsh vcpupin after restore: CPU $cpu_b" vcpupin_all "$wide" "$cpu_b"
check "vCPU threads' affinity after restore: CPU $cpu_b" affinity_all "$wide" "$cpu_b"
check "restore kept the guest's vcpu, topology and cells" \
  cmp -s <(guest_abi "$tmp/live-before.xml") <(guest_abi "$tmp/live.xml")
# host_cpuset leaves one CPU-bearing node: one client and no guest cells
# (nothing to align to), before the save and after the restore.
check "one CPU-bearing node: the restored guest has no vNUMA cells" \
  bash -c "! grep -q '<cell ' '$tmp/live-before.xml' && ! grep -q '<cell ' '$tmp/live.xml'"
rm -f "$save"

# Saved and restored again with nothing changed: the hook prints nothing.
v save "$wide" "$save" >/dev/null
mark
v restore "$save" >/dev/null
check "second restore" [ $? -eq 0 ]
check "hook log: second restore, nothing to change" logged "$wide restore begin: placement already fits"
check "live XML after second restore: still CPU $cpu_b" live_pins_all "$wide" "$cpu_b"
rm -f "$save"
v destroy "$wide" >/dev/null

# --- enforce: vnuma's own plan starts, an unsized domain is refused --------
step "enforce: vnuma's own plan starts, an unsized domain is refused"
setconf "host_cpuset=$cpu_a" "enforce=true"
mark
v start "$wide" >/dev/null 2>"$tmp/start.err"
check "enforce: the planned guest starts" [ $? -eq 0 ]
check "enforce: hook log says it is sized here" logged "$wide prepare begin: sized and placed for this host"
# Saved and restored on the same host, nothing changed: still allowed.
v save "$wide" "$save" >/dev/null
v restore "$save" >/dev/null
check "enforce: save + restore of the placed guest is allowed" [ $? -eq 0 ]
check "enforce: restored guest running" running "$wide"
rm -f "$save"
v destroy "$wide" >/dev/null 2>&1
raw=vnuma-test-e2e-$$-raw
newdomain "$raw" "$src/examples/domains/qemu-tcg-wide.xml" "$tmp/raw.xml"
v define "$tmp/raw.xml" >/dev/null
mark
v start "$raw" >/dev/null 2>"$tmp/start.err"
check "enforce: an unsized guest is refused" [ $? -ne 0 ]
check "enforce: virsh shows the hook's reason" grep -q "enforce" "$tmp/start.err"
check "enforce: guest not running" bash -c "! [ \"\$(timeout 60 virsh -q -c '$uri' domstate '$raw')\" = running ]"

# --- fail open: a broken config ------------------------------------------------
step "fail open: a broken config"
printf '\x00garbage [[[ this is not a key file\n=\n' >"$conf"
v start "$raw" >/dev/null
check "broken config: the guest starts" [ $? -eq 0 ]
check "broken config: running" running "$raw"
v destroy "$raw" >/dev/null 2>&1
v start "$wide" >/dev/null
check "broken config: the planned guest starts" [ $? -eq 0 ]
v destroy "$wide" >/dev/null 2>&1

# --- fail open: garbage vnuma:policy metadata ------------------------------------
step "fail open: garbage vnuma:policy metadata"
setconf "host_cpuset=$cpu_a"
junk=vnuma-test-e2e-$$-junk
newdomain "$junk" "$src/examples/domains/qemu-tcg-wide.xml" "$tmp/junk-src.xml"
sed "s|^  <memory |  <metadata>\n    <vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1' managed='perhaps' preferHT='maybe' maxPerMachineNode='-1' coresPerSocket='seven' vcpuMin='x' autosize='sometimes' topology='sideways'>junk<vnuma:policy/></vnuma:policy>\n  </metadata>\n  <memory |" \
  "$tmp/junk-src.xml" >"$tmp/junk.xml"
v define "$tmp/junk.xml" >/dev/null
check "garbage policy: defined" [ $? -eq 0 ]
mark
v start "$junk" >/dev/null
check "garbage policy: the guest starts" [ $? -eq 0 ]
check "garbage policy: running" running "$junk"
check "garbage policy: hook saw it" logged "$junk prepare begin"
check "garbage policy: the warning names the attribute" logged "$junk prepare begin: .*preferHT"
v destroy "$junk" >/dev/null 2>&1
setconf "host_cpuset=$cpu_a" "enforce=true"
# vnuma's plan of it, with the same garbage: starts under enforce too
v dumpxml --inactive "$junk" >"$tmp/junk-defined.xml"
"$vnumactl" plan --config "$conf" "$tmp/junk-defined.xml" >"$tmp/junk-planned.xml" 2>/dev/null
v define "$tmp/junk-planned.xml" >/dev/null
v start "$junk" >/dev/null
check "garbage policy, planned, enforce: the guest starts" [ $? -eq 0 ]

v destroy "$junk" >/dev/null 2>&1

# --- an admin's <vnuma:policy> and vnuma's record, through libvirt -----------
# libvirt keeps what vnuma writes into <metadata>: the policy and the
# <vnuma:layout> record both survive define, and the hook still knows
# the pins for vnuma's own (sized and placed, not "not managed").
step "an admin's <vnuma:policy> and vnuma's record, through libvirt"
setconf "host_cpuset=$cpu_a"
pol=vnuma-test-e2e-$$-policy
newdomain "$pol" "$src/examples/domains/qemu-tcg-wide.xml" "$tmp/pol-src.xml"
sed "s|^  <memory |  <metadata>\n    <vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1' preferHT='no'/>\n  </metadata>\n  <memory |" \
  "$tmp/pol-src.xml" >"$tmp/pol-unplanned.xml"
"$vnumactl" plan --config "$conf" "$tmp/pol-unplanned.xml" >"$tmp/pol.xml" 2>/dev/null
check "policy: vnumactl wrote policy and record" bash -c \
  "grep -q '<vnuma:policy' '$tmp/pol.xml' && grep -q '<vnuma:layout' '$tmp/pol.xml'"
v define "$tmp/pol.xml" >/dev/null
v dumpxml --inactive "$pol" >"$tmp/pol-defined.xml"
check "policy: libvirt kept the admin's vnuma:policy" grep -q "<vnuma:policy" "$tmp/pol-defined.xml"
check "policy: libvirt kept vnuma's vnuma:layout record" grep -q "<vnuma:layout" "$tmp/pol-defined.xml"
mark
v start "$pol" >/dev/null
check "policy: the guest starts" [ $? -eq 0 ]
check "policy: hook log says sized and placed" logged "$pol prepare begin: sized and placed for this host"

finish
