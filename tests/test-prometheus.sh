#!/usr/bin/env bash
# vnumad's metrics as Prometheus reads them: the textfile of one pass on
# libvirt's test driver (a known state: two cells of 8 CPUs and the
# domain `test`, 2 vCPUs, placed on node 0) passes `promtool check
# metrics` with no error and no lint warning; a real
# prometheus-node-exporter, started here on 127.0.0.1 with
# --collector.textfile.directory, serves it; and its /metrics holds every
# vnuma sample with the right type, labels and value, and no other.
#   tests/test-prometheus.sh PATH/TO/vnumad
set -uo pipefail
vnumad=$1
tmp=$(mktemp -d)
ne_pid=
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prometheus.sh"
trap 'stop_node_exporter; rm -rf "$tmp"' EXIT
deadline 60

on_check_failed() {
  for f in err promtool node_exporter.log; do
    [ -s "$tmp/$f" ] && sed "s/^/  $f: /" "$tmp/$f" >&2
  done
}

step "vnumad: one pass on the test driver, metrics to a textfile directory"
mkdir "$tmp/textfile"
printf '[vnuma]\nmetrics_path=%s/textfile/vnuma.prom\n' "$tmp" >"$tmp/vnuma.conf"
before=$(date +%s.%N)
"$vnumad" --connect test:///default --config "$tmp/vnuma.conf" --once --report json >"$tmp/report.json" 2>"$tmp/err"
check "vnumad --once: exit 0" [ $? -eq 0 ]
after=$(date +%s.%N)
check "metrics file written" [ -s "$tmp/textfile/vnuma.prom" ]

step "promtool check metrics"
promtool check metrics <"$tmp/textfile/vnuma.prom" >"$tmp/promtool" 2>&1
check "promtool check metrics: exit 0 (no error, no lint problem)" [ $? -eq 0 ]
check "promtool check metrics: nothing to say" [ ! -s "$tmp/promtool" ]

step "prometheus-node-exporter serves the textfile"
check "node_exporter serves /metrics" start_node_exporter "$tmp/textfile" "$tmp/node_exporter.log"
scrape "$ne_url" "$tmp/scrape.txt"
check "scraped $ne_url" [ -s "$tmp/scrape.txt" ]
"$(dirname "$0")/prom-samples.py" "$tmp/scrape.txt" >"$tmp/scrape.json"
check "scrape parsed" [ $? -eq 0 ]

step "every vnuma sample, its type, labels and value"
check "scrape: the known state, exactly" python3 - "$tmp/scrape.json" "$tmp/report.json" "$before" "$after" <<'PY'
import json, sys
scrape = json.load(open(sys.argv[1]))
report = json.loads(open(sys.argv[2]).read().splitlines()[-1])
before, after = float(sys.argv[3]), float(sys.argv[4])
uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f"
dom = {"domain": "test", "uuid": uuid}
# The known state of test:///default after one pass, written out (and
# checked against the pass's own report below).
want = {("vnuma_client_home_node", frozenset(dict(dom, client="0", vcpus="0-1").items())): 0}
for kind in ("balance", "locality", "swap"):
    want[("vnuma_domain_migrations_total", frozenset(dict(dom, kind=kind).items()))] = 0
for node, committed, free in ((0, 2, 2097152), (1, 0, 4194304)):
    n = frozenset({"node": str(node)}.items())
    want[("vnuma_node_capacity_cpus", n)] = 8
    want[("vnuma_node_load_cpus", n)] = 0
    want[("vnuma_node_committed_vcpus", n)] = committed
    want[("vnuma_node_memory_free_bytes", n)] = free
want[("vnuma_agent_connected", frozenset())] = 1
want[("vnuma_agent_passes_total", frozenset())] = 1
got = {(n, frozenset(l.items())): v for n, l, v in scrape["samples"] if n.startswith("vnuma_")}
stamp = got.pop(("vnuma_agent_last_pass_timestamp_seconds", frozenset()), None)
ok = True
def fail(msg):
    global ok
    ok = False
    print("  " + msg, file=sys.stderr)
for key, value in want.items():
    if key not in got:
        fail("missing: %s%s" % (key[0], dict(key[1])))
    elif got[key] != value:
        fail("%s%s = %s, want %s" % (key[0], dict(key[1]), got[key], value))
for key in set(got) - set(want):
    fail("unexpected: %s%s = %s" % (key[0], dict(key[1]), got[key]))
if stamp is None or not before <= stamp <= after:
    fail("vnuma_agent_last_pass_timestamp_seconds %s not within the pass [%s, %s]" % (stamp, before, after))
# The same values as the pass's own report.
for n in report["nodes"]:
    key = frozenset({"node": str(n["id"])}.items())
    for metric, field in (("capacity_cpus", "capacity"), ("load_cpus", "load"),
                          ("committed_vcpus", "committed_vcpus"), ("memory_free_bytes", "free_bytes")):
        if got.get(("vnuma_node_" + metric, key)) != n[field]:
            fail("node %s %s: metric %s, report %s" % (n["id"], metric, got.get(("vnuma_node_" + metric, key)), n[field]))
(d,) = report["domains"]
if d["locality"] is not None:
    fail("the test driver has no numa_maps, yet the report has a locality")
types = scrape["types"]
for name, kind in (("vnuma_client_home_node", "gauge"), ("vnuma_domain_migrations_total", "counter"),
                   ("vnuma_node_capacity_cpus", "gauge"), ("vnuma_node_load_cpus", "gauge"),
                   ("vnuma_node_committed_vcpus", "gauge"), ("vnuma_node_memory_free_bytes", "gauge"),
                   ("vnuma_agent_connected", "gauge"), ("vnuma_agent_passes_total", "counter"),
                   ("vnuma_agent_last_pass_timestamp_seconds", "gauge")):
    if types.get(name) != kind:
        fail("TYPE %s: %s, want %s" % (name, types.get(name), kind))
sys.exit(0 if ok else 1)
PY
# The test driver has no QEMU process, so no numa_maps: the locality
# family is declared with no sample (unknown), and node_exporter serves
# none. test-deb.sh reads it, from a real guest, through node_exporter.
check "locality declared in the textfile, no sample (unknown on the test driver)" bash -c "
  grep -qx '# TYPE vnuma_domain_memory_locality_ratio gauge' '$tmp/textfile/vnuma.prom' &&
  ! grep -q '^vnuma_domain_memory_locality_ratio{' '$tmp/scrape.txt'"
check "node_exporter read the textfile without error" grep -qx 'node_textfile_scrape_error 0' "$tmp/scrape.txt"
check "node_exporter saw vnuma.prom" grep -q "^node_textfile_mtime_seconds{file=\"$tmp/textfile/vnuma.prom\"}" "$tmp/scrape.txt"
stop_node_exporter

finish test-prometheus
