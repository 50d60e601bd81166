#!/usr/bin/env bash
# The man pages: `meson install` puts them (and the programs they
# describe) in place, groff finds nothing to warn about, man renders
# them, and they cover what the programs accept: every vnumactl command
# and long option, every key of examples/vnuma.conf.
#   tests/test-man.sh PATH/TO/vnumactl
set -uo pipefail
vnumactl=$1
src=${VNUMA_SRCDIR:?run through meson}
build=${VNUMA_BUILDDIR:?run through meson}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1
check "meson install --destdir" [ "$?" -eq 0 ]
prefix=$(meson introspect "$build" --buildoptions | python3 -c "
import json,sys; o={x['name']: x['value'] for x in json.load(sys.stdin)}; print(o['prefix'] + '/' + o['mandir'])")
man=$tmp/root$prefix
for page in man1/vnumactl.1 man8/vnumad.8 man8/vnuma-hook.8 man5/vnuma.conf.5; do
  check "installed: $page" [ -f "$man/$page" ]
  check "groff: no warnings in $page" bash -c "[ -z \"\$(groff -man -ww -z -t '$man/$page' 2>&1)\" ]"
  MANWIDTH=80 man -l "$man/$page" >"$tmp/page.txt" 2>"$tmp/man.err"
  check "man renders $page" bash -c "[ -s '$tmp/page.txt' ] && grep -q '^NAME' '$tmp/page.txt' && [ ! -s '$tmp/man.err' ]"
done
check "installed: vnumactl and the adapters" bash -c "find '$tmp/root' -name vnumactl -type f | grep -q . &&
  find '$tmp/root' -name vnuma-vdsm-hook | grep -q . && find '$tmp/root' -name vnuma-kubevirt-sidecar | grep -q ."
check "installed: the VDSM hook link" bash -c "find '$tmp/root' -path '*/vdsm/hooks/before_vm_start/50_vnuma' | grep -q ."

# Coverage: what the programs accept is documented.
page=$src/docs/man/vnumactl.1
for cmd in plan explain status advise; do
  check "vnumactl.1 documents '$cmd'" grep -q "^\.B vnumactl $cmd" "$page"
  for opt in $("$vnumactl" "$cmd" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    [ "$opt" = --help ] && continue
    check "vnumactl.1 documents $cmd $opt" grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$page"
  done
done
for key in $(sed -n 's/^#* *\([a-zA-Z_]*\)=.*/\1/p' "$src/examples/vnuma.conf" | sort -u); do
  check "vnuma.conf.5 documents $key" grep -qE "^\.B[IR]? $key( |$)" "$src/docs/man/vnuma.conf.5"
done

finish test-man
