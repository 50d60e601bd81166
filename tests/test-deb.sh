#!/usr/bin/env bash
# The Debian packages, for real on this machine (issue 18): built with
# `dpkg-buildpackage -us -uc -b` from a copy of the sources (once per set
# of sources: the ASan run of CI reuses the plain run's), lintian without
# an error or an unexplained warning, installed with `apt-get install
# ./*.deb`, then: the hook in place and called by the real libvirtd for a
# real (TCG) guest; vnumad run by the unit's own ExecStart line, placing
# that guest, its metrics served by a real prometheus-node-exporter;
# vnumactl on libvnuma.so.1; libvnuma-dev compiling a program; an upgrade
# keeping a changed conffile; remove keeping the config, purge leaving
# nothing behind (dpkg -L and the files under /etc and the other
# directories the packages touch, before and after).
#
# Installs packages and changes /etc: it runs only inside scripts/test.sh,
# which holds /run/lock/vnuma-test.lock for the whole meson run (this test
# does not take it again: that would deadlock) and is_parallel: false
# keeps every other test of the run out meanwhile. It moves the run's
# test hook wrapper (tests/libvirtd.sh) aside while the package's hook is
# installed, and puts it back.
#   tests/test-deb.sh
set -uo pipefail
src=${VNUMA_SRCDIR:?run through meson}
uri=${VNUMA_TEST_LIBVIRT_URI:-}
lock=/run/lock/vnuma-test.lock
if [ -z "$uri" ] || [ -z "${VNUMA_TEST_HOOK_STATE:-}" ] || flock -n "$lock" true; then
  echo "SKIP: installs and purges packages on this machine: run only through scripts/test.sh," \
       "which holds $lock and runs a libvirtd (scripts/test.sh counts a skip as a failure)"
  exit 77
fi

packages=(vnuma libvnuma1 libvnuma-dev python3-vnuma-nova)
# Exists while this test has the packages installed: a run killed before
# its cleanup (SIGKILL) leaves it, and the next run purges them first.
marker=/var/lib/vnuma-test-deb.installed
wrapper=/etc/libvirt/hooks/qemu.d/vnuma
unit=/lib/systemd/system/vnumad.service
tmp=$(mktemp -d)
chmod 755 "$tmp"   # apt reads the .debs as _apt
guest=vnuma-test-deb-$$
daemon=
ne_pid=
export DEBIAN_FRONTEND=noninteractive
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/prometheus.sh"
deadline 840  # meson's timeout (tests/meson.build) leaves room for the cleanup

installed() {  # installed PACKAGE: unpacked or configured (not: absent, config-files)
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qE '^(installed|unpacked|half-configured|half-installed)$'
}

known() {  # known PACKAGE: dpkg knows it at all (installed or config-files)
  dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qv '^not-installed$'
}

absent() { ! known "$1"; }

purge_known() {  # purge_known WHO: dpkg --purge what dpkg knows of the packages, in one go (dependencies)
  local p known_packages=()
  for p in "${packages[@]}"; do known "$p" && known_packages+=("$p"); done
  [ ${#known_packages[@]} -eq 0 ] && return 0
  echo "$1: purging ${known_packages[*]}" >&2
  dpkg --purge "${known_packages[@]}" >/dev/null 2>&1
}

restore_wrapper() {  # the run's test hook back; dpkg removed qemu.d with the package's link
  if [ -e "$tmp/wrapper.saved" ] || [ -L "$tmp/wrapper.saved" ]; then
    mkdir -p "$(dirname "$wrapper")"
    mv -f "$tmp/wrapper.saved" "$wrapper"
  fi
}

cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  stop_node_exporter
  virsh -c "$uri" destroy "$guest" >/dev/null 2>&1
  purge_known cleanup
  rm -f "$marker"
  restore_wrapper
  rm -rf "$tmp"
}
trap cleanup EXIT

on_check_failed() {
  for f in vnumad.err node_exporter.log; do
    [ -s "$tmp/$f" ] && tail -n 20 "$tmp/$f" | sed "s/^/  $f: /" >&2
  done
  return 0
}

# What the packages may touch: paths, types, modes and link targets.
snapshot() {
  find /etc /lib/systemd /usr/lib/systemd /usr/libexec /usr/sbin /usr/bin /usr/include \
      /usr/lib/x86_64-linux-gnu/pkgconfig /usr/share/doc /usr/share/man /var/lib/systemd \
      -xdev -printf '%p %y %m %l\n' 2>/dev/null | grep -v '^/etc/ld.so.cache ' | sort
}

dpkg_list() {  # dpkg -L of every package, errors included
  for p in "${packages[@]}"; do echo "== $p"; dpkg -L "$p" 2>&1; done
}

# --- 1. Build (or reuse) and lintian -----------------------------------------
step "1. dpkg-buildpackage -us -uc -b (or the packages of the same sources)"
check "the sources are a git checkout" git -C "$src" rev-parse --git-dir >/dev/null
# The package's sources: every file git lists (changes not committed
# included) but tests/, which the package build does not read (-Dtests=disabled).
sources() { git -C "$src" ls-files -co --exclude-standard -z -- . ':!tests'; }
# This script too: what it keeps in the cache may change with it.
hash=$(cd "$src" && { sources; printf 'tests/test-deb.sh\0'; } | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
cache=$src/build-deb/$hash
if [ -f "$cache/done" ]; then
  echo "reusing the packages built from these same sources (sha256 $hash) earlier: $cache"
else
  rm -rf "$src/build-deb"
  mkdir -p "$tmp/build/vnuma-$version" "$cache"
  (cd "$src" && sources | xargs -0 cp -a --parents -t "$tmp/build/vnuma-$version")
  start=$SECONDS
  # nocheck: the project's suite needs root and a real libvirtd (debian/rules);
  # noddebs: no -dbgsym packages, so ./*.deb is the four packages.
  (cd "$tmp/build/vnuma-$version" &&
     DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$cache/build.log" 2>&1
  rc=$?
  echo "dpkg-buildpackage: exit $rc in $((SECONDS - start)) s"
  check "dpkg-buildpackage -us -uc -b: exit 0" [ $rc -eq 0 ]
  [ $rc -eq 0 ] || tail -n 30 "$cache/build.log" >&2
  cp "$tmp"/build/*.deb "$tmp"/build/*.changes "$tmp"/build/*.buildinfo "$cache/" 2>/dev/null
  start=$SECONDS
  lintian --pedantic --show-overrides --tag-display-limit 0 "$cache"/*.changes >"$cache/lintian.txt" 2>"$cache/lintian.err"
  echo "lintian --show-overrides: exit $? in $((SECONDS - start)) s (2 whenever it shows an override)"
  lintian --pedantic --fail-on error,warning "$cache"/*.changes >/dev/null 2>&1
  echo $? >"$cache/lintian.rc"
  [ $rc -eq 0 ] && touch "$cache/done"
fi
for p in "${packages[@]}"; do
  check "built: ${p}_${version}_*.deb" ls "$cache/${p}_${version}_"*.deb >/dev/null
done
# Issue 16: vnumactl takes lib/, xml/ and probe/ from libvnuma1, partly
# through the private node, so it needs that very build of the library;
# the Nova driver calls vnuma.h's API alone (ctypes), any later one does.
deb_field() { dpkg-deb -f "$(ls "$cache/${1}_${version}_"*.deb | head -n 1)" "$2" 2>/dev/null; }
check "vnuma depends on libvnuma1 (= $version)" \
  bash -c "grep -qF 'libvnuma1 (= $version)' <<<'$(deb_field vnuma Depends)'"
check "python3-vnuma-nova depends on libvnuma1 (>= $version)" \
  bash -c "grep -qF 'libvnuma1 (>= $version)' <<<'$(deb_field python3-vnuma-nova Depends)'"
dpkg-deb --ctrl-tarfile "$(ls "$cache/libvnuma1_${version}_"*.deb | head -n 1)" 2>/dev/null |
  tar -xO ./symbols >"$tmp/libvnuma1.symbols" 2>/dev/null
check "libvnuma1's symbols: the public node, symbol by symbol" \
  grep -q '^ vnuma_plan_new@VNUMA_1 ' "$tmp/libvnuma1.symbols"
# The (symver) pattern of debian/libvnuma1.symbols, as dpkg writes it out:
# each symbol it matched.
check "libvnuma1's symbols: the private node" \
  grep -q '^ vnuma_request_from_domain@VNUMA_PRIVATE_1\.0 ' "$tmp/libvnuma1.symbols"
check "built: nothing else (no -dbgsym)" [ "$(ls "$cache"/*.deb | wc -l)" -eq ${#packages[@]} ]
sed 's/^/  lintian: /' "$cache/lintian.txt"
check "lintian read the packages" grep -q "^O: vnuma: statically-linked-binary" "$cache/lintian.txt"
check "lintian --pedantic --fail-on error,warning: exit 0" [ "$(cat "$cache/lintian.rc" 2>/dev/null)" = 0 ]
check "lintian: no error" bash -c "! grep -q '^E:' '$cache/lintian.txt'"
check "lintian: no warning" bash -c "! grep -q '^W:' '$cache/lintian.txt'"
# Every override is stated with its reason: a comment above each block.
check "lintian overrides: each one with its reason" python3 - "$src"/debian/*.lintian-overrides <<'PY'
import sys
for path in sys.argv[1:]:
    commented = False
    for line in open(path):
        line = line.strip()
        if not line:
            commented = False
        elif line.startswith("#"):
            commented = True
        elif not commented:
            sys.exit("%s: override without a reason: %s" % (path, line))
PY
check "every override was used" bash -c "[ \"\$(grep -c '^O:' '$cache/lintian.txt')\" -eq \
  \"\$(cat '$src'/debian/*.lintian-overrides | grep -cv '^\(#\|\$\)')\" ]"

# --- 2. Install --------------------------------------------------------------
step "2. apt-get install ./*.deb"
if [ -f "$marker" ]; then
  echo "an earlier run of this test was killed with the packages installed: purging them"
  purge_known "an earlier run"
  rm -f "$marker"
fi
for p in "${packages[@]}"; do
  check "$p not installed before the test (not installed by someone else: never touched)" absent "$p"
done
[ "$failed" -eq 0 ] || { trap - EXIT; rm -rf "$tmp"; finish test-deb; exit 1; }
snapshot >"$tmp/before.txt"
dpkg_list >"$tmp/dpkg-before.txt"
mkdir "$tmp/debs"
cp "$cache"/*.deb "$tmp/debs/"
chmod 644 "$tmp"/debs/*.deb
if [ -e "$wrapper" ] || [ -L "$wrapper" ]; then
  mv "$wrapper" "$tmp/wrapper.saved"   # the run's test hook: back in cleanup
fi
libvirtd_before=$(libvirtd_daemon)   # "PID TICKS": a restart, even with the pid reused, differs
touch "$marker"
start=$SECONDS
(cd "$tmp/debs" && apt-get install -y ./*.deb) >"$tmp/install.log" 2>&1
check "apt-get install ./*.deb: exit 0" [ $? -eq 0 ]
echo "apt-get install: $((SECONDS - start)) s"
grep -i 'vnuma\|libvirtd\|systemd' "$tmp/install.log" | grep -v '^\(Get\|Selecting\|Preparing\|Unpacking\)' | sed 's/^/  apt: /'
for p in "${packages[@]}"; do
  check "$p installed" installed "$p"
done
check "postinst: says libvirtd must be restarted for the hook" \
  grep -q "vnuma: libvirtd must be restarted to pick up the hook" "$tmp/install.log"
libvirtd_after=$(libvirtd_daemon)
check "postinst: libvirtd not restarted (pid and start time ${libvirtd_before:-none} -> ${libvirtd_after:-none})" \
  [ -n "$libvirtd_before" -a "$libvirtd_after" = "$libvirtd_before" ]

dpkg -L vnuma >"$tmp/files.txt"
for f in /usr/libexec/vnuma-hook "$wrapper" /usr/sbin/vnumad /usr/bin/vnumactl "$unit" /etc/vnuma/vnuma.conf \
    /usr/share/man/man1/vnumactl.1.gz /usr/share/man/man8/vnumad.8.gz /usr/share/man/man8/vnuma-hook.8.gz \
    /usr/share/man/man5/vnuma.conf.5.gz; do
  check "vnuma ships $f" grep -qx "$f" "$tmp/files.txt"
done
check "the hook: $wrapper -> /usr/libexec/vnuma-hook" [ "$(readlink "$wrapper")" = /usr/libexec/vnuma-hook ]
"$wrapper" web prepare begin - <"$src/examples/domains/wide-12vcpu.xml" >"$tmp/hook.out" 2>"$tmp/hook.err"
check "the hook runs (prepare begin: exit 0, advice on stderr)" \
  bash -c "[ $? -eq 0 ] && grep -q '^vnuma-hook: web prepare begin: ' '$tmp/hook.err'"
check "conffile: /etc/vnuma/vnuma.conf" bash -c "dpkg-query -W -f='\${Conffiles}' vnuma | grep -q '^ /etc/vnuma/vnuma.conf '"
check "man finds the packaged vnumad(8)" bash -c "man -aw vnumad 2>/dev/null | grep -qx /usr/share/man/man8/vnumad.8.gz"
check "the unit enabled (multi-user.target.wants)" \
  [ "$(readlink /etc/systemd/system/multi-user.target.wants/vnumad.service)" = "$unit" ]
check "postinst starts the unit under systemd (deb-systemd-invoke)" \
  grep -q "deb-systemd-invoke \$_dh_action 'vnumad.service'" /var/lib/dpkg/info/vnuma.postinst
check "prerm stops it on removal (deb-systemd-invoke stop)" \
  grep -q "deb-systemd-invoke stop 'vnumad.service'" /var/lib/dpkg/info/vnuma.prerm
check "vnumactl finds libvnuma.so.1" \
  bash -c "ldd /usr/bin/vnumactl | grep -qE 'libvnuma\.so\.1 => (/usr)?/lib/x86_64-linux-gnu/libvnuma\.so\.1 '"
check "vnumactl takes libvnuma's private symbols from libvnuma.so.1" \
  bash -c "objdump -T /usr/bin/vnumactl | grep -q 'VNUMA_PRIVATE_1\.0.* vnuma_request_from_domain\$'"
check "python3-vnuma-nova: Nova imports the driver from its own package" \
  /usr/bin/python3 -c "import nova.virt.vnuma.driver as d, sys; sys.exit(not hasattr(d, 'VnumaLibvirtDriver'))"
check "python3-vnuma-nova: the driver loads the packaged libvnuma.so.1" \
  /usr/bin/python3 -c "from nova.virt.vnuma import libvnuma; libvnuma.Context().close()"
vnumactl plan --caps "$src/examples/hosts/xeon-2s10c-ht.xml" --format json "$src/examples/domains/wide-12vcpu.xml" \
  >"$tmp/plan.json" 2>"$tmp/plan.err"
check "vnumactl plan runs" python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['managed']" "$tmp/plan.json"
cat >"$tmp/use.c" <<'C'
#include <vnuma/vnuma.h>
int main(void) {
  g_autoptr(VnumaContext) ctx = vnuma_context_new();
  g_autoptr(GError) error = NULL;
  /* No host loaded: an error of the public domain, through the exported quark. */
  return vnuma_plan_new(ctx, "<domain/>", 9, &error) != NULL ||
         !g_error_matches(error, VNUMA_ERROR, VNUMA_ERROR_NOT_FOUND);
}
C
# shellcheck disable=SC2046
gcc -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs vnuma) 2>"$tmp/cc.err"
check "libvnuma-dev: a program builds with pkg-config vnuma" [ $? -eq 0 ]
check "libvnuma-dev: it runs on /usr/lib/x86_64-linux-gnu/libvnuma.so.1" bash -c \
  "'$tmp/use' && ldd '$tmp/use' | grep -qE 'libvnuma\.so\.1 => (/usr)?/lib/x86_64-linux-gnu/libvnuma\.so\.1 '"

# --- 3. vnumad under the unit's ExecStart, a real guest, node_exporter ------
step "3. vnumad under the unit's ExecStart; the hook and the agent with a real guest"
# The administrator's change to the conffile (kept by the upgrade below).
# The unit's vnumad acts on every domain of the host: no other test runs
# meanwhile, but a definition someone left on this libvirtd is not to be
# rewritten (define_sizing=false).
mkdir "$tmp/textfile"
cat >>/etc/vnuma/vnuma.conf <<EOF
# changed by tests/test-deb.sh
rebalance_period=0.5
define_sizing=false
metrics_path=$tmp/textfile/vnuma.prom
log_file=$tmp/hook.log
EOF
read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
check "the unit's ExecStart is /usr/sbin/vnumad" [ "${exec_start[0]:-}" = /usr/sbin/vnumad ]
if [ "$(cat /proc/1/comm)" = systemd ] && [ -d /run/systemd/system ]; then
  echo "systemd is PID 1: the postinst started vnumad.service; restarting it for the changed config"
  systemctl restart vnumad.service
  check "vnumad.service active" systemctl is-active --quiet vnumad.service
else
  echo "systemd is not PID 1 here (PID 1 is '$(cat /proc/1/comm)'), so the postinst enabled vnumad.service" \
       "but could not start it: running the unit's ExecStart directly (${exec_start[*]})," \
       "with its CapabilityBoundingSet, NoNewPrivileges and UMask"
  (umask 0022; exec env VNUMA_TEST_UNIT="$unit" VNUMA_TEST_VNUMAD="${exec_start[0]}" \
     "$src/tests/vnumad-least-privilege.sh" "${exec_start[@]:1}") >"$tmp/vnumad.out" 2>"$tmp/vnumad.err" &
  daemon=$!
fi
check "vnumad connected (vnuma_agent_connected 1)" \
  wait_for 60 grep -sqx 'vnuma_agent_connected 1' "$tmp/textfile/vnuma.prom"
sed -e "s|<name>qemu-tcg-wide</name>|<name>$guest</name>|" -e '/<uuid>/d' \
  "$src/examples/domains/qemu-tcg-wide.xml" >"$tmp/guest.xml"
virsh -c "$uri" create "$tmp/guest.xml" >/dev/null 2>"$tmp/virsh.err"
check "guest started" [ $? -eq 0 ]
uuid=$(virsh -c "$uri" domuuid "$guest" 2>/dev/null | head -n 1)
check "libvirtd called the installed hook for the guest" \
  wait_for 10 grep -sq " $guest prepare begin: " "$tmp/hook.log"
check "vnumad placed the guest and measured its locality" \
  wait_for 30 grep -sq "^vnuma_domain_memory_locality_ratio{domain=\"$guest\"" "$tmp/textfile/vnuma.prom"
vnumactl explain --connect "$uri" --format json "$guest" >"$tmp/explain.json" 2>"$tmp/explain.err"
check "vnumactl explain reads the agent's record" [ -s "$tmp/explain.json" ]
check "node_exporter serves vnumad's textfile" start_node_exporter "$tmp/textfile" "$tmp/node_exporter.log"
scrape "$ne_url" "$tmp/scrape.txt"
"$(dirname "$0")/prom-samples.py" "$tmp/scrape.txt" >"$tmp/scrape.json"
check "scraped and parsed $ne_url" [ $? -eq 0 ]
check "every vnuma metric, with the guest's labels and values" \
  python3 - "$tmp/scrape.json" "$tmp/explain.json" "$guest" "$uuid" <<'PY'
import glob, json, os, re, sys, time
scrape = json.load(open(sys.argv[1]))
explain = json.load(open(sys.argv[2]))
guest, uuid = sys.argv[3], sys.argv[4]
samples = [(n, l, v) for n, l, v in scrape["samples"] if n.startswith("vnuma_")]
ok = True
def fail(msg):
    global ok
    ok = False
    print("  " + msg, file=sys.stderr)
def of(name, **labels):
    return [(l, v) for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
mine = dict(domain=guest, uuid=uuid)
# Home nodes: the clients of the agent's record, as vnumactl explain shows them.
clients = explain["clients"]
if not explain.get("placed_by_agent"):
    fail("vnumactl explain: not placed by the agent: %s" % explain)
homes = of("vnuma_client_home_node", **mine)
if len(homes) != len(clients) or not clients:
    fail("home node samples %s for clients %s" % (homes, clients))
for i, c in enumerate(clients):
    got = of("vnuma_client_home_node", client=str(i), **mine)
    if [v for _, v in got] != [c["home_node"]] or got[0][0].get("vcpus") != c["vcpus"]:
        fail("client %d: %s, explain %s" % (i, got, c))
nodes = sorted(int(os.path.basename(p)[4:]) for p in glob.glob("/sys/devices/system/node/node[0-9]*"))
loc = of("vnuma_domain_memory_locality_ratio", **mine)
if len(loc) != 1 or not 0 <= loc[0][1] <= 1 or (len(nodes) == 1 and loc[0][1] != 1):
    fail("locality %s (host nodes %s)" % (loc, nodes))
for kind in ("balance", "locality", "swap"):
    got = of("vnuma_domain_migrations_total", kind=kind, **mine)
    if [v for _, v in got] != [explain["migrations"][kind]]:
        fail("migrations %s: %s, explain %s" % (kind, got, explain["migrations"]))
def cpus(node):
    n = 0
    for part in open("/sys/devices/system/node/node%d/cpulist" % node).read().strip().split(","):
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n
# Committed: the vCPUs of every client homed on the node, this guest's
# and any other domain's the agent placed.
committed = {}
for l, v in of("vnuma_client_home_node"):
    a = 0
    for part in l["vcpus"].split(","):
        x, _, y = part.partition("-")
        a += int(y or x) - int(x) + 1
    committed[int(v)] = committed.get(int(v), 0) + a
for node in nodes:
    lab = {"node": str(node)}
    cap = [v for _, v in of("vnuma_node_capacity_cpus", **lab)]
    if cap != [cpus(node)]:
        fail("node %d capacity %s, sysfs %d" % (node, cap, cpus(node)))
    com = [v for _, v in of("vnuma_node_committed_vcpus", **lab)]
    if com != [committed.get(node, 0)]:
        fail("node %d committed %s, want %d (its clients' vCPUs)" % (node, com, committed.get(node, 0)))
    load = [v for _, v in of("vnuma_node_load_cpus", **lab)]
    if len(load) != 1 or not load[0] >= 0:  # run + ready time: may exceed the CPUs
        fail("node %d load %s" % (node, load))
    meminfo = open("/sys/devices/system/node/node%d/meminfo" % node).read()
    free = int(re.search(r"MemFree:\s+(\d+) kB", meminfo).group(1)) * 1024
    got = [v for _, v in of("vnuma_node_memory_free_bytes", **lab)]
    if len(got) != 1 or abs(got[0] - free) > 0.25 * free:
        fail("node %d free bytes %s, sysfs now %d" % (node, got, free))
if [v for _, v in of("vnuma_agent_connected")] != [1]:
    fail("vnuma_agent_connected %s" % of("vnuma_agent_connected"))
passes = [v for _, v in of("vnuma_agent_passes_total")]
if len(passes) != 1 or passes[0] < 2:
    fail("vnuma_agent_passes_total %s" % passes)
stamp = [v for _, v in of("vnuma_agent_last_pass_timestamp_seconds")]
if len(stamp) != 1 or not time.time() - 60 < stamp[0] <= time.time():
    fail("vnuma_agent_last_pass_timestamp_seconds %s" % stamp)
types = scrape["types"]
if types.get("vnuma_domain_migrations_total") != "counter" or types.get("vnuma_agent_passes_total") != "counter":
    fail("counter types %s" % types)
sys.exit(0 if ok else 1)
PY
check "node_exporter read the textfile without error" grep -qx 'node_textfile_scrape_error 0' "$tmp/scrape.txt"
promtool check metrics <"$tmp/textfile/vnuma.prom" >"$tmp/promtool" 2>&1
check "promtool check metrics on a real guest's metrics: nothing to say" \
  bash -c "[ $? -eq 0 ] && [ ! -s '$tmp/promtool' ]"
stop_node_exporter
virsh -c "$uri" destroy "$guest" >/dev/null 2>&1
if [ -n "$daemon" ]; then
  # What the prerm's deb-systemd-invoke stop would do under systemd.
  kill -TERM "$daemon"
  wait "$daemon"
  check "vnumad stops cleanly on SIGTERM (exit 0)" [ $? -eq 0 ]
  daemon=
fi

# --- 4. Upgrade keeps a changed conffile -----------------------------------
step "4. upgrade to $version+upgradetest keeps the changed /etc/vnuma/vnuma.conf"
mkdir "$tmp/up" "$tmp/debs-up"
dpkg-deb -R "$tmp"/debs/vnuma_"$version"_*.deb "$tmp/up/root"
sed -i "s/^Version: .*/Version: $version+upgradetest/" "$tmp/up/root/DEBIAN/control"
dpkg-deb -b "$tmp/up/root" "$tmp/debs-up/vnuma_$version+upgradetest_amd64.deb" >/dev/null
chmod -R a+rX "$tmp/debs-up"
(cd "$tmp/debs-up" && apt-get install -y ./*.deb) >"$tmp/upgrade.log" 2>&1
check "apt-get install (upgrade): exit 0" [ $? -eq 0 ]
check "upgraded" [ "$(dpkg-query -W -f='${Version}' vnuma)" = "$version+upgradetest" ]
check "the changed conffile kept" grep -qx "# changed by tests/test-deb.sh" /etc/vnuma/vnuma.conf
check "no .dpkg-new/.dpkg-dist/.dpkg-old beside it" bash -c "! ls /etc/vnuma/ | grep -q dpkg"
check "upgrade: no first-install message" bash -c "! grep -q 'libvirtd must be restarted' '$tmp/upgrade.log'"

# --- 5. Remove keeps the config, purge leaves nothing ------------------------
step "5. apt-get remove, then purge"
apt-get remove -y "${packages[@]}" >"$tmp/remove.log" 2>&1
check "apt-get remove: exit 0" [ $? -eq 0 ]
check "remove: vnuma leaves its config files" \
  [ "$(dpkg-query -W -f='${db:Status-Status}' vnuma)" = config-files ]
check "remove: /etc/vnuma/vnuma.conf kept, with the change" grep -qx "# changed by tests/test-deb.sh" /etc/vnuma/vnuma.conf
check "remove: the hook gone" bash -c "[ ! -e '$wrapper' ] && [ ! -L '$wrapper' ]"
check "remove: vnumad and the libraries gone" \
  bash -c "[ ! -e /usr/sbin/vnumad ] && [ ! -e /usr/lib/x86_64-linux-gnu/libvnuma.so.1 ]"
# Only what dpkg still knows: apt no longer knows a removed local .deb.
purge=()
for p in "${packages[@]}"; do known "$p" && purge+=("$p"); done
apt-get purge -y "${purge[@]}" >"$tmp/purge.log" 2>&1
check "apt-get purge ${purge[*]}: exit 0" [ $? -eq 0 ]
[ "$failed" -eq 0 ] || sed 's/^/  purge: /' "$tmp/purge.log" >&2
check "purge: /etc/vnuma gone" [ ! -e /etc/vnuma ]
rm -f "$marker"
dpkg_list >"$tmp/dpkg-after.txt"
check "dpkg -L: as before the install" diff -u "$tmp/dpkg-before.txt" "$tmp/dpkg-after.txt"
restore_wrapper
snapshot >"$tmp/after.txt"
check "nothing left behind in /etc, /lib/systemd, /usr, /var/lib/systemd" diff -u "$tmp/before.txt" "$tmp/after.txt"
check "no packaged vnumad left running" bash -c "! pgrep -f '^/usr/sbin/vnumad ' >/dev/null"

finish test-deb
