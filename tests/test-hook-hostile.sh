#!/usr/bin/env bash
# Hostile input against the real binaries, for docs/SECURITY.md: XML the
# parser must refuse (deep, not UTF-8, duplicated or overlapping
# elements), a policy in a foreign namespace, a hook with no stdin, and
# the hook's log file (never through a symlink, never blocking on a
# FIFO, created 0640). The hook always exits 0 and prints nothing it
# should not; vnumactl refuses with an error naming what is wrong.
#   tests/test-hook-hostile.sh HOOK VNUMACTL
set -uo pipefail
hook=$1
vnumactl=$2
src=${VNUMA_SRCDIR:?run through meson}
caps=$src/examples/hosts/xeon-2s10c-ht.xml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

: >"$tmp/empty.conf"
export VNUMA_CONFIG=$tmp/empty.conf VNUMA_CAPS_FILE=$caps

# A domain vnuma placed on a 4-node host: on this 2-node host, migrate
# and restore re-home it (print XML), prepare advises.
"$vnumactl" plan --caps "$src/examples/hosts/xeon-4s4c-ht.xml" "$src/examples/domains/wide-12vcpu.xml" \
  >"$tmp/placed.xml" 2>/dev/null
check "fixture planned" grep -q "<numa>" "$tmp/placed.xml"

# variant NAME PYTHON-EXPR: $tmp/NAME.xml from the placed domain text s
# (bytes written as latin-1, so an expression can add non-UTF-8 bytes)
variant() {
  python3 - "$tmp/placed.xml" "$tmp/$1.xml" "$2" <<'PY'
import sys
src, dst, expr = sys.argv[1:]
s = open(src).read()
out = eval(expr)
open(dst, 'wb').write(out if isinstance(out, bytes) else out.encode('latin-1'))
PY
}

# refused NAME WORDS: each hook op exits 0 and prints nothing, stderr
# names WORDS; vnumactl plan fails, naming WORDS.
refused() {
  local name=$1 words=$2 op
  for op in migrate restore prepare; do
    "$hook" "$name" $op begin - <"$tmp/$name.xml" >"$tmp/out" 2>"$tmp/err"
    check "$name: hook $op exit 0" [ $? -eq 0 ]
    check "$name: hook $op prints nothing" [ ! -s "$tmp/out" ]
    check "$name: hook $op says '$words'" grep -q "$words" "$tmp/err"
  done
  "$vnumactl" plan --caps "$caps" "$tmp/$name.xml" >"$tmp/out" 2>"$tmp/err"
  check "$name: vnumactl plan fails" [ $? -ne 0 ]
  check "$name: vnumactl names '$words'" grep -q "$words" "$tmp/err"
}

variant deep "s.replace('</devices>', '</devices>\n  <description>' + '<a>' * 5000 + '</a>' * 5000 + '</description>', 1)"
refused deep "depth"
variant not-utf8 "s.replace('<name>wide-12vcpu</name>', '<name>caf\xe9</name>', 1)"
refused not-utf8 "not proper UTF-8"
variant utf16 "s.encode('utf-16')"
refused utf16 "not well-formed"
variant latin1-declared "\"<?xml version='1.0' encoding='ISO-8859-1'?>\n\" + s.replace('<name>wide-12vcpu</name>', '<name>caf\xe9</name>', 1)"
refused latin1-declared "not UTF-8"
variant dup-vcpu "s.replace('<vcpu', \"<vcpu placement='static'>64</vcpu>\n  <vcpu\", 1)"
refused dup-vcpu "2 <vcpu> elements"
variant dup-numatune "s.replace('</domain>', \"  <numatune><memory mode='strict' nodeset='1'/></numatune>\n</domain>\", 1)"
refused dup-numatune "2 <numatune> elements"
variant overlap-cells "s.replace(\"<cell id='2' cpus='8-11'\", \"<cell id='2' cpus='7-11'\", 1)"
refused overlap-cells "overlap"
variant cells-beyond-v "s.replace(\"<cell id='2' cpus='8-11'\", \"<cell id='2' cpus='8-13'\", 1)"
refused cells-beyond-v "beyond the 12 vCPUs"
check "fixture has the cells the variants change" grep -q "<cell id='2' cpus='8-11'" "$tmp/placed.xml"

# A policy in another namespace is someone else's: managed='no' there
# does not stop vnuma (the domain is re-homed as without it).
variant foreign-policy "s.replace('<metadata>', \"<metadata>\n    <vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:2' managed='no'/>\", 1)"
"$hook" foreign-policy migrate begin - <"$tmp/foreign-policy.xml" >"$tmp/out" 2>"$tmp/err"
check "foreign-namespace policy: ignored, domain re-homed" grep -q "<vcpupin vcpu='0' cpuset='0-9,20-29'/>" "$tmp/out"
variant own-policy "s.replace('<metadata>', \"<metadata>\n    <vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1' managed='no'/>\", 1)"
"$hook" own-policy migrate begin - <"$tmp/own-policy.xml" >"$tmp/out" 2>"$tmp/err"
check "vnuma-namespace policy managed='no': left alone" bash -c "[ ! -s '$tmp/out' ] && grep -q 'not managed' '$tmp/err'"

# No stdin at all (closed, not empty): exit 0, nothing, for every op.
for op in "migrate begin" "restore begin" "prepare begin" "reconnect begin" "made-up-op begin"; do
  # shellcheck disable=SC2086 # OP SUBOP
  "$hook" wide-12vcpu $op - <&- >"$tmp/out" 2>"$tmp/err"
  check "stdin closed, $op: exit 0" [ $? -eq 0 ]
  check "stdin closed, $op: prints nothing" [ ! -s "$tmp/out" ]
done

# --- log_file ----------------------------------------------------------
logconf() { printf '[vnuma]\nlog_file = %s\n' "$1" >"$tmp/log.conf"; }
run_logged() {  # the hook with log.conf, on the placed domain; $rc
  VNUMA_CONFIG=$tmp/log.conf timeout 20 "$hook" log-test migrate begin - <"$tmp/placed.xml" \
    >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

umask 022
logconf "$tmp/new.log"
run_logged
check "log: exit 0 (sanitizer builds: no leak either)" [ $rc -eq 0 ]
check "log: new file written" grep -q "log-test migrate begin" "$tmp/new.log"
check "log: new file is mode 0640" [ "$(stat -c %a "$tmp/new.log")" = 640 ]
umask 000
logconf "$tmp/new0.log"
run_logged
check "log: mode 0640 under umask 000" [ "$(stat -c %a "$tmp/new0.log")" = 640 ]
lines=$(wc -l <"$tmp/new0.log")
umask 022
run_logged
check "log: appended, not truncated" [ "$(grep -c "log-test migrate begin" "$tmp/new0.log")" -eq "$((2 * lines))" ]

echo "precious" >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/link.log"
logconf "$tmp/link.log"
run_logged
check "log symlink: hook exit 0 and re-homes all the same" bash -c "[ $rc -eq 0 ] && grep -q '^<domain' '$tmp/out'"
check "log symlink: target untouched" [ "$(cat "$tmp/victim")" = precious ]
check "log symlink: says why" grep -q "log_file $tmp/link.log not written" "$tmp/err"
ln -s "$tmp/nonexistent" "$tmp/dangling.log"
logconf "$tmp/dangling.log"
run_logged
check "log dangling symlink: target not created" [ ! -e "$tmp/nonexistent" ]
mkfifo "$tmp/fifo.log"
logconf "$tmp/fifo.log"
run_logged
check "log FIFO without reader: no hang, exit 0" [ $rc -eq 0 ]
mkdir "$tmp/dir.log"
logconf "$tmp/dir.log"
run_logged
check "log is a directory: exit 0, re-homed" bash -c "[ $rc -eq 0 ] && grep -q '^<domain' '$tmp/out'"

finish test-hook-hostile
