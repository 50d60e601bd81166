#!/usr/bin/env bash
# examples/hooks/qemu, the single-file layout's chain: the original hook
# runs first, its XML feeds vnuma-hook, failures propagate.
#   tests/test-hook-chain.sh HOOK VNUMACTL
set -uo pipefail
hook=$1
vnumactl=$2
src=${VNUMA_SRCDIR:?run through meson}
chain=$src/examples/hooks/qemu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
export VNUMA_CHAIN_HOOK=$hook VNUMA_CHAIN_ORIG=$tmp/orig VNUMA_CONFIG=$tmp/none.conf
: >"$tmp/none.conf"

# A domain placed for a 4-node host, restored on a 2-node one.
"$vnumactl" plan --caps "$src/examples/hosts/xeon-4s4c-ht.xml" "$src/examples/domains/wide-12vcpu.xml" >"$tmp/dom.xml" 2>/dev/null
export VNUMA_CAPS_FILE=$src/examples/hosts/xeon-2s10c-ht.xml

# The original hook renames the domain on restore and logs every call.
cat >"$tmp/orig" <<'EOS'
#!/bin/sh
echo "$*" >>"$(dirname "$0")/orig.log"
[ "$2" = restore ] && exec sed "s/<name>wide-12vcpu</<name>renamed</"
cat >/dev/null
EOS
chmod +x "$tmp/orig"

"$chain" wide restore begin - <"$tmp/dom.xml" >"$tmp/out.xml" 2>/dev/null
check "restore exit 0" [ $? -eq 0 ]
check "original hook ran" grep -qx "wide restore begin -" "$tmp/orig.log"
check "original's change kept" grep -q "<name>renamed</name>" "$tmp/out.xml"
check "vnuma re-homed" grep -q "<vcpupin vcpu='0' cpuset='0-9,20-29'/>" "$tmp/out.xml"
check "output validates" virt-xml-validate "$tmp/out.xml" domain

"$chain" wide start begin - <"$tmp/dom.xml" >"$tmp/start.out" 2>/dev/null
check "start prints nothing" [ ! -s "$tmp/start.out" ]

# A failing original hook fails the chain, as libvirt's qemu.d does.
printf '#!/bin/sh\ncat >/dev/null\nexit 1\n' >"$tmp/orig"
"$chain" wide prepare begin - <"$tmp/dom.xml" >/dev/null 2>&1
check "failure propagates" [ $? -ne 0 ]

# Without an original hook, vnuma alone.
rm -f "$tmp/orig"
"$chain" wide restore begin - <"$tmp/dom.xml" >"$tmp/alone.xml" 2>/dev/null
check "vnuma alone" grep -q "<vcpupin vcpu='0' cpuset='0-9,20-29'/>" "$tmp/alone.xml"

finish
