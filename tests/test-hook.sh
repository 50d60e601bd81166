#!/usr/bin/env bash
# vnuma-hook run the way libvirtd runs it (`HOOK DOMAIN OP SUBOP EXTRA`,
# domain XML on stdin), without libvirt: re-homing on migrate/restore,
# advice and enforce on prepare, every other operation a no-op, fail open.
#   tests/test-hook.sh HOOK VNUMACTL
set -uo pipefail
hook=$1
vnumactl=$2
src=${VNUMA_SRCDIR:?run through meson}
hosts=$src/examples/hosts
domains=$src/examples/domains
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"


# Never the host's own /etc/vnuma/vnuma.conf or sysfs.
: >"$tmp/empty.conf"
export VNUMA_CONFIG=$tmp/empty.conf
export VNUMA_CAPS_FILE=$hosts/xeon-2s10c-ht.xml

# hook DOMAIN OP SUBOP < XML: leaves stdout, stderr, exit code in $tmp/{out,err}, $rc
hook() {
  "$hook" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

quiet() {  # exit 0 and nothing on stdout
  [ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ]
}

# The XML checks, in one place.
cat >"$tmp/xmlcheck.py" <<'EOF'
import re, sys
import xml.etree.ElementTree as ET

VNUMA = '{urn:x-vnuma:layout:1}'  # vnuma's record (the policy is in urn:x-vnuma:domain:1)

def cpulist(text):
    cpus = set()
    for part in text.split(','):
        part = part.strip()
        neg = part.startswith('^')
        part = part.lstrip('^')
        lo, _, hi = part.partition('-')
        span = set(range(int(lo), int(hi or lo) + 1))
        cpus = cpus - span if neg else cpus | span
    return cpus

def raw(pattern, text):
    m = re.search(pattern, text, re.S)
    return m.group(0) if m else None

def guest_abi(text):
    """The bytes the guest sees: <vcpu>, and <cpu>'s <topology> and <numa>."""
    cpu = raw(r'<cpu[\s>].*?</cpu>|<cpu\b[^>]*/>', text) or ''
    return (raw(r'<vcpu\b.*?</vcpu>', text),
            raw(r'<topology\b[^>]*/>', cpu),
            raw(r'<numa>.*?</numa>', cpu))

def host_nodes(caps):
    """node id -> online CPU ids (offline CPUs are bare <cpu id='N'/>)."""
    nodes = {}
    for cell in ET.parse(caps).getroot().iter('cell'):
        nodes[int(cell.get('id'))] = {int(c.get('id')) for c in cell.iter('cpu')
                                      if c.get('socket_id') is not None}
    return nodes

def fail(msg):
    print('xmlcheck: ' + msg, file=sys.stderr)
    sys.exit(1)

def same_abi(before, after):
    a, b = open(before).read(), open(after).read()
    for what, x, y in zip(('<vcpu>', '<topology>', '<numa>'), guest_abi(a), guest_abi(b)):
        if x != y:
            fail('%s changed: %r -> %r' % (what, x, y))

def rehomed(caps, out):
    """Each client's vCPUs pinned inside one node of this host; nodesets on its nodes."""
    nodes = host_nodes(caps)
    dom = ET.parse(out).getroot()
    vcpus = int(dom.findtext('vcpu'))
    pins = {int(p.get('vcpu')): cpulist(p.get('cpuset')) for p in dom.iter('vcpupin')}
    if sorted(pins) != list(range(vcpus)):
        fail('vcpupins for %s, expected 0-%d' % (sorted(pins), vcpus - 1))
    layout = dom.find('metadata/' + VNUMA + 'layout')
    if layout is None:
        fail('no vnuma:layout record')
    homes = set()
    covered = set()
    for client in layout.iter(VNUMA + 'client'):
        ids = cpulist(client.get('vcpus'))
        covered |= ids
        used = set().union(*(pins[v] for v in ids))
        inside = [n for n, cpus in nodes.items() if cpus and used <= cpus]
        if len(inside) != 1:
            fail('client vCPUs %s pinned to %s: not inside one node' % (sorted(ids), sorted(used)))
        if client.get('node') != str(inside[0]):
            fail('client vCPUs %s: record says node %s, pins are on node %d'
                 % (sorted(ids), client.get('node'), inside[0]))
        homes.add(inside[0])
    if covered != set(range(vcpus)):
        fail('clients cover vCPUs %s' % sorted(covered))
    home_cpus = set().union(*(nodes[n] for n in homes))
    emu = dom.find('cputune/emulatorpin')
    if emu is None or not cpulist(emu.get('cpuset')) <= home_cpus:
        fail('emulatorpin not on the home nodes')
    numatune = dom.find('numatune')
    if numatune is None:
        fail('no numatune')
    memory = numatune.find('memory')
    if memory is None or cpulist(memory.get('nodeset')) != homes:
        fail('numatune memory nodeset is not the home nodes %s' % sorted(homes))
    for memnode in numatune.iter('memnode'):
        if not cpulist(memnode.get('nodeset')) <= homes:
            fail('memnode %s nodeset %s outside the home nodes'
                 % (memnode.get('cellid'), memnode.get('nodeset')))

def pins_on(out, cpuset):
    dom = ET.parse(out).getroot()
    want = cpulist(cpuset)
    got = [cpulist(p.get('cpuset')) for p in dom.iter('vcpupin')]
    if not got or any(g != want for g in got):
        fail('vcpupins %s, expected all %s' % (got, cpuset))

def rehome(before, caps, after):
    same_abi(before, after)
    rehomed(caps, after)

def batch(listing):
    """Lines of NAME IN CAPS OUT: prints 'ok NAME' or 'FAIL NAME: why' for each."""
    global fail
    class Failed(Exception):
        pass
    def raise_(msg):
        raise Failed(msg)
    fail = raise_
    for line in open(listing):
        name, before, caps, after = line.split()
        try:
            if open(after).read().strip() == '':
                raise Failed('printed nothing')
            rehome(before, caps, after)
            print('ok ' + name)
        except Exception as e:
            print('FAIL %s: %s' % (name, e))

cmd, args = sys.argv[1], sys.argv[2:]
{'same-abi': same_abi, 'rehomed': rehomed, 'rehome': rehome, 'pins-on': pins_on,
 'batch': batch}[cmd](*args)
EOF
xmlcheck() { python3 "$tmp/xmlcheck.py" "$@"; }
valid() { virt-xml-validate "$1" domain >/dev/null 2>&1; }

# rehome_ok IN CAPS: $tmp/out is IN re-homed for CAPS, a valid domain
# with the guest ABI of IN
rehome_ok() {
  [ "$rc" -eq 0 ] && [ -s "$tmp/out" ] && cp "$tmp/out" "$tmp/rehomed.xml" && valid "$tmp/rehomed.xml" \
    && xmlcheck rehome "$1" "$2" "$tmp/rehomed.xml"
}
# valid_or_nothing IN CAPS: exit 0 and either nothing or a good re-homing
valid_or_nothing() {
  [ "$rc" -eq 0 ] && { [ ! -s "$tmp/out" ] || rehome_ok "$1" "$2"; }
}

plan() {  # plan HOST DOMAIN.xml OUT [ARGS...]: vnumactl plan
  local host=$1 dom=$2 out=$3; shift 3
  "$vnumactl" plan --caps "$hosts/$host.xml" "$@" "$dom" >"$out" 2>/dev/null
}

# --- migrate / restore begin: re-homed for this host ---------------------
# Placed by vnuma on a 4-node host, arriving on a 2-node one.
plan xeon-4s4c-ht "$domains/wide-12vcpu.xml" "$tmp/wide-4s.xml"
check "vnumactl planned the fixture" grep -q "<numa>" "$tmp/wide-4s.xml"
for op in migrate restore; do
  hook wide-12vcpu $op begin - <"$tmp/wide-4s.xml"
  check "$op begin exit 0" [ "$rc" -eq 0 ]
  check "$op begin prints a domain" grep -q "^<domain" "$tmp/out"
  cp "$tmp/out" "$tmp/$op.xml"
  check "$op output validates" valid "$tmp/$op.xml"
  check "$op keeps cells, topology, vcpu byte for byte; each client inside one node of the new host" \
    xmlcheck rehome "$tmp/wide-4s.xml" "$hosts/xeon-2s10c-ht.xml" "$tmp/$op.xml"
  check "$op: pins on the new host's nodes" grep -q "<vcpupin vcpu='0' cpuset='0-9,20-29'/>" "$tmp/$op.xml"
  check "$op: nodeset on the new host's nodes" grep -q "<memory mode='restrictive' nodeset='0-1'/>" "$tmp/$op.xml"
  # Only placement changes: the rest of the domain is the input's.
  check "$op changes only metadata, cputune, numatune" bash -c \
    "diff <(sed '/<metadata>/,/<\/numatune>/d' '$tmp/wide-4s.xml') <(sed '/<metadata>/,/<\/numatune>/d' '$tmp/$op.xml') >/dev/null"
done
check "migrate and restore agree" cmp -s "$tmp/migrate.xml" "$tmp/restore.xml"

# Arriving again on the same host: already placed, nothing to print.
hook wide-12vcpu migrate begin - <"$tmp/migrate.xml"
check "re-homed domain migrating to the same host kind: nothing" quiet

# More domain shapes and host pairs: whatever the hook prints keeps the
# guest ABI and puts each client inside one node.
mkdir "$tmp/pairs"
: >"$tmp/pairs.list"
for d in wide-12vcpu hotadd-16of24 hugepages-16vcpu owner-cells-16vcpu cores-per-socket-10vcpu \
         nova-64vcpu max-per-node-8vcpu prefer-ht-12vcpu bad-overrides-12vcpu; do
  for pair in xeon-4s4c-ht:epyc-nps4-2s xeon-2s10c-ht:xeon-4s4c-ht epyc-nps4-2s:xeon-cod-2s \
              xeon-2s12c-noht:small-2node asym-memory-2s:offline-cpus-2s; do
    from=${pair%%:*} to=${pair#*:}
    base=$tmp/pairs/$d.$from.$to
    plan "$from" "$domains/$d.xml" "$base.in"
    VNUMA_CAPS_FILE=$hosts/$to.xml hook "$d" restore begin - <"$base.in"
    cp "$tmp/out" "$base.out"
    check "restore $d $from -> $to: exit 0" [ "$rc" -eq 0 ]
    check "restore $d $from -> $to: validates" valid "$base.out"
    echo "$d:$from:$to $base.in $hosts/$to.xml $base.out" >>"$tmp/pairs.list"
  done
done
xmlcheck batch "$tmp/pairs.list" >"$tmp/pairs.result"
while read -r verdict name rest; do
  check "restore $name: guest ABI kept, clients inside one node${rest:+ ($rest)}" [ "$verdict" = ok ]
done <"$tmp/pairs.result"
check "every pair checked" [ "$(wc -l <"$tmp/pairs.result")" -eq 45 ]

# A domain never planned by vnuma (no cells): placement only, no cells or
# topology appear on a running guest.
hook wide-12vcpu migrate begin - <"$domains/wide-12vcpu.xml"
check "unplanned domain: guest ABI kept" valid_or_nothing "$domains/wide-12vcpu.xml" "$hosts/xeon-2s10c-ht.xml"
check "unplanned domain: no cells added" bash -c "! grep -q '<numa>' '$tmp/out'"

# --- nothing to change ----------------------------------------------------
plan xeon-2s10c-ht "$domains/wide-12vcpu.xml" "$tmp/wide-2s.xml"
for op in migrate restore; do
  hook wide-12vcpu $op begin - <"$tmp/wide-2s.xml"
  check "$op begin, already placed for this host: nothing" quiet
  for d in nova-pinned unmanaged-optout numad-auto; do
    hook "$d" $op begin - <"$domains/$d.xml"
    check "$op begin, unmanaged $d: nothing" quiet
    check "$op begin, unmanaged $d: says why" grep -q "not managed" "$tmp/err"
  done
done

# --- prepare begin: advice; enforce refuses --------------------------------
hook wide-12vcpu prepare begin - <"$domains/wide-12vcpu.xml"
check "prepare: exit 0, prints nothing" quiet
check "prepare: advice on stderr" grep -q "wide-12vcpu prepare begin.*vnumactl plan" "$tmp/err"
hook wide-12vcpu prepare begin - <"$tmp/wide-4s.xml"
check "prepare, placed for another host: exit 0, nothing" quiet
check "prepare, placed for another host: advice" grep -q "vnumactl plan" "$tmp/err"
hook wide-12vcpu prepare begin - <"$tmp/wide-2s.xml"
check "prepare, sized here: exit 0, nothing" quiet

printf '[vnuma]\nenforce = true\n' >"$tmp/enforce.conf"
VNUMA_CONFIG=$tmp/enforce.conf hook wide-12vcpu prepare begin - <"$domains/wide-12vcpu.xml"
check "enforce: not sized for this host -> exit 1" [ "$rc" -eq 1 ]
check "enforce: nothing on stdout" [ ! -s "$tmp/out" ]
check "enforce: one-line reason naming the domain" \
  [ "$(grep -c "wide-12vcpu.*enforce" "$tmp/err")" -eq 1 ]
check "enforce: the reason is the last line" bash -c "tail -n 1 '$tmp/err' | grep -q 'wide-12vcpu.*enforce'"
VNUMA_CONFIG=$tmp/enforce.conf hook wide-12vcpu prepare begin - <"$tmp/wide-4s.xml"
check "enforce: placed for another host -> exit 1" [ "$rc" -eq 1 ]
plan xeon-2s10c-ht "$domains/wide-12vcpu.xml" "$tmp/wide-enf.xml" --config "$tmp/enforce.conf"
VNUMA_CONFIG=$tmp/enforce.conf hook wide-12vcpu prepare begin - <"$tmp/wide-enf.xml"
check "enforce: planned for this host -> exit 0, nothing" quiet
for d in nova-pinned unmanaged-optout numad-auto; do
  VNUMA_CONFIG=$tmp/enforce.conf hook "$d" prepare begin - <"$domains/$d.xml"
  check "enforce: unmanaged $d -> exit 0" quiet
done
printf '[vnuma]\nenforce = false\n' >"$tmp/noenforce.conf"
VNUMA_CONFIG=$tmp/noenforce.conf hook wide-12vcpu prepare begin - <"$domains/wide-12vcpu.xml"
check "enforce = false: exit 0" quiet

# libvirt's order on restore: restore begin, then prepare begin with what
# restore begin printed. The re-homed domain passes enforce.
VNUMA_CONFIG=$tmp/enforce.conf hook wide-12vcpu prepare begin - <"$tmp/restore.xml"
check "enforce: the domain re-homed by restore begin passes prepare" quiet

# A running guest's XML as libvirt reports it (live XML, save image,
# migration stream): QEMU on x86 takes NUMA cell sizes in whole MiB, so
# libvirt rounds each cell up to 1 MiB and <memory> to their sum. The
# guest is still vnuma's, placed for this host: nothing to change.
plan xeon-4s4c-ht "$domains/qemu-tcg-wide.xml" "$tmp/tcg-4s.xml"
python3 - "$tmp/tcg-4s.xml" >"$tmp/tcg-live.xml" <<'EOF2'
import re, sys
s = open(sys.argv[1]).read()
total = 0
def cell(m):
    global total
    kib = -(-int(m.group(2)) // 1024) * 1024
    total += kib
    return m.group(1) + str(kib) + m.group(3)
s = re.sub(r"(<cell id='\d+' cpus='[^']*' memory=')(\d+)(' unit='KiB'/?>)", cell, s)
s = re.sub(r"(<(?:memory|currentMemory) unit='KiB'>)\d+<", lambda m: m.group(1) + str(total) + '<', s)
sys.stdout.write(s)
EOF2
# vnuma cuts cells on whole MiB, so libvirt's rounding has nothing to round.
check "cells are whole MiB: libvirt's rounding changes nothing" cmp -s "$tmp/tcg-live.xml" "$tmp/tcg-4s.xml"
VNUMA_CAPS_FILE=$hosts/xeon-4s4c-ht.xml hook qemu-tcg-wide restore begin - <"$tmp/tcg-live.xml"
check "libvirt-rounded cells, same host: restore prints nothing" quiet
VNUMA_CAPS_FILE=$hosts/xeon-4s4c-ht.xml VNUMA_CONFIG=$tmp/enforce.conf \
  hook qemu-tcg-wide prepare begin - <"$tmp/tcg-live.xml"
check "libvirt-rounded cells, same host: enforce lets it start" quiet

# --- every other operation: exit 0, nothing (even with enforce on) -------
for opsub in "start begin" "started begin" "stopped end" "release end" "reconnect begin" \
             "attach begin" "prepare end" "migrate end" "restore end" "made-up-op begin" "migrate made-up"; do
  # shellcheck disable=SC2086 # OP SUBOP
  VNUMA_CONFIG=$tmp/enforce.conf hook wide-12vcpu $opsub - <"$tmp/wide-4s.xml"
  check "$opsub: exit 0, nothing" quiet
done
head -c 4096 /dev/urandom >"$tmp/garbage.bin"
VNUMA_CONFIG=$tmp/enforce.conf hook wide-12vcpu reconnect begin - <"$tmp/garbage.bin"
check "reconnect with garbage stdin: exit 0" quiet
hook wide-12vcpu reconnect begin - </dev/null
check "reconnect with empty stdin: exit 0" quiet

# --- fail open ---------------------------------------------------------------
# every_op NAME: migrate, restore and prepare each exit 0 and print nothing
# for the input in $tmp/in (environment as set by the caller)
every_op() {
  local name=$1 op
  for op in migrate restore prepare; do
    hook wide-12vcpu $op begin - <"$tmp/in"
    check "$name: $op exit 0, nothing" quiet
  done
}

cp "$tmp/wide-4s.xml" "$tmp/in"
printf '\x00\x01\x02 this is [not a key file\n=\n[[\n' >"$tmp/broken.conf"
VNUMA_CONFIG=$tmp/broken.conf every_op "config not a key file"
VNUMA_CONFIG=$tmp/missing.conf every_op "config file missing"
mkdir "$tmp/dir.conf"
VNUMA_CONFIG=$tmp/dir.conf every_op "config is a directory"
VNUMA_CAPS_FILE=$tmp/missing-caps.xml every_op "caps file missing"
VNUMA_CAPS_FILE=$tmp/garbage.bin every_op "caps file garbage"
printf '[vnuma]\ncapabilities = %s\n' "$tmp/missing-caps.xml" >"$tmp/caps-missing.conf"
unset VNUMA_CAPS_FILE
VNUMA_CONFIG=$tmp/caps-missing.conf every_op "capabilities key, file missing"
export VNUMA_CAPS_FILE=$hosts/xeon-2s10c-ht.xml

# Bad values: each ignored with a warning naming the key, never a failure.
cat >"$tmp/bad.conf" <<'EOF'
[vnuma]
managed = perhaps
preferHT = maybe
maxPerMachineNode = -4
coresPerSocket = x
vcpuMin = abc
autosize = sometimes
topology = twisted
host_cpuset = zz-
memory_mode = bogus
enforce = perhaps
EOF
for op in migrate restore; do
  VNUMA_CONFIG=$tmp/bad.conf hook wide-12vcpu $op begin - <"$tmp/wide-4s.xml"
  check "config bad values: $op re-homes or prints nothing" valid_or_nothing "$tmp/wide-4s.xml" "$hosts/xeon-2s10c-ht.xml"
  check "config bad values: $op warns naming the key" grep -q "preferHT" "$tmp/err"
done
VNUMA_CONFIG=$tmp/bad.conf hook wide-12vcpu prepare begin - <"$domains/wide-12vcpu.xml"
check "config bad values: prepare exit 0, nothing" quiet

# Input that is not a domain.
printf 'this is <<< not XML at all &&&' >"$tmp/in"
every_op "garbage XML"
cp "$tmp/garbage.bin" "$tmp/in"
every_op "binary input"
: >"$tmp/in"
every_op "empty input"
head -c 1500 "$tmp/wide-4s.xml" >"$tmp/in"
every_op "truncated domain"
printf "<network><name>default</name></network>\n" >"$tmp/in"
every_op "XML that is not a domain"
VNUMA_CONFIG=$tmp/enforce.conf every_op "garbage with enforce"

# Entities: never expanded, nothing of /etc/passwd leaks.
secret=$(head -n 1 /etc/passwd)
xxe() {  # xxe NAME DOCTYPE NAME-TEXT
  python3 - "$tmp/wide-4s.xml" "$tmp/in" "$2" "$3" <<'EOF'
import sys
src, dst, doctype, name = sys.argv[1:]
s = open(src).read()
s = s.replace('<domain ', doctype + '\n<domain ', 1)
s = s.replace('<name>wide-12vcpu</name>', '<name>' + name + '</name>', 1)
open(dst, 'w').write(s)
EOF
  every_op "$1"
  check "$1: nothing of /etc/passwd in stdout or stderr" \
    bash -c "! grep -qF -- '$secret' '$tmp/out' '$tmp/err' && ! grep -q 'root:' '$tmp/out' '$tmp/err'"
}
xxe "external entity" '<!DOCTYPE domain [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>' '&xxe;'
xxe "external parameter entity" '<!DOCTYPE domain [ <!ENTITY % p SYSTEM "file:///etc/passwd"> %p; ]>' 'wide'
xxe "external DTD" '<!DOCTYPE domain SYSTEM "file:///etc/passwd">' 'wide'
xxe "entity expansion bomb" '<!DOCTYPE domain [ <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"> <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"> <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"> ]>' '&f;'

# Input size is bounded: beyond 16 MiB the input is drained (the writer
# does not die of SIGPIPE) and the domain left unchanged.
pad() {  # pad BYTES: the 4-node domain with about BYTES of comments in <devices>
  python3 - "$tmp/wide-4s.xml" "$1" <<'EOF'
import sys
s = open(sys.argv[1]).read()
line = '    <!-- ' + 'p' * 1000 + ' -->\n'
sys.stdout.write(s.replace('  <devices>\n', '  <devices>\n' + line * (int(sys.argv[2]) // len(line)), 1))
EOF
}
pad $((17 * 1024 * 1024)) >"$tmp/huge.xml"
for op in migrate restore prepare; do
  # shellcheck disable=SC2002 # a pipe, as libvirt writes it: see it drained
  cat "$tmp/huge.xml" | "$hook" wide-12vcpu $op begin - >"$tmp/out" 2>"$tmp/err"
  status=("${PIPESTATUS[@]}")
  rc=${status[1]}
  check "over 16 MiB: $op exit 0, nothing" quiet
  check "over 16 MiB: $op drains its input" [ "${status[0]}" -eq 0 ]
done
pad $((1024 * 1024)) >"$tmp/in"
hook wide-12vcpu restore begin - <"$tmp/in"
check "1 MiB domain still re-homed" rehome_ok "$tmp/in" "$hosts/xeon-2s10c-ht.xml"

# Garbage <vnuma:policy> on a managed domain: re-homed or nothing, never a failure.
policy() {  # policy NAME POLICY-XML
  python3 - "$tmp/wide-4s.xml" "$tmp/in" "$2" <<'EOF'
import sys
src, dst, policy = sys.argv[1:]
s = open(src).read()
open(dst, 'w').write(s.replace('  <metadata>\n', '  <metadata>\n    ' + policy + '\n', 1))
EOF
  local op
  for op in migrate restore; do
    hook wide-12vcpu $op begin - <"$tmp/in"
    check "$1: $op re-homed or nothing" valid_or_nothing "$tmp/in" "$hosts/xeon-2s10c-ht.xml"
  done
  hook wide-12vcpu prepare begin - <"$tmp/in"
  check "$1: prepare exit 0, nothing" quiet
  VNUMA_CONFIG=$tmp/noenforce.conf hook wide-12vcpu prepare begin - <"$tmp/in"
  check "$1: prepare (enforce = false) exit 0" quiet
}
ns="xmlns:vnuma='urn:x-vnuma:domain:1'"
policy "bad policy values" "<vnuma:policy $ns managed='perhaps' preferHT='maybe' maxPerMachineNode='-1' coresPerSocket='seven' vcpuMin='x' autosize='sometimes' topology='sideways'/>"
policy "huge policy numbers" "<vnuma:policy $ns maxPerMachineNode='99999999999999999999999' coresPerSocket='0' vcpuMin='4294967296'/>"
policy "policy with content" "<vnuma:policy $ns>garbage <vnuma:policy managed='no'/> &amp; more<x/></vnuma:policy>"
policy "two policies" "<vnuma:policy $ns preferHT='yes'/><vnuma:policy $ns preferHT='no' coresPerSocket='5'/>"
policy "garbage layout record" "<vnuma:layout xmlns:vnuma='urn:x-vnuma:layout:1' version='99' host='zz' vcpus='-1' pins=''><vnuma:client vcpus='40-2' node='x'/></vnuma:layout>"
policy "one bad attribute" "<vnuma:policy $ns preferHT='maybe'/>"
hook wide-12vcpu migrate begin - <"$tmp/in"
check "bad policy: warning names preferHT" grep -q "preferHT" "$tmp/err"

# --- config keys the hook reads itself ------------------------------------
printf '[vnuma]\ncapabilities = %s\n' "$hosts/xeon-2s10c-ht.xml" >"$tmp/caps.conf"
(unset VNUMA_CAPS_FILE; VNUMA_CONFIG=$tmp/caps.conf "$hook" wide-12vcpu migrate begin - \
  <"$tmp/wide-4s.xml" >"$tmp/capskey.xml" 2>/dev/null)
check "capabilities key = VNUMA_CAPS_FILE" cmp -s "$tmp/capskey.xml" "$tmp/migrate.xml"
printf '[vnuma]\nmemory_mode = strict\n' >"$tmp/strict.conf"
VNUMA_CONFIG=$tmp/strict.conf hook wide-12vcpu migrate begin - <"$tmp/wide-4s.xml"
check "memory_mode = strict: strict nodesets" bash -c \
  "grep -q \"<memory mode='strict' nodeset='0-1'/>\" '$tmp/out' && ! grep -q restrictive '$tmp/out'"
printf '[vnuma]\nhost_cpuset = 2-5\n' >"$tmp/cpuset.conf"
VNUMA_CONFIG=$tmp/cpuset.conf hook wide-12vcpu migrate begin - <"$tmp/wide-4s.xml"
check "host_cpuset: pins only on those CPUs" xmlcheck pins-on "$tmp/out" 2-5

# --- log_file: one line per decision ---------------------------------------
log=$tmp/hook.log
printf '[vnuma]\nlog_file = %s\n' "$log" >"$tmp/log.conf"
logged() {  # logged DOMAIN OP < XML: the call appends a line naming DOMAIN and OP begin
  local before after
  before=0
  [ -f "$log" ] && before=$(wc -l <"$log")
  VNUMA_CONFIG=$tmp/log.conf "$hook" "$1" "$2" begin - >/dev/null 2>&1
  after=$(wc -l <"$log")
  [ "$after" -gt "$before" ] && tail -n $((after - before)) "$log" | grep -q "$1 $2 begin"
}
check "log: migrate re-homed" logged log-a migrate <"$tmp/wide-4s.xml"
check "log: the line says re-homed" grep -q "log-a migrate begin.*re-homed" "$log"
check "log: restore re-homed" logged log-b restore <"$tmp/wide-4s.xml"
check "log: prepare advice" logged log-c prepare <"$domains/wide-12vcpu.xml"
check "log: prepare sized here" logged log-d prepare <"$tmp/wide-2s.xml"
check "log: migrate nothing to change" logged log-e migrate <"$tmp/wide-2s.xml"
check "log: restore unmanaged" logged log-f restore <"$domains/nova-pinned.xml"
check "log: prepare garbage XML" logged log-g prepare <"$tmp/garbage.bin"
check "log: restore over-large input" logged log-h restore <"$tmp/huge.xml"
check "log: lines carry a timestamp" bash -c "grep -c '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T' '$log' >/dev/null"

# --- a generated 2-socket, 8-node, 256-thread host read as sysfs ------------
# (tests/gen-sysfs-host.py, $VNUMA_SYSFS_ROOT): every vCPU pinned to one
# node's CPUs and their siblings, as the generator numbers them
# (node N: cores 16N..16N+15, siblings 128 above).
"$src/tests/gen-sysfs-host.py" "$tmp/sysfs256"
node_pins() {  # every vcpupin of the re-homed XML is one generated node
  local pins
  pins=$(grep -o "<vcpupin vcpu='[0-9]*' cpuset='[^']*'" "$tmp/out" | sed "s/.*cpuset='//; s/'//")
  [ "$(echo "$pins" | wc -l)" -eq 64 ] || return 1
  echo "$pins" | sort -u | while IFS=, read -r first second; do
    lo=${first%-*}; hi=${first#*-}
    [ $((lo % 16)) -eq 0 ] && [ $((hi - lo)) -eq 15 ] && [ $((lo + 15)) -lt 128 ] &&
      [ "$second" = "$((lo + 128))-$((hi + 128))" ] || exit 1
  done
}
(unset VNUMA_CAPS_FILE; VNUMA_SYSFS_ROOT=$tmp/sysfs256 "$hook" big migrate begin - \
  <"$domains/nova-64vcpu.xml" >"$tmp/out" 2>"$tmp/err")
check "generated 256-thread sysfs: migrate pins each vCPU to one node's threads" node_pins
check "generated 256-thread sysfs: more than one node used" \
  bash -c "[ \$(grep -o \"cpuset='[^']*'\" '$tmp/out' | sort -u | wc -l) -gt 1 ]"

# --- too few arguments ------------------------------------------------------
for args in "" "wide-12vcpu" "wide-12vcpu migrate"; do
  # shellcheck disable=SC2086
  "$hook" $args <"$tmp/wide-4s.xml" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  check "$(echo "$args" | wc -w) argument(s): exit 0, nothing" quiet
done

finish
