#!/usr/bin/env bash
# examples/grafana/vnuma.json: every query (panel targets and template
# variables) names only metrics vnumad exports (the families of one pass's
# textfile on the test driver), every query names one at least, every
# export is shown somewhere, each is valid PromQL (promtool check rules,
# with Grafana's variables given values), and the esxtop NUMA screen's
# fields are there: per node load, committed vCPUs, free memory; per VM
# home nodes (NHN), locality (N%L), migrations (NMIG) by kind.
#   tests/test-grafana-dashboard.sh PATH/TO/vnumad
set -uo pipefail
vnumad=$1
src=${VNUMA_SRCDIR:?run through meson}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

printf '[vnuma]\nmetrics_path=%s/vnuma.prom\n' "$tmp" >"$tmp/vnuma.conf"
"$vnumad" --connect test:///default --config "$tmp/vnuma.conf" --once >/dev/null 2>"$tmp/err"
check "vnumad --once wrote its metrics" [ -s "$tmp/vnuma.prom" ]
sed -n 's/^# TYPE \(vnuma_[a-z0-9_]*\) .*/\1/p' "$tmp/vnuma.prom" | sort -u >"$tmp/exported"
check "vnumad exports metric families" [ -s "$tmp/exported" ]

check "the dashboard's queries name exported metrics only, and all of them" \
  python3 - "$src/examples/grafana/vnuma.json" "$tmp/exported" "$tmp/rules.yml" <<'PY'
import json, re, sys
dash = json.load(open(sys.argv[1]))
exported = set(open(sys.argv[2]).read().split())
ok = True
def fail(msg):
    global ok
    ok = False
    print("  " + msg, file=sys.stderr)
queries = []  # (where, PromQL)
def walk(panels):
    for p in panels:
        if p.get("type") == "row":
            walk(p.get("panels", []))
            continue
        if not p.get("targets"):
            fail("panel %r has no query" % p.get("title"))
        for t in p.get("targets", []):
            queries.append(("panel %r %s" % (p.get("title"), t.get("refId")), t.get("expr", "")))
walk(dash["panels"])
for v in dash["templating"]["list"]:
    if v["type"] != "query":
        continue
    q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
    m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q)
    if not m:
        fail("variable %s: not label_values(SELECTOR, LABEL): %s" % (v["name"], q))
        continue
    queries.append(("variable " + v["name"], m.group(1)))
used = set()
for where, q in queries:
    names = set(re.findall(r"\b(vnuma_[a-z0-9_]+)\b", q))
    if not names:
        fail("%s names no vnuma metric: %r" % (where, q))
    for n in sorted(names - exported):
        fail("%s: %s is not exported by vnumad" % (where, n))
    used |= names
for n in sorted(exported - used):
    fail("exported but on no panel: " + n)
# Grafana's variables, given values, for promtool's PromQL parser.
subst = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h",
         "$instance": ".*", "$domain": ".*"}
with open(sys.argv[3], "w") as out:
    out.write("groups:\n- name: dashboard\n  rules:\n")
    for i, (where, q) in enumerate(queries):
        for k, v in subst.items():
            q = q.replace(k, v)
        if "$" in q:
            fail("%s: unknown variable in %r" % (where, q))
        out.write("  - record: dashboard:query_%d\n    expr: %s\n" % (i, json.dumps(q)))
# The esxtop NUMA screen's fields, each on a panel.
exprs = " ".join(q for _, q in queries)
for field, pattern in (("node load", r"vnuma_node_load_cpus"), ("committed vCPUs", r"vnuma_node_committed_vcpus"),
                       ("free memory", r"vnuma_node_memory_free_bytes"), ("NHN", r"vnuma_client_home_node"),
                       ("N%L", r"vnuma_domain_memory_locality_ratio"),
                       ("NMIG by kind", r"by \([^)]*kind[^)]*\) \([^;]*vnuma_domain_migrations_total")):
    if not re.search(pattern, exprs):
        fail("esxtop field %s: no query (%s)" % (field, pattern))
sys.exit(0 if ok else 1)
PY
promtool check rules "$tmp/rules.yml" >"$tmp/promtool" 2>&1
check "every query is valid PromQL (promtool check rules)" [ $? -eq 0 ]
[ "$failed" -eq 0 ] || cat "$tmp/promtool" >&2
check "promtool parsed every query" grep -q "SUCCESS: $(grep -c 'record:' "$tmp/rules.yml") rules found" "$tmp/promtool"

finish test-grafana-dashboard
