#!/usr/bin/env bash
# The orchestrator adapters, run as their orchestrators run them:
# vnuma-vdsm-hook with $_hook_domxml naming a file it rewrites in place
# (exit 0 always: vnuma fails open), vnuma-kubevirt-sidecar with
# --vmi JSON --domain XML printing the domain to define. Each result
# must equal `vnumactl plan` for the same host (one engine, libvnuma.so)
# and validate against libvirt's schema.
#   tests/test-adapters.sh VDSM-HOOK KUBEVIRT-SIDECAR VNUMACTL
set -uo pipefail
vdsm=$1 sidecar=$2 vnumactl=$3
src=${VNUMA_SRCDIR:?run through meson}
domains=$src/examples/domains
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

export VNUMA_CAPS_FILE=$src/examples/hosts/xeon-2s10c-ht.xml
: >"$tmp/vnuma.conf"
export VNUMA_CONFIG=$tmp/vnuma.conf

planned() {  # planned DOMAIN.xml OUT: what vnumactl plan makes of it
  "$vnumactl" plan --caps "$VNUMA_CAPS_FILE" --config "$VNUMA_CONFIG" "$1" >"$2" 2>/dev/null
}

vdsm_run() {  # vdsm_run FILE: the hook on FILE; exit code in $rc, stderr in $tmp/err
  _hook_domxml=$1 "$vdsm" 2>"$tmp/err"
  rc=$?
}

# --- oVirt VDSM before_vm_start ---------------------------------------
cp "$domains/wide-12vcpu.xml" "$tmp/wide.xml"
planned "$domains/wide-12vcpu.xml" "$tmp/wide.planned"
vdsm_run "$tmp/wide.xml"
check "vdsm: exit 0" [ "$rc" -eq 0 ]
check "vdsm: file rewritten as vnumactl plans it" cmp -s "$tmp/wide.xml" "$tmp/wide.planned"
check "vdsm: result validates" virt-xml-validate "$tmp/wide.xml" domain
check "vdsm: cells written" grep -q "<cell id='1' cpus='6-11'" "$tmp/wide.xml"
check "vdsm: says what it did" grep -q '^vnuma-vdsm-hook: sized and placed' "$tmp/err"
cp "$tmp/wide.xml" "$tmp/wide.again"
vdsm_run "$tmp/wide.xml"
check "vdsm: second run changes nothing" cmp -s "$tmp/wide.xml" "$tmp/wide.again"

cp "$domains/nova-pinned.xml" "$tmp/pinned.xml"
vdsm_run "$tmp/pinned.xml"
check "vdsm: admin pins left alone, exit 0" [ "$rc" -eq 0 ]
check "vdsm: unmanaged file byte-identical" cmp -s "$tmp/pinned.xml" "$domains/nova-pinned.xml"
check "vdsm: says why" grep -q 'not managed' "$tmp/err"

cp "$domains/bad-overrides-12vcpu.xml" "$tmp/bad.xml"
vdsm_run "$tmp/bad.xml"
check "vdsm: bad override: exit 0" [ "$rc" -eq 0 ]
check "vdsm: bad override named" grep -q 'warning: .*preferHT' "$tmp/err"
check "vdsm: bad override still sized" virt-xml-validate "$tmp/bad.xml" domain

printf '<domain type="kvm"><name>x</name>' >"$tmp/broken.xml"
cp "$tmp/broken.xml" "$tmp/broken.orig"
vdsm_run "$tmp/broken.xml"
check "vdsm: broken XML: exit 0 (fail open)" [ "$rc" -eq 0 ]
check "vdsm: broken XML untouched" cmp -s "$tmp/broken.xml" "$tmp/broken.orig"
check "vdsm: broken XML named" grep -q 'left unchanged' "$tmp/err"

cp "$domains/wide-12vcpu.xml" "$tmp/nohost.xml"
VNUMA_CAPS_FILE=$tmp/missing-caps.xml vdsm_run "$tmp/nohost.xml"
check "vdsm: unreadable host: exit 0, untouched" \
  bash -c "[ $rc -eq 0 ] && cmp -s '$tmp/nohost.xml' '$domains/wide-12vcpu.xml' && grep -q missing-caps '$tmp/err'"
vdsm_run "$tmp/no-such-file.xml"
check "vdsm: missing file: exit 0" [ "$rc" -eq 0 ]
check "vdsm: missing file: nothing created" [ ! -e "$tmp/no-such-file.xml" ]
env -u _hook_domxml "$vdsm" 2>"$tmp/err"
check "vdsm: outside VDSM: exit 0, says so" bash -c "[ $? -eq 0 ] && grep -q 'not run by VDSM' '$tmp/err'"

# --- KubeVirt sidecar onDefineDomain ----------------------------------
vmi='{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachineInstance","metadata":{"name":"wide"}}'
"$sidecar" --vmi "$vmi" --domain "$(cat "$domains/wide-12vcpu.xml")" >"$tmp/kv.xml" 2>"$tmp/err"
check "kubevirt: exit 0" [ "$?" -eq 0 ]
# The shim passes the XML as an argument: a shell strips the trailing newline.
check "kubevirt: prints the domain as vnumactl plans it" \
  cmp -s <(printf '%s' "$(cat "$tmp/kv.xml")") <(printf '%s' "$(cat "$tmp/wide.planned")")
check "kubevirt: result validates" virt-xml-validate "$tmp/kv.xml" domain
"$sidecar" --version v1alpha2 --vmi="$vmi" --domain="$(cat "$domains/wide-12vcpu.xml")" >"$tmp/kv2.xml" 2>/dev/null
check "kubevirt: --flag=value and unknown flags" cmp -s "$tmp/kv.xml" "$tmp/kv2.xml"
"$sidecar" --vmi "$vmi" --domain "$(cat "$domains/nova-pinned.xml")" >"$tmp/kv-pinned.xml" 2>"$tmp/err"
check "kubevirt: unmanaged printed unchanged" \
  bash -c "[ $? -eq 0 ] && [ \"\$(cat '$tmp/kv-pinned.xml')\" = \"\$(cat '$domains/nova-pinned.xml')\" ]"
"$sidecar" --vmi "$vmi" --domain '<domain type="kvm"><name>x</name>' >"$tmp/kv-broken.xml" 2>"$tmp/err"
check "kubevirt: broken XML: exit 0, printed unchanged" \
  bash -c "[ $? -eq 0 ] && [ \"\$(cat '$tmp/kv-broken.xml')\" = '<domain type=\"kvm\"><name>x</name>' ]"
"$sidecar" --vmi "$vmi" >"$tmp/out" 2>"$tmp/err"
check "kubevirt: no --domain: usage error" bash -c "[ $? -eq 2 ] && grep -q usage '$tmp/err' && [ ! -s '$tmp/out' ]"

# --- issue 20: XML as oVirt and KubeVirt write it ---------------------
orch=$src/tests/data/orchestrators
cp "$orch/ovirt-shared-16vcpu.xml" "$tmp/ovirt-shared.xml"
vdsm_run "$tmp/ovirt-shared.xml"
check "vdsm: cpuPolicy none: exit 0, validates" \
  bash -c "[ $rc -eq 0 ] && virt-xml-validate '$tmp/ovirt-shared.xml' domain"
check "vdsm: cpuPolicy none: cells written" grep -q "<cell id='1' cpus='8-15'" "$tmp/ovirt-shared.xml"
check "vdsm: cpuPolicy none: no pins or memnodes for VDSM to contradict" \
  bash -c "! grep -Eq '<vcpupin|<emulatorpin|<numatune|<memnode' '$tmp/ovirt-shared.xml'"
cp "$orch/ovirt-dedicated-16vcpu.xml" "$tmp/ovirt-dedicated.xml"
vdsm_run "$tmp/ovirt-dedicated.xml"
check "vdsm: cpuPolicy dedicated: byte-identical, says why" \
  bash -c "[ $rc -eq 0 ] && cmp -s '$tmp/ovirt-dedicated.xml' '$orch/ovirt-dedicated-16vcpu.xml' &&
           grep -q \"not managed: oVirt cpuPolicy 'dedicated'\" '$tmp/err'"
cp "$orch/ovirt-pinned-fragment.xml" "$tmp/ovirt-fragment.xml"
vdsm_run "$tmp/ovirt-fragment.xml"
check "vdsm: pinned fragment without cell memory: not managed, not an error" \
  bash -c "[ $rc -eq 0 ] && cmp -s '$tmp/ovirt-fragment.xml' '$orch/ovirt-pinned-fragment.xml' &&
           grep -q 'not managed' '$tmp/err' && ! grep -q 'left unchanged' '$tmp/err'"
"$sidecar" --vmi "$vmi" --domain "$(cat "$orch/kubevirt-hotplug-16sockets.xml")" >"$tmp/kv-hotplug.xml" 2>"$tmp/err"
check "kubevirt: hot-plug sockets: exit 0, validates" \
  bash -c "[ $? -eq 0 ] && virt-xml-validate '$tmp/kv-hotplug.xml' domain"
check "kubevirt: hot-plug sockets kept (not merged)" \
  grep -q '<topology sockets="16" cores="1" threads="1"></topology>' "$tmp/kv-hotplug.xml"
check "kubevirt: cells written" grep -q "<cell id='1'" "$tmp/kv-hotplug.xml"
check "kubevirt: disabled sockets' memory on the online vCPUs' node" \
  bash -c "grep -q \"<memory mode='restrictive' nodeset='0'/>\" '$tmp/kv-hotplug.xml'"

# --- thin front ends: libvnuma.so, never libvirt ---------------------
for exe in "$vdsm" "$sidecar"; do
  check "$(basename "$exe") links libvnuma.so" bash -c "ldd '$exe' | grep -q 'libvnuma.so'"
  check "$(basename "$exe") does not link libvirt" bash -c "! ldd '$exe' | grep -q 'libvirt.so'"
done

finish test-adapters
