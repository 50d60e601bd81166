#!/usr/bin/env bash
# vnumad end to end on libvirt's embedded test driver (test:///default,
# in-process, no daemon): options, exit codes, the JSON report.
#   tests/test-agent-cli.sh PATH/TO/vnumad
set -uo pipefail
vnumad=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

on_check_failed() {
  sed 's/^/  stderr: /' "$tmp/err" >&2
}

run() {  # run ARGS...: stdout, stderr and exit code in $tmp/{out,err}, $rc
  "$vnumad" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

report() {  # report EXPR: EXPR evaluated on the (single) JSON line as r
  python3 -c "import json,sys; r=json.loads(open(sys.argv[1]).read()); print($1)" "$tmp/out"
}

run --connect test:///default --once --report json
check "once exits 0" [ "$rc" -eq 0 ]
check "one JSON line" [ "$(wc -l <"$tmp/out")" -eq 1 ]
check "test domain placed" [ "$(report "[d['managed'] and d['applied'] for d in r['domains'] if d['name'] == 'test']")" = "[True]" ]
check "client on node 0" [ "$(report "[c['home_node'] for d in r['domains'] for c in d['clients']]")" = "[0]" ]
check "place action applied" [ "$(report "[(a['action'], a['applied']) for a in r['actions'] if a['action'] == 'place']")" = "[('place', True)]" ]
check "two nodes" [ "$(report "[(n['id'], n['cpus'], n['committed_vcpus']) for n in r['nodes']]")" = "[(0, '0-7', 2), (1, '8-15', 0)]" ]
check "no errors" [ "$(report "r['errors']")" = "0" ]
check "logged" grep -q "test: place: client 0 (vCPUs 0-1) on node 0" "$tmp/err"

run --connect test:///default --once --dry-run --report json
check "dry run exits 0" [ "$rc" -eq 0 ]
check "dry run applies nothing" [ "$(report "sorted({a['applied'] for a in r['actions']})")" = "[False]" ]
check "dry run says so" grep -q "(dry run)" "$tmp/err"

# --domain narrows what the agent touches.
run --connect test:///default --once --report json --domain other
check "scoped out" [ "$(report "(len(r['domains']), len(r['actions']))")" = "(0, 0)" ]

# Metrics textfile, written atomically.
printf '[vnuma]\nmetrics_path=%s/vnuma.prom\ndefine_sizing=false\n' "$tmp" >"$tmp/vnuma.conf"
run --connect test:///default --once --config "$tmp/vnuma.conf"
check "metrics exit 0" [ "$rc" -eq 0 ]
check "no report without --report" [ ! -s "$tmp/out" ]
check "home node metric" grep -q '^vnuma_client_home_node{domain="test",uuid="6695eb01-f6a4-8304-79aa-97f2502e193f",client="0",vcpus="0-1"} 0$' "$tmp/vnuma.prom"
check "node metric" grep -q '^vnuma_node_committed_vcpus{node="0"} 2$' "$tmp/vnuma.prom"
check "no define with define_sizing=false" bash -c '! grep -q "define" "$1"' _ "$tmp/err"

# Usage and failures.
run --report yaml --once
check "bad --report is usage" [ "$rc" -eq 2 ]
check "bad --report named" grep -q "yaml" "$tmp/err"
run --once --config "$tmp/absent.conf"
check "missing --config fails" [ "$rc" -eq 1 ]
run --connect nosuch:///nowhere --once
check "unreachable URI fails" [ "$rc" -eq 1 ]
check "unreachable URI named" grep -q "nosuch:///nowhere" "$tmp/err"
# The daemon keeps the hook's topology cache stamped with the kernel's
# uevent count (docs/agent.md), on a generated sysfs tree.
python3 "$VNUMA_SRCDIR/tests/gen-sysfs-host.py" --sockets 1 --nodes-per-socket 2 \
  --cores-per-node 2 --threads 2 "$tmp/sysfs"
printf '[vnuma]\n' >"$tmp/plain.conf"
printf '[vnuma]\ncapabilities=%s\n' "$VNUMA_SRCDIR/examples/hosts/small-2node.xml" >"$tmp/caps.conf"
stamp_is() {  # stamp_is COUNT: the cache's "uevents" line says COUNT
  [ "$(sed -n 's/^uevents //p' "$tmp/cache" 2>/dev/null)" = "$1" ]
}
start_daemon() {  # start_daemon CONFIG: vnumad on the tree, in the background
  VNUMA_SYSFS_ROOT=$tmp/sysfs VNUMA_HOST_CACHE=$tmp/cache \
    "$vnumad" --connect test:///default --config "$1" >/dev/null 2>"$tmp/err" &
  daemon=$!
}
stop_daemon() {
  kill "$daemon" 2>/dev/null
  wait "$daemon" 2>/dev/null
}
start_daemon "$tmp/plain.conf"
check "daemon writes the topology cache" wait_for 10 stamp_is 4321
echo 4400 >"$tmp/sysfs/kernel/uevent_seqnum"
check "daemon restamps it after new uevents" wait_for 10 stamp_is 4400
stop_daemon
rm -f "$tmp/cache"
start_daemon "$tmp/caps.conf"
sleep 3
check "daemon with a capabilities file still running" kill -0 "$daemon"
check "no cache kept when the hook reads no sysfs" [ ! -e "$tmp/cache" ]
stop_daemon

run --help
check "help" grep -q -- "--dry-run" "$tmp/out"

finish test-agent-cli
