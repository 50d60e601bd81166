#!/usr/bin/env bash
# vnumactl explain and status on a real system libvirtd with a diskless
# TCG guest placed by the real agent: what vnumactl shows must be what
# vnumad recorded and reported, and what virsh reads back.
#   tests/test-vnumactl-qemu.sh PATH/TO/vnumactl PATH/TO/vnumad
# Needs VNUMA_TEST_LIBVIRT_URI (scripts/test.sh sets it); exits 77 (skip)
# without it. Its domain is named vnuma-test-ctl-PID and destroyed on exit.
set -uo pipefail
vnumactl=$1 vnumad=$2
src=${VNUMA_SRCDIR:?run through meson}
uri=${VNUMA_TEST_LIBVIRT_URI:-}
if [ -z "$uri" ]; then
  echo "SKIP: no libvirtd to test against: run through scripts/test.sh"
  exit 77
fi
tmp=$(mktemp -d)
name=vnuma-test-ctl-$$
. "$(dirname "$0")/lib.sh"
deadline 120  # meson's timeout (tests/meson.build) leaves room for the cleanup
trap 'virsh -c "$uri" destroy "$name" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

json() {  # json FILE EXPR: EXPR on the JSON in FILE as j
  python3 -c "import json,sys; j=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print($2)" "$1"
}

# One NUMA node and two CPUs here: host_cpuset=1 makes the placement
# visible (every vCPU on CPU 1, not the default 0-1).
printf '[vnuma]\nhost_cpuset=1\ndefine_sizing=false\n' >"$tmp/vnuma.conf"
sed -e "s|<name>qemu-tcg-wide</name>|<name>$name</name>|" -e '/<uuid>/d' \
  "$src/examples/domains/qemu-tcg-wide.xml" >"$tmp/guest.xml"
step "a guest placed by vnumad"
check "guest starts" virsh -c "$uri" create "$tmp/guest.xml"
"$vnumad" --connect "$uri" --config "$tmp/vnuma.conf" --domain "$name" --once --report json \
  >"$tmp/agent.json" 2>"$tmp/agent.err"
check "vnumad placed it" [ "$(json "$tmp/agent.json" "[a['action'] for a in j['actions']]")" = "['place']" ]

# explain: the agent's record, the live pins, memory from numa_maps.
step "explain"
"$vnumactl" explain --connect "$uri" --config "$tmp/vnuma.conf" --format json "$name" >"$tmp/explain.json"
check "explain: exit 0" [ "$?" -eq 0 ]
check "explain: placed by the agent" [ "$(json "$tmp/explain.json" "j['placed_by_agent'], j['managed']")" = "True True" ]
check "explain: the clients vnumad reported" [ "$(json "$tmp/explain.json" "[c['home_node'] for c in j['clients']]")" = \
  "$(json "$tmp/agent.json" "[c['home_node'] for c in j['domains'][0]['clients']]")" ]
check "explain: every vCPU on CPU 1" [ "$(json "$tmp/explain.json" "sorted({p['cpus'] for p in j['pins']['vcpus']})")" = "['1']" ]
check "explain: emulator on CPU 1" [ "$(json "$tmp/explain.json" "j['pins']['emulator']")" = 1 ]
check "explain: nodeset restrictive, as virsh reads it" [ "$(json "$tmp/explain.json" "j['pins']['memory_mode']")" = \
  "$(virsh -c "$uri" numatune "$name" | awk '$1 == "numa_mode" { print $3 }')" ]
check "explain: memory per node measured" [ "$(json "$tmp/explain.json" "sum(j['memory_per_node_kib'].values()) > 0")" = True ]
check "explain: locality as vnumad measures it" python3 -c "
import json,sys
e=json.load(open(sys.argv[1])); a=json.loads(open(sys.argv[2]).read().splitlines()[-1])
assert e['locality'] is not None and a['domains'][0]['locality'] is not None
assert abs(e['locality'] - a['domains'][0]['locality']) < 0.05, (e['locality'], a['domains'][0]['locality'])" \
  "$tmp/explain.json" "$tmp/agent.json"
"$vnumactl" explain --connect "$uri" "$name" >"$tmp/explain.txt"
check "explain text: N%L and NMIG" bash -c "grep -q '^N%L' '$tmp/explain.txt' && grep -q '^NMIG' '$tmp/explain.txt'"

# status: the node with measured load and free memory, and the domain.
step "status"
"$vnumactl" status --connect "$uri" --format json --interval 0.5 >"$tmp/status.json"
check "status: exit 0" [ "$?" -eq 0 ]
check "status: CPU load measured" [ "$(json "$tmp/status.json" "all(n['load'] is not None for n in j['nodes'])")" = True ]
check "status: free memory" [ "$(json "$tmp/status.json" "all(n['free_kib'] > 0 for n in j['nodes'])")" = True ]
check "status: committed vCPUs" [ "$(json "$tmp/status.json" "sum(n['committed_vcpus'] for n in j['nodes']) >= 10")" = True ]
check "status: the domain, placed, home node 0" [ "$(json "$tmp/status.json" \
  "[(d['placed_by_agent'], d['home_nodes'], d['locality'] is not None) for d in j['domains'] if d['name'] == '$name']")" \
  = "[(True, '0', True)]" ]

finish test-vnumactl-qemu
