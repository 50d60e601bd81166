#!/usr/bin/env bash
# Starts a real system libvirtd (and virtlogd) for the tests, and undoes
# exactly what it did:
#   tests/libvirtd.sh start STATEDIR [HOOK]
#   tests/libvirtd.sh stop STATEDIR
#   tests/libvirtd.sh restart STATEDIR [SIGNAL]
#   tests/libvirtd.sh guard STATEDIR PID
# STATEDIR remembers what was created or started here. restart ends the
# libvirtd started with STATEDIR with SIGNAL (default TERM; KILL for a
# crash) and starts it again, as start did (the hook stays installed):
# for tests of what survives a libvirtd restart, inside a
# scripts/test.sh run (which holds the lock).
#
# With HOOK (the vnuma-hook binary; or $VNUMA_TEST_HOOK), start installs
# it BEFORE libvirtd starts (libvirtd looks for hooks only when it
# starts) as /etc/libvirt/hooks/qemu.d/vnuma: a wrapper that runs
#   env VNUMA_CONFIG=STATEDIR/vnuma.conf HOOK "$@"
# (libvirtd gives hooks no environment of ours), and writes a default
# STATEDIR/vnuma.conf with log_file=STATEDIR/hook.log. Tests rewrite
# STATEDIR/vnuma.conf between steps (the hook reads it at every call);
# the caller exports STATEDIR to them as VNUMA_TEST_HOOK_STATE.
# A libvirtd already running that this script did not start (with this
# STATEDIR) would never call the hook: start then fails.
set -euo pipefail
action=${1:-}
state=${2:-}
hook=${3:-${VNUMA_TEST_HOOK:-}}
sock=/run/libvirt/libvirt-sock
hooks_dir=/etc/libvirt/hooks
qemu_d=$hooks_dir/qemu.d
wrapper=$qemu_d/vnuma

. "$(dirname "$0")/lib.sh"   # libvirtd_daemon

die() { echo "tests/libvirtd.sh: $*" >&2; exit 1; }

record() {  # record FILE WORD: adds WORD to STATEDIR/FILE once
  grep -qx "$2" "$state/$1" 2>/dev/null || echo "$2" >>"$state/$1"
}

recorded() { grep -qx "$2" "$state/$1" 2>/dev/null; }

# The pid of the libvirtd this script started with this STATEDIR, if it still runs.
our_libvirtd() {
  local pid
  [ -f "$state/libvirtd.pid" ] || return 1
  pid=$(cat "$state/libvirtd.pid")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ] && echo "$pid"
}

install_hook() {
  local marker="# vnuma test hook wrapper, state $state"
  if [ ! -d "$hooks_dir" ]; then
    mkdir -p "$hooks_dir"
    record created hooksdir
  fi
  if [ ! -d "$qemu_d" ]; then
    mkdir -p "$qemu_d"
    record created qemudir
  fi
  if [ -e "$wrapper" ] || [ -L "$wrapper" ]; then
    if grep -qxF "$marker" "$wrapper" 2>/dev/null; then
      :  # ours, from an earlier start with this STATEDIR: rewritten below
    elif grep -q "^# vnuma test hook wrapper, state " "$wrapper" 2>/dev/null \
         && [ ! -d "$(sed -n 's/^# vnuma test hook wrapper, state //p' "$wrapper")" ]; then
      echo "tests/libvirtd.sh: replacing a stale test hook wrapper left by a run that did not stop" >&2
    else
      # Someone else's (e.g. an installed vnuma): put it back on stop.
      mv "$wrapper" "$state/qemu.d-vnuma.orig"
      record created hookbackup
    fi
  fi
  {
    echo '#!/bin/sh'
    echo "$marker"
    echo "# Installed by tests/libvirtd.sh start; removed by tests/libvirtd.sh stop."
    printf 'exec env VNUMA_CONFIG=%q %q "$@"\n' "$state/vnuma.conf" "$hook"
  } >"$wrapper.tmp"
  chmod 755 "$wrapper.tmp"
  mv "$wrapper.tmp" "$wrapper"
  record created hook
  if [ ! -f "$state/vnuma.conf" ]; then
    printf '[vnuma]\nlog_file=%s\n' "$state/hook.log" >"$state/vnuma.conf"
  fi
}

uninstall_hook() {
  if recorded created hook; then
    rm -f "$wrapper"
  fi
  if recorded created hookbackup && { [ -e "$state/qemu.d-vnuma.orig" ] || [ -L "$state/qemu.d-vnuma.orig" ]; }; then
    mv "$state/qemu.d-vnuma.orig" "$wrapper"
  fi
  if recorded created qemudir; then
    rmdir "$qemu_d" 2>/dev/null || echo "tests/libvirtd.sh: $qemu_d not empty; left in place" >&2
  fi
  if recorded created hooksdir; then
    rmdir "$hooks_dir" 2>/dev/null || echo "tests/libvirtd.sh: $hooks_dir not empty; left in place" >&2
  fi
}

start() {
  [ -n "$state" ] || die "usage: $0 start STATEDIR [HOOK]"
  if [ "$(id -u)" -ne 0 ]; then
    die "must run as root to start the system libvirtd"
  fi
  if [ -n "$hook" ]; then
    [ -x "$hook" ] || die "hook binary '$hook' is not an executable file"
    hook=$(realpath "$hook")
  fi
  mkdir -p "$state"
  state=$(realpath "$state")
  # The hook (and vnumactl without --caps) keep their topology cache there.
  [ -e /run/vnuma ] || record created runvnuma

  local running ours=""
  running=$(libvirtd_daemon | cut -d" " -f1)
  ours=$(our_libvirtd || true)
  if [ -n "$hook" ] && [ -n "$running" ] && [ "$running" != "$ours" ]; then
    die "a libvirtd (pid $running) is already running, not started by '$0 start $state';" \
        "libvirtd reads its hooks only when it starts, so it would never call the vnuma hook." \
        "Stop it first (e.g. kill $running) and run this again."
  fi
  if [ -n "$hook" ] && [ -n "$ours" ] && ! recorded created hook; then
    die "libvirtd (pid $ours) was started by an earlier start with $state but without the hook;" \
        "stop it ($0 stop $state) and start again"
  fi

  if ! id libvirt-qemu >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu
    record created user
  fi
  if [ ! -d /var/log/libvirt ]; then
    mkdir -p /var/log/libvirt
    record created logdir
  fi
  if [ -n "$hook" ]; then
    install_hook
  fi
  # A virtlogd without its socket is on its way out (the stop of the run
  # that held the lock before): let it go rather than count on it.
  if pgrep -x virtlogd >/dev/null && [ ! -S /run/libvirt/virtlogd-sock ]; then
    for _ in $(seq 1 100); do
      pgrep -x virtlogd >/dev/null || break
      sleep 0.1
    done
  fi
  if ! pgrep -x virtlogd >/dev/null; then
    virtlogd -d
    record started virtlogd
    pgrep -x virtlogd | head -n 1 >"$state/virtlogd.pid" || true
  fi
  if ! pgrep -x libvirtd >/dev/null; then
    libvirtd -d
    record started libvirtd
  fi
  for _ in $(seq 1 100); do
    if [ -S "$sock" ] && virsh -c qemu:///system version >/dev/null 2>&1; then
      if recorded started libvirtd && [ -z "$ours" ]; then
        libvirtd_daemon | cut -d" " -f1 >"$state/libvirtd.pid"
      fi
      # A run that was killed may have left test domains defined (the new
      # libvirtd loaded them): every run starts clean.
      remove_test_domains
      return 0
    fi
    sleep 0.1
  done
  die "libvirtd did not answer on $sock"
}

# Every domain a test makes is named vnuma-test-*: what a killed test left
# behind is found by that name, and nothing else is ever touched.
test_domain_pattern='^vnuma-test-'

remove_test_domains() {  # through the libvirtd that answers on $sock
  local name
  [ -S "$sock" ] || return 0
  for name in $(timeout 30 virsh -q -c qemu:///system list --all --name 2>/dev/null |
                grep -E "$test_domain_pattern"); do
    echo "tests/libvirtd.sh: removing test domain $name (left by a test that did not clean up)" >&2
    timeout 60 virsh -q -c qemu:///system destroy "$name" >/dev/null 2>&1
    timeout 60 virsh -q -c qemu:///system undefine --managed-save --snapshots-metadata "$name" \
      >/dev/null 2>&1 || true
  done
}

kill_test_qemus() {  # once no libvirtd of ours is left to destroy them
  local pid
  for pid in $(pgrep -f "qemu-system.*guest=vnuma-test-" || true); do
    echo "tests/libvirtd.sh: killing QEMU $pid of a test domain" >&2
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# kill_test_processes: the tests and agents of the run that used STATEDIR,
# found by the VNUMA_TEST_HOOK_STATE they inherit. meson runs each test in
# a session of its own, so a killed run can leave one running on its own.
kill_test_processes() {
  local dir pid comm
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = $$ ] && continue
    comm=$(cat "$dir/comm" 2>/dev/null) || continue
    case "$comm" in libvirtd|virtlogd|qemu*) continue ;; esac  # ended below
    if tr '\0' '\n' 2>/dev/null <"$dir/environ" | grep -qxF "VNUMA_TEST_HOOK_STATE=$state"; then
      echo "tests/libvirtd.sh: ending $comm (pid $pid), left running by a test" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# end_process PID: SIGTERM, and SIGKILL if it is still there after a bound
# (a libvirtd can hang in its own shutdown).
end_process() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 150); do
    [ -d "/proc/$pid" ] || return 0
    sleep 0.1
  done
  echo "tests/libvirtd.sh: $(cat "/proc/$pid/comm" 2>/dev/null) (pid $pid) ignored SIGTERM for 15 s: SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    [ -d "/proc/$pid" ] || return 0
    sleep 0.1
  done
  echo "tests/libvirtd.sh: pid $pid still there after SIGKILL" >&2
}

# stop_daemon NAME: ends the NAME this script started (by its recorded pid)
stop_daemon() {
  local pid=""
  recorded started "$1" || return 0
  [ -f "$state/$1.pid" ] && pid=$(cat "$state/$1.pid")
  if [ -z "$pid" ]; then
    pid=$(pgrep -x "$1" | head -n 1 || true)
  fi
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]; then
    end_process "$pid"
  fi
}

stop() {
  [ -n "$state" ] || die "usage: $0 stop STATEDIR"
  [ -d "$state" ] || return 0
  # What runs from here on is no test of that run.
  unset VNUMA_TEST_HOOK_STATE VNUMA_TEST_LIBVIRT_URI
  kill_test_processes
  if our_libvirtd >/dev/null; then
    remove_test_domains
  fi
  stop_daemon libvirtd
  kill_test_qemus
  stop_daemon virtlogd
  # The hook goes once the daemon that used it is gone.
  uninstall_hook
  if recorded created logdir; then rm -rf /var/log/libvirt; fi
  if recorded created runvnuma; then rm -rf /run/vnuma; fi
  if recorded created user; then userdel libvirt-qemu 2>/dev/null || true; fi
  rm -rf "$state"
}

restart() {
  local signal=${3:-TERM} pid
  [ -n "$state" ] || die "usage: $0 restart STATEDIR [SIGNAL]"
  pid=$(our_libvirtd) || die "no libvirtd started by '$0 start $state' is running"
  kill -s "$signal" "$pid"
  for _ in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  [ ! -d "/proc/$pid" ] || die "libvirtd (pid $pid) did not end on SIG$signal"
  libvirtd -d
  for _ in $(seq 1 100); do
    if [ -S "$sock" ] && virsh -c qemu:///system version >/dev/null 2>&1; then
      libvirtd_daemon | cut -d" " -f1 >"$state/libvirtd.pid"
      return 0
    fi
    sleep 0.1
  done
  die "libvirtd did not answer on $sock after the restart"
}

# guard STATEDIR PID: once PID (the run that started libvirtd with STATEDIR)
# is gone, stops what it started unless it did so itself. Started in a
# session of its own, it outlives a run killed outright (SIGKILL).
guard() {
  local pid=${3:?usage: $0 guard STATEDIR PID}
  while kill -0 "$pid" 2>/dev/null; do sleep 1; done
  [ -d "$state" ] || return 0
  exec 9>/run/lock/vnuma-test.lock
  flock 9
  [ -d "$state" ] || return 0
  exec 2>>/tmp/vnuma-test-guard.log
  echo "tests/libvirtd.sh: $(date -Is): the run (pid $pid) ended without stopping; stopping what it started" >&2
  stop
}

case "$action" in
  start) start ;;
  stop) stop ;;
  guard) guard "$@" ;;
  restart) restart "$@" ;;
  *) echo "usage: $0 start STATEDIR [HOOK] | stop STATEDIR | restart STATEDIR [SIGNAL] | guard STATEDIR PID" >&2; exit 2 ;;
esac
