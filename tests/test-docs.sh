#!/usr/bin/env bash
# The man pages: `meson install` puts them (and the programs they
# describe) in place, groff finds nothing to warn about, man renders
# them, and they cover what the programs accept: every vnumactl command
# and long option, every key of examples/vnuma.conf. The examples: each
# override in examples/metadata/ set as its README says, through libvirt,
# takes effect without a warning; every key of examples/vnuma.conf, set,
# is read without one.
#   tests/test-docs.sh PATH/TO/vnumactl
set -uo pipefail
vnumactl=$1
src=${VNUMA_SRCDIR:?run through meson}
build=${VNUMA_BUILDDIR:?run through meson}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

# The repository stands alone: nothing points at a specification or notes
# outside it (the patterns are split so this file does not match itself),
# and every "docs/spec.md §N" names a section, every "§3 rule N" a rule.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$src" ls-files -z >"$tmp/files"
else  # an unpacked tarball: every file but build trees
  (cd "$src" && find . -path ./.git -prune -o -path './build*' -prune -o -type f -print0) >"$tmp/files"
fi
check "tracked files listed" [ -s "$tmp/files" ]
outside='\.\./shar''ed|SPEC\.md|SPEC[ ]§|referen''ce/0'
(cd "$src" && xargs -0 grep -InE "$outside" -- <"$tmp/files") >"$tmp/outside"
check "no file points outside the repository" [ ! -s "$tmp/outside" ]
cat "$tmp/outside"
check "every docs/spec.md §N and rule N exists" python3 - "$src" "$tmp/files" <<'PY'
import os, re, sys
src, names = sys.argv[1], open(sys.argv[2], "rb").read().split(b"\0")
spec = open(os.path.join(src, "docs/spec.md")).read()
sections = set(re.findall(r"^## (\d+)\. ", spec, re.M))
rules = spec.split("\n## 3. ", 1)[1].split("\n## ", 1)[0]
rules = set(re.findall(r"^(\d+)\. ", rules, re.M))
bad = []
for name in filter(None, names):
    try:
        text = open(os.path.join(src, name.decode()), encoding="utf-8").read()
    except (UnicodeDecodeError, IsADirectoryError):
        continue
    text = re.sub(r"\s+", " ", text)  # a reference may wrap
    for sec, rule in re.findall(r"docs/spec\.md §(\d+)(?: rule (\d+))?", text):
        if sec not in sections or (rule and (sec != "3" or rule not in rules)):
            bad.append((name.decode(), sec, rule))
assert len(sections) >= 8 and len(rules) >= 15, (sections, rules)
assert not bad, bad
PY

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
check "installed: the Nova driver in nova/virt/vnuma" bash -c "
  for f in __init__ driver libvnuma; do
    find '$tmp/root' -path \"*/nova/virt/vnuma/\$f.py\" | grep -q . || exit 1
  done"
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

# examples/metadata: set on a domain as the README says, then planned.
hosts=$src/examples/hosts
for f in "$src"/examples/metadata/*.xml; do
  name=$(basename "$f" .xml)
  element=$(sed -n 's/ xmlns:vnuma=[^ ]*//; s/vnuma://; /^<policy/p' "$f")
  virsh -c test:///default "metadata test --uri urn:x-vnuma:domain:1 --key vnuma --config --set \"$element\"; \
    dumpxml test --inactive" 2>"$tmp/err" | sed -n "/^<domain/,\$ s/<domain type='test'/<domain type='kvm'/; /^<domain/,\$ p" >"$tmp/$name.xml"
  check "metadata $name: set through libvirt" grep -q '<vnuma:policy xmlns:vnuma="urn:x-vnuma:domain:1"' "$tmp/$name.xml"
  # The element libvirt kept, planned on a 24-vCPU domain (every example fits it).
  python3 - "$tmp/$name.xml" "$src/examples/domains/hotadd-16of24.xml" >"$tmp/$name-24.xml" <<'PY'
import re, sys
policy = re.search(r"<vnuma:policy[^>]*/>", open(sys.argv[1]).read()).group(0)
print(open(sys.argv[2]).read().replace("</uuid>", "</uuid>\n  <metadata>" + policy + "</metadata>", 1))
PY
  "$vnumactl" plan --caps "$hosts/epyc-nps4-2s.xml" --format json "$tmp/$name-24.xml" >"$tmp/plan.json" 2>"$tmp/err"
  check "metadata $name: takes effect, no warning" python3 - "$f" "$tmp/plan.json" <<'PY'
import json, re, sys
attrs = dict(re.findall(r" (\w+)='([^']*)'", open(sys.argv[1]).read().split("<vnuma:policy", 1)[1]))
plan = json.load(open(sys.argv[2]))
assert attrs and not plan["warnings"], plan["warnings"]
for key, value in attrs.items():
    got = plan["policy"][key] if key != "managed" else plan["managed"]
    want = {"yes": True, "no": False}.get(value, int(value) if value.isdigit() else value)
    assert got == want, (key, got, want)
PY
done

# examples/vnuma.conf: every key set, read without a warning.
sed 's/^# \([a-zA-Z_]*=\)/\1/' "$src/examples/vnuma.conf" >"$tmp/all.conf"
check "vnuma.conf: every key uncommented" [ "$(grep -cE '^[a-zA-Z_]+=' "$tmp/all.conf")" -ge 15 ]
"$vnumactl" plan --caps "$hosts/xeon-2s10c-ht.xml" --config "$tmp/all.conf" --format json \
  "$src/examples/domains/narrow-8vcpu.xml" >"$tmp/plan.json" 2>"$tmp/err"
check "vnuma.conf: read without a warning" python3 -c "
import json,sys; p=json.load(open(sys.argv[1])); assert not p['warnings'], p['warnings']" "$tmp/plan.json"

finish test-docs
