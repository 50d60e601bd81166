#!/usr/bin/env bash
# Runs vnumad ($VNUMA_TEST_VNUMAD) with only the capabilities of
# agent/vnumad.service's CapabilityBoundingSet and no_new_privs, as
# systemd would: test-agent-qemu.sh run through this wrapper shows that
# these capabilities suffice (pins, nodesets, /proc/PID/numa_maps of
# QEMU running as libvirt-qemu, metrics). VNUMA_TEST_UNIT names another
# copy of the unit (test-deb.sh: the one the package installed).
set -euo pipefail
unit=${VNUMA_TEST_UNIT:-${VNUMA_SRCDIR:?}/agent/vnumad.service}
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
exec setpriv --bounding-set="-all,$caps" --inh-caps=-all --no-new-privs -- "${VNUMA_TEST_VNUMAD:?}" "$@"
