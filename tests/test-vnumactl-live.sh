#!/usr/bin/env bash
# vnumactl explain and status against libvirt's test driver (a real
# libvirt, in-process): test:///default (two NUMA cells, domain "test")
# compared with what virsh reads from the same driver, and a test driver
# host file whose domains carry vnumad's record in their metadata.
#   tests/test-vnumactl-live.sh PATH/TO/vnumactl
set -uo pipefail
vnumactl=$1
src=${VNUMA_SRCDIR:?run through meson}
records=test://$src/tests/vnumactl-testnode.xml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

run() {  # run ARGS...: stdout, stderr, exit code in $tmp/{out,err}, $rc
  "$vnumactl" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

json() {  # json EXPR: EXPR evaluated on the JSON in $tmp/out as j
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$tmp/out"
}

# 1. explain on test:///default: the plan, and live pins as virsh sees them.
run explain --connect test:///default test
check "explain: exit 0" [ "$rc" -eq 0 ]
check "explain: names the domain" grep -q '^Domain test: running, 2 vCPUs, 8 GiB$' "$tmp/out"
check "explain: planned client on node 0" grep -qE '^  0 +0-1 +0 +8 GiB +-$' "$tmp/out"
check "explain: memory warning" grep -q 'remote memory is unavoidable' "$tmp/out"
run explain --connect test:///default --format json test
check "explain json: exit 0" [ "$rc" -eq 0 ]
check "explain json: one client, home 0, not the agent's" \
  [ "$(json "[(c['vcpus'], c['home_node']) for c in j['clients']], j['placed_by_agent']")" = "[('0-1', 0)] False" ]
virsh -c test:///default vcpupin test | awk '$1 ~ /^[0-9]+$/ { print $2 }' | sort -u >"$tmp/virsh-pins"
check "explain json: pins as virsh reads them" \
  [ "$(json "'\n'.join(sorted({p['cpus'] for p in j['pins']['vcpus']}))")" = "$(cat "$tmp/virsh-pins")" ]
check "explain json: numatune mode as virsh reads it" [ "$(json "j['pins']['memory_mode']")" = \
  "$(virsh -c test:///default numatune test | awk '$1 == "numa_mode" { print $3 }')" ]

# 2. status on test:///default: nodes and free memory as virsh reads them.
run status --connect test:///default --format json --interval 0.2
check "status json: exit 0" [ "$rc" -eq 0 ]
check "status: node ids" [ "$(json "[n['id'] for n in j['nodes']]")" = "[0, 1]" ]
virsh -c test:///default freecell --all | awk '$1 ~ /^[0-9]+:$/ { printf "%s ", $2 }' >"$tmp/virsh-free"
check "status: free memory as virsh reads it" \
  [ "$(json "' '.join(str(n['free_kib']) for n in j['nodes'])") " = "$(cat "$tmp/virsh-free")" ]
check "status: node memory from capabilities" [ "$(json "[n['memory_kib'] for n in j['nodes']]")" = \
  "[$(virsh -c test:///default capabilities | sed -n "s|.*<memory unit='KiB'>\([0-9]*\)</memory>.*|\1|p" \
      | head -2 | paste -sd, | sed 's/,/, /')]" ]
check "status: CPU load measured" [ "$(json "all(n['load'] is not None and n['load'] >= 0 for n in j['nodes'])")" = True ]
check "status: the running domains" [ "$(json "[d['name'] for d in j['domains']]")" = "['test']" ]
run status --connect test:///default --interval 0.1 --watch --iterations 3
check "watch: three frames redrawn in place" [ "$(grep -o $'\033\\[H\033\\[2J' "$tmp/out" | wc -l)" -eq 3 ]
check "watch: node table" grep -qE '^1 +8 +[0-9.]+ +0 +4 GiB' "$tmp/out"

# 3. vnumad's record, read through libvirt's metadata API.
run explain --connect "$records" --format json web1
check "record: exit 0" [ "$rc" -eq 0 ]
check "record: the agent's clients and home nodes" [ "$(json "[(c['vcpus'], c['home_node'], c['moved']) for c in j['clients']]")" \
  = "[('0-1', 0, None), ('2-3', 1, 1700000100)]" ]
check "record: migrations by kind" \
  [ "$(json "j['migrations']")" = "{'balance': 2, 'locality': 1, 'swap': 0, 'total': 3}" ]
check "record: placed" [ "$(json "j['placed'], j['placed_by_agent']")" = "1700000000 True" ]
check "record: managed by the agent; no host topology, said" \
  [ "$(json "j['managed'], j['reason'], 'NUMA cells' in j['host_error']")" = "True None True" ]
run explain --connect "$records" web1
check "record text: NMIG" grep -q '^NMIG (migrations by vnumad): balance 2, locality 1, swap 0$' "$tmp/out"
check "record text: last move" grep -qE '^  1 +2-3 +1 +256 MiB +2023-11-14 22:15:00 UTC$' "$tmp/out"
run explain --connect "$records" --format json broken
check "bad record: exit 0" [ "$rc" -eq 0 ]
check "bad record: error names the attribute" \
  [ "$(json "'node' in j['record_error'] and not j['placed_by_agent']")" = True ]
run status --connect "$records" --format json --interval 0.1
check "record status: home nodes, migrations" [ "$(json "[(d['name'], d['home_nodes'], d['migrations']) for d in j['domains']]")" \
  = "[('broken', None, 0), ('plain', None, 0), ('web1', '0-1', 3)]" ]
run status --connect "$records" --interval 0.1
check "record status text" grep -qE '^web1 +4 +512 MiB +0-1 +- +3 +placed by vnumad$' "$tmp/out"

# 4. Errors: one line naming what is wrong.
run explain --connect test:///default nosuch
check "unknown domain: exit 1, named" bash -c "[ $rc -eq 1 ] && [ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q nosuch '$tmp/err'"
run status --connect "test:///$tmp/missing.xml"
check "unreachable libvirt: exit 1" bash -c "[ $rc -eq 1 ] && grep -q 'missing.xml' '$tmp/err'"
run explain --connect test:///default
check "explain without DOMAIN: usage" [ "$rc" -eq 2 ]
run status --connect test:///default --format yaml
check "bad format: usage" [ "$rc" -eq 2 ]
run status --connect test:///default --interval 0
check "bad interval: usage" [ "$rc" -eq 2 ]

finish test-vnumactl-live
