# Sourced by the shell tests: counts checks and prints the closing line
# ("N passed, N failed") that CI reads. A script may define
# on_check_failed to show more when a check fails (e.g. a daemon's stderr).
passed=0
failed=0

check() {  # check NAME COMMAND...: passes when COMMAND succeeds
  local name=$1; shift
  if "$@"; then
    passed=$((passed + 1))
    last_check=$name
  else
    failed=$((failed + 1))
    echo "FAIL: $name" >&2
    if declare -F on_check_failed >/dev/null; then on_check_failed; fi
  fi
}

wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS
  local end=$((SECONDS + $1)); shift
  until "$@"; do
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.5
  done
}

finish() {  # finish [LABEL]: the closing line; fails when any check failed
  stop_deadline
  echo "${1:+$1: }$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

# --- Steps and the deadline ------------------------------------------------
# meson's timeout sends SIGTERM and, half a second later, SIGKILL: too soon
# for a test to destroy its domains, and all it prints is "Terminated". So
# a test that drives real daemons sets its own deadline, shorter than
# meson's: when it passes, the test says which step hung, fails, and its
# EXIT trap (cleanup) still runs. VNUMA_TEST_TIMEOUT_MULTIPLIER scales it
# like meson's --timeout-multiplier (scripts/sanitize.sh sets both).
current_step="set-up"
step() {  # step TEXT: names what the test does next (shown if it hangs)
  current_step=$*
  echo "step: $current_step"
}

on_deadline() {
  trap - USR1 TERM
  failed=$((failed + 1))
  echo "FAIL: timed out after ${deadline_seconds} s in step: $current_step" \
       "(last check passed: ${last_check:-none})" >&2
  if declare -F on_check_failed >/dev/null; then on_check_failed; fi
  finish || true
  exit 1
}

on_terminated() {
  trap - USR1 TERM
  echo "FAIL: terminated (SIGTERM) in step: $current_step" >&2
  exit 143
}

deadline() {  # deadline SECONDS: fail the test (after its cleanup) past SECONDS
  deadline_seconds=$(( $1 * ${VNUMA_TEST_TIMEOUT_MULTIPLIER:-1} ))
  local main=$$ secs=$deadline_seconds
  trap on_deadline USR1
  trap on_terminated TERM
  # A watchdog that ends by itself when the test does; it stops the test's
  # running command too (a hung virsh), so that bash gets to run the trap.
  (
    trap - EXIT USR1
    # stop_deadline ends it with its nap: a nap left behind would carry the
    # run's environment and count as a process the test left running.
    nap=
    trap '[ -z "$nap" ] || kill "$nap" 2>/dev/null; exit 0' TERM
    end=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$end" ]; do
      kill -0 "$main" 2>/dev/null || exit 0
      sleep 1 &
      nap=$!
      wait "$nap"
      nap=
    done
    kill -USR1 "$main" 2>/dev/null
    sleep 0.2
    pkill -TERM -P "$main" 2>/dev/null
  ) </dev/null >/dev/null 2>&1 &
  deadline_watchdog=$!
  disown "$deadline_watchdog"  # a test's bare `wait` must not wait for it
}

# stop_deadline: ends the watchdog, and waits (up to 2 s) until it has gone,
# so that the run's clean-up after this test finds nothing of it.
stop_deadline() {
  local wd=${deadline_watchdog:-} i
  [ -n "$wd" ] || return 0
  deadline_watchdog=
  kill -TERM "$wd" 2>/dev/null || return 0
  for i in $(seq 1 20); do
    case "$(awk '{print $3}' "/proc/$wd/stat" 2>/dev/null)" in ''|Z|X) break ;; esac
    sleep 0.1
  done
}

# The pid of the running libvirtd daemon, and its start time ("PID TICKS"),
# or nothing. Not `pgrep | head -1`: libvirtd forks children named libvirtd
# (hooks, QEMU before its exec), and where pid_max is 32768 pids wrap
# within a run, so the lowest pid need not be the daemon's. The daemon is
# the libvirtd whose parent is not one.
libvirtd_daemon() {
  local pid ppid
  for pid in $(pgrep -x libvirtd); do
    ppid=$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null) || continue
    [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = libvirtd ] && continue
    echo "$pid $(awk '{ print $22 }' "/proc/$pid/stat" 2>/dev/null)"
    return 0
  done
}
