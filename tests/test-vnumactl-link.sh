#!/usr/bin/env bash
# How vnumactl is linked (issue 16): libvnuma.so is its one copy of lib/,
# xml/ and probe/; only virt/ (libvirt, not in libvnuma) is static. What
# it calls outside vnuma.h binds to the private node VNUMA_PRIVATE_1.0,
# which exports exactly that, and the public node VNUMA_1 stays what the
# installed headers declare.
#   tests/test-vnumactl-link.sh VNUMACTL LIBVNUMA.so VIRT.a ARCHIVE.a...
# ARCHIVE.a: the static libraries vnumactl must carry nothing of.
set -uo pipefail
vnumactl=$1 libvnuma=$2 virt=$3; shift 3
src=${VNUMA_SRCDIR:?run through meson}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

defined() {  # defined FILE...: the global symbols FILE defines, sorted
  nm --defined-only "$@" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[A-Z]$/ && $2 != "A" {print $3}' | sort -u
}
nm "$vnumactl" | awk '$2 == "T" && $3 ~ /^vnuma_/ {print $3}' | sort -u >"$tmp/static"
defined "$virt" >"$tmp/virt"
defined "$@" >"$tmp/internal"
# Imports by version node: "name@NODE".
nm -u "$vnumactl" | awk '$2 ~ /^vnuma_/ {print $2}' | sort -u >"$tmp/imports"
nm -D --defined-only "$libvnuma" | awk '$2 != "A" {print $3}' | sort -u >"$tmp/exports"

# Not vacuous: the archives were read and vnumactl does use the library.
check "the internal archives define symbols" test -s "$tmp/internal"
check "vnumactl imports from libvnuma" test -s "$tmp/imports"
check "vnumactl needs libvnuma.so.1" \
  bash -c "readelf -d '$vnumactl' | grep -q 'NEEDED.*\[libvnuma\.so\.1\]'"

# The rule itself: every static vnuma_ function is virt/'s (cli/ names its
# own vnumactl_*); none is a copy of what libvnuma.so holds.
comm -23 "$tmp/static" "$tmp/virt" >"$tmp/foreign"
defined "$vnumactl" | comm -12 - "$tmp/internal" >"$tmp/copies"
check "vnumactl's static vnuma_ functions are virt/'s alone" test ! -s "$tmp/foreign"
check "vnumactl carries no static copy of lib/, xml/, probe/, plugin/, agent/" test ! -s "$tmp/copies"
for f in foreign copies; do
  [ -s "$tmp/$f" ] && sed "s/^/  $f: /" "$tmp/$f" >&2
done

# Every import binds to one of the two nodes; the private node exports
# no more than vnumactl takes from it (it is not a second API).
grep -v -e '@VNUMA_1$' -e '@VNUMA_PRIVATE_1\.0$' "$tmp/imports" >"$tmp/unversioned"
check "vnumactl's vnuma_ imports are all versioned VNUMA_1 or VNUMA_PRIVATE_1.0" test ! -s "$tmp/unversioned"
sed -n 's/@VNUMA_PRIVATE_1\.0$//p' "$tmp/imports" >"$tmp/private-used"
sed -n 's/@@VNUMA_PRIVATE_1\.0$//p' "$tmp/exports" >"$tmp/private"
check "VNUMA_PRIVATE_1.0 exports exactly what vnumactl imports" cmp -s "$tmp/private" "$tmp/private-used"
if ! cmp -s "$tmp/private" "$tmp/private-used"; then
  diff "$tmp/private" "$tmp/private-used" | sed 's/^/  /' >&2
fi

# The public node: only what plugin/vnuma.h and lib/vnuma-error.h (the
# installed headers) declare.
sed -n 's/@@VNUMA_1$//p' "$tmp/exports" >"$tmp/public"
check "VNUMA_1 is not empty" test -s "$tmp/public"
undeclared=0
while read -r sym; do
  grep -qw "$sym" "$src/plugin/vnuma.h" "$src/lib/vnuma-error.h" || { echo "  undeclared: $sym" >&2; undeclared=1; }
done <"$tmp/public"
check "every VNUMA_1 symbol is declared by an installed header" test "$undeclared" -eq 0
finish test-vnumactl-link
