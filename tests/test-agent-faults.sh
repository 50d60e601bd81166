#!/usr/bin/env bash
# Fault injection for vnumad against a real system libvirtd (issue #6
# item 3), with diskless TCG guests. For each fault: no VM lost, none
# left pinned where it should not be, and the log says what happened.
#   1. a domain destroyed between the decision and the apply
#   2. vCPU pins that succeed, then a nodeset change libvirt refuses
#      (for real: a capabilities file claims a second memory node this
#      host lacks) → rolled back, record left pending, recovered later
#   3. the final metadata write fails (test fault point) → rolled back
#   4. the agent SIGKILLed between pins and record (fault point to stop
#      it there) → the restarted agent recovers the half-applied domain
#   5. libvirtd killed (SIGKILL) and restarted during a pass of the
#      running daemon → it reconnects and places the domain
#   6. libvirtd restarted (SIGTERM) under the running daemon → it
#      reconnects and resumes from the record, changing nothing
#   7. another job holds the domain (a monitor command to a QEMU stopped
#      with SIGSTOP): libvirt gives up on the placement after its 30 s wait
#      → the daemon tries again on a later pass and places it once the
#      job ended
#   8. the record libvirt holds names a home node the live nodeset lacks
#      (drifted from what the agent applied) → on resume an invariant of
#      memory following is violated: an error, the memory no longer followed
# Fault points (VNUMA_AGENT_FAULT, docs/agent.md) are used only where
# the failure cannot be provoked for real at that moment: a stop point
# to act in the middle of a pass (1, 4, 5), and a refused record write (3).
#   tests/test-agent-faults.sh PATH/TO/vnumad
# Needs VNUMA_TEST_LIBVIRT_URI and VNUMA_TEST_HOOK_STATE (scripts/test.sh
# sets them; it holds the lock that makes restarting libvirtd safe);
# exits 77 (skip) without them. Domains are named vnuma-test-faults-PID-*,
# the agent is scoped to them, and they are destroyed on exit.
set -uo pipefail
vnumad=$1
src=${VNUMA_SRCDIR:?run through meson}
uri=${VNUMA_TEST_LIBVIRT_URI:-}
state=${VNUMA_TEST_HOOK_STATE:-}
if [ -z "$uri" ] || [ -z "$state" ]; then
  echo "SKIP: needs the libvirtd of a scripts/test.sh run (VNUMA_TEST_LIBVIRT_URI, VNUMA_TEST_HOOK_STATE)"
  exit 77
fi

tmp=$(mktemp -d)
prefix=vnuma-test-faults-$$
made=()
agent_pid=
. "$(dirname "$0")/lib.sh"
deadline 420  # meson's timeout (tests/meson.build) leaves room for the cleanup

cleanup() {
  # A QEMU left stopped would hold its monitor job (and the suite) forever.
  [ -n "${qemu_pid:-}" ] && kill -CONT "$qemu_pid" 2>/dev/null
  [ -n "${monitor_pid:-}" ] && kill "$monitor_pid" 2>/dev/null
  if [ -n "$agent_pid" ]; then
    kill -CONT "$agent_pid" 2>/dev/null
    kill "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
  fi
  for name in "${made[@]}"; do
    virsh -c "$uri" destroy "$name" >/dev/null 2>&1
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

on_check_failed() {
  [ -f "$tmp/err" ] && sed 's/^/  vnumad: /' "$tmp/err" >&2
}

create() {  # create NAME: a running transient 2-vCPU guest
  made+=("$1")
  sed -e "s|<name>qemu-tcg-wide</name>|<name>$1</name>|" -e '/<uuid>/d' \
      -e "s|<vcpu placement='static'>10</vcpu>|<vcpu placement='static'>2</vcpu>|" \
      -e "s|524288|131072|g" "$src/examples/domains/qemu-tcg-wide.xml" >"$tmp/$1.xml"
  virsh -c "$uri" create "$tmp/$1.xml" >/dev/null
}

running() { [ "$(virsh -c "$uri" domstate "$1" 2>/dev/null)" = running ]; }

# Every vCPU's and the emulator's affinity, e.g. "0-1 0-1 | 0-1".
affinity() {
  local vcpus emulator
  vcpus=$(virsh -c "$uri" vcpupin "$1" | awk '$1 ~ /^[0-9]+$/ { print $2 }' | tr '\n' ' ')
  emulator=$(virsh -c "$uri" emulatorpin "$1" | awk '$1 == "*:" { print $2 }')
  echo "${vcpus}| $emulator"
}

record_attr() {  # record_attr NAME ATTR: an attribute of the agent's record
  virsh -c "$uri" metadata "$1" urn:x-vnuma:agent:1 2>/dev/null |
    sed -n "s/.*<state [^>]*$2=\"\([^\"]*\)\".*/\1/p"
}

once() {  # once NAME [ENV...]: one pass scoped to NAME; rc in $rc
  local name=$1; shift
  env "$@" "$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma.conf" --domain "$name" --once \
    --report json >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

is_stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]; }

stopped() {  # stopped PID: waits (10 s at most) until PID stopped itself
  for _ in $(seq 1 100); do
    is_stopped "$1" && return 0
    sleep 0.1
  done
  return 1
}

logged() { grep -q -- "$1" "$tmp/err"; }

stop_agent() {  # stop_agent: SIGTERM the daemon; its exit status (99: had to be killed after 30 s)
  local pid=$agent_pid
  agent_pid=
  kill -CONT "$pid" 2>/dev/null
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; return; }
    sleep 0.1
  done
  kill -KILL "$pid"
  wait "$pid"
  return 99
}

# This host: one NUMA node, CPUs 0-1. host_cpuset=1 makes the agent's
# pins visible (CPU 1, not the unpinned 0-1).
printf '[vnuma]\nhost_cpuset=1\ndefine_sizing=false\n' >"$tmp/vnuma.conf"
unpinned="0-1 0-1 | 0-1"
placed="1 1 | 1"

# 1. Destroyed between decision and apply.
step "1. Destroyed between decision and apply"
a=$prefix-a
check "1: create" create "$a"
VNUMA_AGENT_FAULT=stop-before-apply "$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma.conf" --domain "$a" \
  --once >"$tmp/out" 2>"$tmp/err" &
pid=$!
check "1: agent stopped before applying" stopped "$pid"
virsh -c "$uri" destroy "$a" >/dev/null
kill -CONT "$pid"
wait "$pid"
check "1: exits 0 (a vanished domain is no failure)" [ "$?" -eq 0 ]
check "1: log says it stopped during placement" logged "$a: forget: stopped during place"
check "1: domain gone, nothing else" bash -c "! virsh -c '$uri' domstate '$a' >/dev/null 2>&1"

# 2. Pins applied, nodeset refused by libvirt for real, rolled back.
step "2. Pins applied, nodeset refused by libvirt for real, rolled back"
b=$prefix-b
check "2: create" create "$b"
virsh -c "$uri" capabilities >"$tmp/caps.xml"
python3 "$src/tests/split-caps.py" "$tmp/caps.xml" "$tmp/caps-2mem.xml"
printf '[vnuma]\nhost_cpuset=1\ndefine_sizing=false\ncapabilities=%s\n' "$tmp/caps-2mem.xml" >"$tmp/vnuma-2mem.conf"
"$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma-2mem.conf" --domain "$b" --once --report json \
  >"$tmp/out" 2>"$tmp/err"
check "2: exits 1 (the placement failed)" [ "$?" -eq 1 ]
check "2: log names the refused nodeset" logged "memory nodeset 1 refused"
check "2: log says rolled back" logged "rolled back (pins restored, record left pending)"
check "2: pins back to unpinned" [ "$(affinity "$b")" = "$unpinned" ]
check "2: still running" running "$b"
check "2: record left pending" [ "$(record_attr "$b" pending)" = yes ]
once "$b"
check "2: next agent exits 0" [ "$rc" -eq 0 ]
check "2: next agent recovers" logged "$b: recover:"
check "2: then placed on CPU 1" [ "$(affinity "$b")" = "$placed" ]
check "2: record complete" [ -z "$(record_attr "$b" pending)" ]

# 3. The final record write fails: pins and nodeset rolled back.
step "3. The final record write fails: pins and nodeset rolled back"
c=$prefix-c
check "3: create" create "$c"
once "$c" VNUMA_AGENT_FAULT=fail-record
check "3: exits 1" [ "$rc" -eq 1 ]
check "3: log names the fault" logged "saving the record: refused (test fault point"
check "3: log says rolled back" logged "rolled back (pins and nodeset restored, record left pending)"
check "3: pins back to unpinned" [ "$(affinity "$c")" = "$unpinned" ]
check "3: still running" running "$c"
once "$c"
check "3: next agent recovers and places" bash -c "[ $rc -eq 0 ] && grep -q '$c: recover:' '$tmp/err'"
check "3: placed on CPU 1" [ "$(affinity "$c")" = "$placed" ]

# 4. SIGKILL between the pins and the record.
step "4. SIGKILL between the pins and the record"
d=$prefix-d
check "4: create" create "$d"
VNUMA_AGENT_FAULT=stop-after-pins "$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma.conf" --domain "$d" \
  --once >"$tmp/out" 2>"$tmp/err" &
pid=$!
check "4: agent stopped after the pins" stopped "$pid"
check "4: log says where" logged "test fault point: stopping after the pins"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "4: half applied: vCPUs pinned, record pending" \
  bash -c "[ '$(record_attr "$d" pending)' = yes ] && virsh -c '$uri' vcpupin '$d' | grep -qE '^ *0 +1 *$'"
once "$d"
check "4: restarted agent exits 0" [ "$rc" -eq 0 ]
check "4: recovers (not left alone as admin pins)" logged "$d: recover:"
check "4: placed" [ "$(affinity "$d")" = "$placed" ]
check "4: record complete" [ -z "$(record_attr "$d" pending)" ]
check "4: nodeset restrictive" bash -c "virsh -c '$uri' numatune '$d' | grep -qE '^numa_mode *: restrictive'"

# 5. libvirtd killed and restarted during a pass of the daemon.
step "5. libvirtd killed and restarted during a pass of the daemon"
e=$prefix-e
check "5: create" create "$e"
printf '[vnuma]\nhost_cpuset=1\ndefine_sizing=false\nrebalance_period=0.5\n' >"$tmp/vnuma.conf"
VNUMA_AGENT_FAULT=stop-before-apply "$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma.conf" --domain "$e" \
  --report json >"$tmp/daemon.out" 2>"$tmp/err" &
agent_pid=$!
check "5: daemon stopped before applying" stopped "$agent_pid"
check "5: libvirtd killed and restarted" "$src/tests/libvirtd.sh" restart "$state" KILL
kill -CONT "$agent_pid"
# It reconnects (with backoff: 1, 2, 4 … s while the new libvirtd
# comes up), decides again, and stops at the fault point again: let it
# go on each time until the domain is placed.
for _ in $(seq 1 300); do
  [ "$(affinity "$e" 2>/dev/null)" = "$placed" ] && break
  is_stopped "$agent_pid" && kill -CONT "$agent_pid"
  sleep 0.2
done
check "5: VM survived the restart" running "$e"
check "5: placed after reconnecting" [ "$(affinity "$e")" = "$placed" ]
check "5: log says the connection was lost" \
  bash -c "grep -qE 'lost the connection|connection to .* closed; reconnecting|stopped during place' '$tmp/err'"
check "5: log says it connected again" bash -c "[ \$(grep -c 'connected to $uri' '$tmp/err') -ge 2 ]"
check "5: daemon alive" kill -0 "$agent_pid"
stop_agent
check "5: daemon exits 0 on SIGTERM" [ "$?" -eq 0 ]

# 6. libvirtd restarted under the running daemon: it resumes.
step "6. libvirtd restarted under the running daemon: it resumes"
"$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma.conf" --domain "$e" --report json \
  >"$tmp/daemon.out" 2>"$tmp/err" &
agent_pid=$!
for _ in $(seq 1 50); do grep -q '"action":"resume"' "$tmp/daemon.out" && break; sleep 0.1; done
before=$(virsh -c "$uri" dumpxml "$e")
check "6: libvirtd restarted" "$src/tests/libvirtd.sh" restart "$state" TERM
for _ in $(seq 1 300); do
  [ "$(grep -c '"action":"resume"' "$tmp/daemon.out")" -ge 2 ] && break
  sleep 0.2
done
check "6: resumed again after reconnecting" [ "$(grep -c '"action":"resume"' "$tmp/daemon.out")" -ge 2 ]
check "6: VM and its pins untouched" [ "$before" = "$(virsh -c "$uri" dumpxml "$e")" ]
check "6: no failed action" bash -c "! grep -q '\"failed\":true' '$tmp/daemon.out'"
stop_agent
check "6: daemon exits 0" [ "$?" -eq 0 ]

# 7. Another job holds the domain: placement refused as busy, retried.
# The job: a monitor command to a QEMU stopped with SIGSTOP, which waits
# for the answer (without the domain's lock) until QEMU goes on.
step "7. Another job holds the domain: placement refused as busy, retried"
f=$prefix-f
check "7: create" create "$f"
qemu_pid=$(cat "/run/libvirt/qemu/$f.pid")
kill -STOP "$qemu_pid"
timeout 300 virsh -c "$uri" qemu-monitor-command "$f" '{"execute":"query-status"}' >"$tmp/monitor.out" 2>&1 &
monitor_pid=$!
# libvirtd takes the job as soon as the call reaches it: let it, so the
# agent's first step meets it.
sleep 3
check "7: the monitor command waits on the stopped QEMU" kill -0 "$monitor_pid"
"$vnumad" --verbose --connect "$uri" --config "$tmp/vnuma.conf" --domain "$f" --report json \
  >"$tmp/daemon.out" 2>"$tmp/err" &
agent_pid=$!
check "7: log says libvirt was busy, placing again next pass" \
  wait_for 90 grep -q "$f: place: .*state change lock.*; placing it again next pass" "$tmp/err"
check "7: not placed while the job lasts" [ "$(affinity "$f")" = "$unpinned" ]
kill -CONT "$qemu_pid"
check "7: the monitor job ends" wait "$monitor_pid"
placed_and_recorded() {
  [ "$(affinity "$f")" = "$placed" ] && [ -n "$(record_attr "$f" pins)" ] && [ -z "$(record_attr "$f" pending)" ]
}
check "7: placed on a later pass, record complete" wait_for 90 placed_and_recorded
check "7: daemon alive" kill -0 "$agent_pid"
stop_agent
check "7: daemon exits 0" [ "$?" -eq 0 ]

# 8. The record libvirt holds drifted from what the agent applied (it
# names a home node the live nodeset the agent set lacks): on resume an
# invariant of memory following is violated. Logged as an error (a failed
# action), the domain's memory no longer followed; pins left alone.
step "8. The record libvirt holds drifted from what the agent applied"
h=$prefix-h
check "8: create" create "$h"
once "$h"
check "8: placed" [ "$(affinity "$h")" = "$placed" ]
virsh -c "$uri" metadata "$h" urn:x-vnuma:agent:1 2>/dev/null | sed 's/ node="0"/ node="1"/' >"$tmp/drift.xml"
check "8: the record edited to home node 1" grep -q ' node="1"' "$tmp/drift.xml"
virsh -c "$uri" metadata "$h" urn:x-vnuma:agent:1 --live --key vnumad --set "$(cat "$tmp/drift.xml")" >/dev/null
once "$h"
check "8: exit 1 (a failed action)" [ "$rc" -eq 1 ]
check "8: logged: invariant violated, memory no longer followed" \
  logged "$h: memory: invariant violated: the live nodeset 0 lacks home nodes' memory nodes of 1; no longer following"
check "8: pins left alone" [ "$(affinity "$h")" = "$placed" ]

finish test-agent-faults
