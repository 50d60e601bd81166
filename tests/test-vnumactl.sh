#!/usr/bin/env bash
# vnumactl plan, end to end: formats, exit codes and messages.
#   tests/test-vnumactl.sh PATH/TO/vnumactl
set -uo pipefail
vnumactl=$1
src=${VNUMA_SRCDIR:?run through meson}
hosts=$src/examples/hosts
domains=$src/examples/domains
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"


# run ARGS...: leaves stdout, stderr and the exit code in $tmp/{out,err}, $rc
run() {
  "$vnumactl" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

json_field() {  # json_field EXPR: evaluates EXPR against the JSON in $tmp/out as j
  python3 -c "import json,sys; j=json.load(open(sys.argv[1])); r=($1); print(r)" "$tmp/out"
}

one_line_error() {  # exit $1, stderr a single line containing $2
  [ "$rc" -eq "$1" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q -- "$2" "$tmp/err" \
    && [ ! -s "$tmp/out" ]
}

# xml (default): the rewritten domain, valid for libvirt's schema
run plan --caps "$hosts/xeon-2s10c-ht.xml" "$domains/wide-12vcpu.xml"
check "xml exit 0" [ "$rc" -eq 0 ]
cp "$tmp/out" "$tmp/wide.xml"
check "xml validates" virt-xml-validate "$tmp/wide.xml" domain
check "xml has cells" grep -q "<cell id='1' cpus='6-11' memory='25165824' unit='KiB'>" "$tmp/wide.xml"

# stdin
"$vnumactl" plan --caps "$hosts/xeon-2s10c-ht.xml" - <"$domains/wide-12vcpu.xml" >"$tmp/stdin.xml"
check "stdin gives the same" cmp -s "$tmp/stdin.xml" "$tmp/wide.xml"

# idempotent: vnuma's own output planned again is unchanged
run plan --caps "$hosts/xeon-2s10c-ht.xml" "$tmp/wide.xml"
check "idempotent" cmp -s "$tmp/out" "$tmp/wide.xml"

# json: the promised fields
run plan --caps "$hosts/xeon-2s10c-ht.xml" --format json "$domains/wide-12vcpu.xml"
check "json exit 0" [ "$rc" -eq 0 ]
check "json managed" [ "$(json_field 'j["managed"]')" = True ]
check "json clients" [ "$(json_field '[c["vcpus"] for c in j["clients"]]')" = "[[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]" ]
check "json home nodes" [ "$(json_field '[c["home_node"] for c in j["clients"]]')" = "[0, 1]" ]
check "json client memory" [ "$(json_field 'sum(c["memory_kib"] for c in j["clients"])')" = 50331648 ]
check "json cells" [ "$(json_field '[(c["vcpus"][0], c["memory_kib"]) for c in j["vnuma_cells"]]')" = "[(0, 25165824), (6, 25165824)]" ]
check "json topology" [ "$(json_field 'j["topology"]')" = "{'sockets': 2, 'dies': 1, 'cores': 6, 'threads': 1}" ]
check "json warnings list" [ "$(json_field 'j["warnings"]')" = "[]" ]

run plan --caps "$hosts/xeon-2s10c-ht.xml" --format json "$domains/numad-auto.xml"
check "json unmanaged" [ "$(json_field 'j["managed"], "numad" in j["reason"], j["vnuma_cells"]')" = "(False, True, [])" ]

run plan --caps "$hosts/xeon-2s10c-ht.xml" --format json "$domains/narrow-8vcpu.xml"
check "json no cells when not exposed" [ "$(json_field 'len(j["clients"]), j["vnuma_cells"]')" = "(1, [])" ]

# unmanaged: output is the input, byte for byte
run plan --caps "$hosts/xeon-2s10c-ht.xml" "$domains/nova-pinned.xml"
check "unmanaged unchanged" cmp -s "$tmp/out" "$domains/nova-pinned.xml"
check "unmanaged says why" grep -q "not managed" "$tmp/err"

# text: which vCPUs form which client on which node, cells, why
run plan --caps "$hosts/xeon-2s10c-ht.xml" --format text "$domains/wide-12vcpu.xml"
check "text clients" grep -q "client 1: vCPUs 6-11 .*home node 1" "$tmp/out"
check "text cells" grep -q "cell 0: vCPUs 0-5" "$tmp/out"
check "text rules" grep -q "rule 3" "$tmp/out"

# bad overrides: exit 0, a warning naming each attribute
run plan --caps "$hosts/xeon-2s10c-ht.xml" "$domains/bad-overrides-12vcpu.xml"
check "bad overrides exit 0" [ "$rc" -eq 0 ]
for attr in preferHT coresPerSocket vcpuMin; do
  check "warning names $attr" grep -q "warning: .*$attr" "$tmp/err"
done
cp "$tmp/out" "$tmp/bad.xml"
check "bad overrides output validates" virt-xml-validate "$tmp/bad.xml" domain

# config file defaults
printf '[vnuma]\npreferHT=yes\nmemory_mode=strict\n' >"$tmp/vnuma.conf"
run plan --caps "$hosts/xeon-2s10c-ht.xml" --config "$tmp/vnuma.conf" --format json "$domains/wide-12vcpu.xml"
check "config preferHT" [ "$(json_field 'len(j["clients"]), j["memory_mode"]')" = "(1, 'strict')" ]

# sysfs when no --caps: this machine
run plan --format json "$domains/narrow-8vcpu.xml"
check "sysfs host" [ "$rc" -eq 0 ]

# unreadable input: non-zero, one line naming the problem
run plan --caps "$hosts/xeon-2s10c-ht.xml" "$tmp/missing.xml"
check "missing domain file" one_line_error 1 "missing.xml"
run plan --caps "$tmp/missing-host.xml" "$domains/wide-12vcpu.xml"
check "missing caps file" one_line_error 1 "missing-host.xml"
echo "this is not xml" >"$tmp/garbage.xml"
run plan --caps "$hosts/xeon-2s10c-ht.xml" "$tmp/garbage.xml"
check "not XML" one_line_error 1 "not XML"
run plan --caps "$hosts/xeon-2s10c-ht.xml" "$hosts/small-2node.xml"
check "not a domain" one_line_error 1 "not a domain"
echo "<capabilities><host><cpu/></host></capabilities>" >"$tmp/nocells.xml"
run plan --caps "$tmp/nocells.xml" "$domains/wide-12vcpu.xml"
check "caps without cells" one_line_error 1 "no NUMA cells"
run plan --caps "$hosts/xeon-2s10c-ht.xml" --format yaml "$domains/wide-12vcpu.xml"
check "bad format" one_line_error 2 "yaml"
run plan --caps "$hosts/xeon-2s10c-ht.xml"
check "no domain" one_line_error 2 "DOMAIN.xml"
run frobnicate
check "unknown command" [ "$rc" -eq 2 ]

finish
