#!/usr/bin/env bash
# vnumactl advise: Nova flavor extra specs for the six public examples of
# docs/spec.md §3 and uneven splits. Every answer is checked two independent ways:
# Nova's own rules (nova/virt/hardware.py: even automatic split, or
# explicit cpus + mem for every node covering every vCPU and summing to
# the flavor RAM) turn the specs back into guest cells, which must equal
# the cells `vnumactl plan` writes for a domain of the same size.
#   tests/test-vnumactl-advise.sh PATH/TO/vnumactl
set -uo pipefail
vnumactl=$1
src=${VNUMA_SRCDIR:?run through meson}
hosts=$src/examples/hosts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

run() {  # run ARGS...: stdout, stderr, exit code in $tmp/{out,err}, $rc
  "$vnumactl" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

# advise_matches_plan HOST VCPUS MIB POLICY-ATTRS ADVISE-ARGS...: advise
# (json) and plan of the same domain agree once Nova's rules are applied.
advise_matches_plan() {
  local host=$1 vcpus=$2 mib=$3 policy=$4; shift 4
  cat >"$tmp/dom.xml" <<EOF
<domain type='kvm'><name>flavor</name>
  <metadata><vnuma:policy xmlns:vnuma='urn:x-vnuma:domain:1' $policy/></metadata>
  <memory unit='MiB'>$mib</memory><vcpu placement='static'>$vcpus</vcpu>
  <os><type arch='x86_64'>hvm</type></os></domain>
EOF
  "$vnumactl" plan --caps "$hosts/$host.xml" --format json "$tmp/dom.xml" >"$tmp/plan.json" || return 1
  "$vnumactl" advise --caps "$hosts/$host.xml" --vcpus "$vcpus" --memory "$mib" --format json "$@" \
    >"$tmp/advise.json" || return 1
  python3 - "$tmp/advise.json" "$tmp/plan.json" "$vcpus" "$mib" <<'EOF'
import json, sys
advice, plan = (json.load(open(p)) for p in sys.argv[1:3])
vcpus, mib = int(sys.argv[3]), int(sys.argv[4])
specs = advice["extra_specs"]

def cpu_list(text):
    out = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        out |= set(range(int(a), int(b or a) + 1))
    return out

# Nova's rules, as nova/virt/hardware.py applies them to a flavor.
cells = []
if "hw:numa_nodes" in specs:
    n = int(specs["hw:numa_nodes"])
    explicit = [k for k in specs if k.startswith(("hw:numa_cpus.", "hw:numa_mem."))]
    if not explicit:
        assert vcpus % n == 0 and mib % n == 0, "asymmetric automatic split"
        cells = [(set(range(i * vcpus // n, (i + 1) * vcpus // n)), mib // n) for i in range(n)]
    else:
        for i in range(n):
            assert f"hw:numa_cpus.{i}" in specs and f"hw:numa_mem.{i}" in specs, "incomplete"
            cells.append((cpu_list(specs[f"hw:numa_cpus.{i}"]), int(specs[f"hw:numa_mem.{i}"])))
        assert set().union(*(c for c, _ in cells)) == set(range(vcpus)), "vCPUs unassigned"
        assert sum(m for _, m in cells) == mib, "memory out of range"
want = [(set(c["vcpus"]), c["memory_kib"] // 1024) for c in plan["vnuma_cells"]] if plan["vnuma_exposed"] else []
assert cells == want, f"Nova would make {cells}, vnuma plans {want}"
t = plan["topology"]
got = tuple(int(specs[k]) for k in ("hw:cpu_sockets", "hw:cpu_cores", "hw:cpu_threads"))
assert got[0] * got[1] * got[2] == vcpus, "topology product"
assert got == (t["sockets"] * t["dies"], t["cores"], t["threads"]), f"topology {got} vs {t}"
assert len(advice["clients"]) == len(plan["clients"])
EOF
}

specs() {  # specs: the --property lines of $tmp/out as "key=value ..."
  sed -n 's/^ *--property \([^ ]*\).*/\1/p' "$tmp/out" | tr '\n' ' '
}

# The six public examples (docs/spec.md §3).
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 12 --memory 48G
check "12 vCPU: exit 0" [ "$rc" -eq 0 ]
check "12 vCPU: 2 nodes, 2 sockets x 6" \
  [ "$(specs)" = "hw:numa_nodes=2 hw:cpu_sockets=2 hw:cpu_cores=6 hw:cpu_threads=1 " ]
check "12 vCPU: an openstack command" grep -q '^openstack flavor set FLAVOR \\$' "$tmp/out"
check "12 vCPU: agrees with plan" advise_matches_plan xeon-2s10c-ht 12 49152 ""

run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 12 --memory 48G --prefer-ht --flavor m1.wide
check "12 vCPU preferHT: 1 socket, no NUMA" \
  [ "$(specs)" = "hw:cpu_sockets=1 hw:cpu_cores=12 hw:cpu_threads=1 " ]
check "flavor name used" grep -q '^openstack flavor set m1.wide' "$tmp/out"
check "12 vCPU preferHT: agrees with plan" advise_matches_plan xeon-2s10c-ht 12 49152 "preferHT='yes'" --prefer-ht

run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 10 --memory 16384
check "10 vCPU: 1 socket x 10" [ "$(specs)" = "hw:cpu_sockets=1 hw:cpu_cores=10 hw:cpu_threads=1 " ]
check "10 vCPU: agrees with plan" advise_matches_plan xeon-2s10c-ht 10 16384 ""

run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 10 --memory 16384 --cores-per-socket 5
check "10 vCPU cps 5: 2 nodes, 2 sockets x 5" \
  [ "$(specs)" = "hw:numa_nodes=2 hw:cpu_sockets=2 hw:cpu_cores=5 hw:cpu_threads=1 " ]
check "10 vCPU cps 5: agrees with plan" \
  advise_matches_plan xeon-2s10c-ht 10 16384 "coresPerSocket='5'" --cores-per-socket 5

run advise --caps "$hosts/xeon-4s4c-ht.xml" --vcpus 8 --memory 8G
check "4x4 8 vCPU: no guest NUMA, product 8" \
  [ "$(specs)" = "hw:cpu_sockets=1 hw:cpu_cores=8 hw:cpu_threads=1 " ]
check "4x4 8 vCPU: two clients on distinct nodes" \
  grep -q '2 NUMA client(s): vCPUs 0-3 on node 0, vCPUs 4-7 on node 1' "$tmp/out"
check "4x4 8 vCPU: says vnumad places them" grep -q 'vnumad places its clients' "$tmp/out"
check "4x4 8 vCPU: agrees with plan" advise_matches_plan xeon-4s4c-ht 8 8192 ""

run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 8 --memory 8G --max-per-node 4 --format json
check "max 4: json, two clients, no NUMA specs" python3 -c "
import json,sys; j=json.load(open(sys.argv[1]))
assert [c['vcpus'] for c in j['clients']] == ['0-3', '4-7']
assert j['vnuma_cells'] == 0 and not any(k.startswith('hw:numa') for k in j['extra_specs'])" "$tmp/out"
check "max 4: agrees with plan" \
  advise_matches_plan xeon-2s10c-ht 8 8192 "maxPerMachineNode='4'" --max-per-node 4

# Uneven splits: Nova refuses them automatically, so they are explicit.
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 15 --memory 16385
check "15 vCPU: explicit per-node values" [ "$(specs)" = "hw:numa_nodes=2 hw:numa_cpus.0=0-7 \
hw:numa_mem.0=8738 hw:numa_cpus.1=8-14 hw:numa_mem.1=7647 hw:cpu_sockets=1 hw:cpu_cores=15 hw:cpu_threads=1 " ]
check "15 vCPU: agrees with plan" advise_matches_plan xeon-2s10c-ht 15 16385 ""
check "12 vCPU, odd MiB: explicit memory, agrees with plan" advise_matches_plan xeon-2s10c-ht 12 1025 ""
check "12 vCPU, odd MiB: explicit" python3 -c "
import json,sys; s=json.load(open(sys.argv[1]))['extra_specs']
assert (s['hw:numa_mem.0'], s['hw:numa_mem.1']) == ('512', '513'), s" "$tmp/advise.json"
# vnuma alone makes 6 cells of 4 there; Nova needs a host node per guest
# node, so advise plans 4 of 6 (coresPerSocket 6), as plan does with it.
check "24 vCPU on 4x4: agrees with plan at 4 nodes" \
  advise_matches_plan xeon-4s4c-ht 24 65536 "coresPerSocket='6'"
run advise --caps "$hosts/xeon-4s4c-ht.xml" --vcpus 24 --memory 64G
check "24 vCPU on 4x4: 4 nodes, 4 sockets x 6" \
  [ "$(specs)" = "hw:numa_nodes=4 hw:cpu_sockets=4 hw:cpu_cores=6 hw:cpu_threads=1 " ]
check "24 vCPU on 4x4: vnuma's own plan fits Nova, no re-plan" \
  bash -c "! grep -q '^# Nova puts each guest node' '$tmp/out'"
# 40 vCPUs: vnuma makes 10 clients of 4, more than the 4 host nodes; no
# even split fits a node's 8 threads, so no guest NUMA, and advise says why.
run advise --caps "$hosts/xeon-4s4c-ht.xml" --vcpus 40 --memory 64G
check "40 vCPU on 4x4: no guest NUMA" [ "$(specs)" = "hw:cpu_sockets=1 hw:cpu_cores=40 hw:cpu_threads=1 " ]
check "40 vCPU on 4x4: says why" grep -q '^# Nova puts each guest node on its own host node, within its CPUs: 4' "$tmp/out"
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 24 --memory 64G
check "24 vCPU on 2x10: 2 nodes, not 3" \
  [ "$(specs)" = "hw:numa_nodes=2 hw:cpu_sockets=2 hw:cpu_cores=12 hw:cpu_threads=1 " ]
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 25 --memory 64G
# Two clients of 13 and 12 fit the two nodes (one per node, up to a node's
# threads): uneven guest nodes, as plan makes them.
check "25 vCPU on 2x10: 2 uneven guest nodes" \
  [ "$(specs | grep -o 'hw:numa_nodes=[0-9]* hw:numa_cpus.0=[0-9-]*')" = "hw:numa_nodes=2 hw:numa_cpus.0=0-12" ]
check "25 vCPU on 2x10: agrees with plan" advise_matches_plan xeon-2s10c-ht 25 65536 ""
check "EPYC NPS4 64 vCPU: agrees with plan" advise_matches_plan epyc-nps4-2s 64 262144 ""

# Units and errors.
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 12 --memory 49152M --format json
check "49152M = 48G" python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['memory_mib'] == 49152" "$tmp/out"
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 12 --memory 1000K
check "sub-MiB memory: usage error" bash -c "[ $rc -eq 2 ] && grep -q 'whole number of MiB' '$tmp/err'"
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 12 --memory 4GB
check "unknown unit: usage error" bash -c "[ $rc -eq 2 ] && grep -q \"'4GB': unknown unit\" '$tmp/err'"
run advise --caps "$hosts/xeon-2s10c-ht.xml" --memory 4G
check "no --vcpus: usage error" [ "$rc" -eq 2 ]
run advise --caps "$tmp/missing.xml" --vcpus 4 --memory 4G
check "missing caps: exit 1 naming it" bash -c "[ $rc -eq 1 ] && grep -q missing.xml '$tmp/err'"
run advise --caps "$hosts/xeon-2s10c-ht.xml" --vcpus 4 --memory 4G --format yaml
check "bad format: usage error" [ "$rc" -eq 2 ]

finish test-vnumactl-advise
