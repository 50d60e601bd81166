#!/usr/bin/env bash
# agent/vnumad.service: systemd accepts it (systemd-analyze verify, with
# ExecStart pointed at the built vnumad), it keeps the hardening
# docs/SECURITY.md describes, and systemd's own exposure score stays low.
#   tests/test-vnumad-unit.sh PATH/TO/vnumad
set -uo pipefail
vnumad=$1
src=${VNUMA_SRCDIR:?run through meson}
unit_src=$src/agent/vnumad.service
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

check "systemd-analyze is installed" command -v systemd-analyze
unit=$tmp/vnumad.service
sed "s#^ExecStart=/usr/sbin/vnumad #ExecStart=$vnumad #" "$unit_src" >"$unit"
check "ExecStart is /usr/sbin/vnumad" grep -q "^ExecStart=$vnumad " "$unit"
systemd-analyze verify "$unit" >"$tmp/verify" 2>&1
check "systemd-analyze verify: exit 0" [ $? -eq 0 ]
check "systemd-analyze verify: no complaint" [ ! -s "$tmp/verify" ]
[ -s "$tmp/verify" ] && cat "$tmp/verify" >&2

for setting in "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
    "PrivateDevices=yes" "ProtectKernelTunables=yes" "ProtectKernelModules=yes" \
    "ProtectControlGroups=yes" "RestrictAddressFamilies=AF_UNIX" \
    "CapabilityBoundingSet=CAP_SYS_PTRACE CAP_SYS_NICE" "SystemCallFilter=@system-service" \
    "ReadWritePaths=-/var/lib/node_exporter/textfile_collector"; do
  check "unit has $setting" grep -qx "$setting" "$unit"
done

systemd-analyze security --offline=yes "$unit" >"$tmp/security" 2>&1
score=$(sed -n 's/.*Overall exposure level for vnumad.service: \([0-9.]*\).*/\1/p' "$tmp/security")
echo "systemd-analyze security: exposure ${score:-?} (0 = locked down, 10 = fully exposed)"
check "exposure score read" [ -n "$score" ]
check "exposure score <= 2.0" python3 -c "import sys; sys.exit(float('${score:-99}') > 2.0)"

finish test-vnumad-unit
