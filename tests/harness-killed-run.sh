#!/usr/bin/env bash
# The test harness after a killed run (docs/testing.md), for real:
#   A. scripts/test.sh TEST in a session of its own, SIGKILLed (the whole
#      session) once a test domain runs: within a bound, nothing of that
#      run is left (its libvirtd and virtlogd, its state dir, the hook
#      wrapper, QEMUs of test domains, test processes and agents);
#   B. the same run sent SIGTERM: the interrupted test names its step, the
#      run fails, and nothing of it is left;
#   C. a run after both passes.
#   tests/harness-killed-run.sh [TEST]   (default test-agent-qemu)
# Runs scripts/test.sh itself, so not from inside one (it takes the lock).
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh
test_name=${1:-test-agent-qemu}
logs=$(mktemp -d /tmp/vnuma-harness.XXXXXX)
trap 'rm -rf "$logs"' EXIT

new_state_dir() {  # the state dir that appeared since the list in $1
  comm -13 "$1" <(ls -d /tmp/vnuma-libvirtd.* 2>/dev/null | sort) | head -n 1
}

test_domain_running() {
  virsh -q -c qemu:///system list --name 2>/dev/null | grep -q '^vnuma-test-'
}

# left STATEDIR LIBVIRTD_PID: what of that run still exists, one line each
left() {
  local state=$1 pid=$2 dir
  [ -d "$state" ] && echo "state dir $state"
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ] && echo "libvirtd $pid"
  grep -qs "$state" /etc/libvirt/hooks/qemu.d/vnuma && echo "hook wrapper of $state"
  pgrep -af "qemu-system.*guest=vnuma-test-" | sed 's/^/QEMU /'
  for dir in /proc/[0-9]*; do
    tr '\0' '\n' 2>/dev/null <"$dir/environ" | grep -qxF "VNUMA_TEST_HOOK_STATE=$state" &&
      echo "process ${dir#/proc/} $(cat "$dir/comm" 2>/dev/null)"
  done
  return 0
}

nothing_left() {  # nothing_left STATEDIR LIBVIRTD_PID: within 90 s
  local i
  for i in $(seq 1 90); do
    [ -z "$(left "$@")" ] && return 0
    sleep 1
  done
  left "$@" | sed 's/^/  left: /' >&2
  return 1
}

# start_run NAME: scripts/test.sh TEST in a session of its own, until a
# test domain runs; sets run_pid, run_state, run_libvirtd
start_run() {
  ls -d /tmp/vnuma-libvirtd.* 2>/dev/null | sort >"$logs/before"
  setsid scripts/test.sh "$test_name" >"$logs/$1.log" 2>&1 &
  run_pid=$!
  run_state=
  wait_for 600 bash -c '[ -n "$(comm -13 "$1" <(ls -d /tmp/vnuma-libvirtd.* 2>/dev/null | sort))" ]' _ "$logs/before" ||
    return 1
  run_state=$(new_state_dir "$logs/before")
  wait_for 120 test_domain_running || return 1
  run_libvirtd=$(cat "$run_state/libvirtd.pid" 2>/dev/null)
}

step "A. SIGKILL of the whole run"
check "A: a run reaches its first test domain" start_run killed
pkill -KILL -s "$run_pid"
check "A: nothing of the killed run is left" nothing_left "$run_state" "$run_libvirtd"

step "B. SIGTERM to the run"
check "B: a run reaches its first test domain" start_run terminated
kill -TERM "$run_pid"
wait "$run_pid"
check "B: the interrupted run fails" [ $? -ne 0 ]
check "B: nothing of the terminated run is left" nothing_left "$run_state" "$run_libvirtd"

step "C. a run after both"
scripts/test.sh "$test_name" >"$logs/after.log" 2>&1
check "C: the next run passes" [ $? -eq 0 ] || tail -20 "$logs/after.log" >&2
check "C: it found nothing to clean up" bash -c "! grep -q 'did not stop\|removing test domain\|left running' '$logs/after.log'"
finish harness-killed-run
