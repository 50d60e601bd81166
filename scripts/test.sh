#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what it
# needs, builds, starts a real libvirtd (with vnuma-hook installed) for the tests that use
# it, runs every meson test, and undoes what it set up.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILDDIR:-build}

scripts/deps.sh

# libvirt daemonises QEMU, so a QEMU's parent is the nearest subreaper, or
# PID 1. When libvirt kills a QEMU it polls until the process is gone, and
# a zombie still answers: where PID 1 reaps orphans late (seconds, on some
# machines), every destroy, save and daemon shutdown stalls that long.
# tini -s makes this run a subreaper that reaps at once, whatever PID 1 is.
if [ -z "${VNUMA_TEST_SUBREAPER:-}" ]; then
  exec tini -s -- env VNUMA_TEST_SUBREAPER=tini "$0" "$@"
fi

scripts/build.sh

# One system libvirtd per machine: concurrent runs (several checkouts, a
# developer beside CI) wait for each other instead of fighting over it.
exec 9>/run/lock/vnuma-test.lock
flock 9

# Holding the lock, any state dir of an earlier run is one that was killed
# before it could stop: end its libvirtd and what its tests left.
for old in /tmp/vnuma-libvirtd.*; do
  [ -d "$old" ] || continue
  echo "scripts/test.sh: cleaning up after an earlier run that did not stop ($old)" >&2
  tests/libvirtd.sh stop "$old" 9>&-
done

state=$(mktemp -d /tmp/vnuma-libvirtd.XXXXXX)
trap 'tests/libvirtd.sh stop "$state" 9>&-' EXIT
trap 'exit 143' TERM INT
# If this run is killed outright, a guard in a session of its own stops
# what it started (docs/testing.md).
setsid tests/libvirtd.sh guard "$state" $$ </dev/null >/dev/null 2>&1 9>&- &
# The lock's descriptor stays with this shell: a daemon or test that
# inherited it would hold the lock after this run is gone.
tests/libvirtd.sh start "$state" "$builddir/hooks/vnuma-hook" 9>&-

export VNUMA_TEST_LIBVIRT_URI=qemu:///system VNUMA_TEST_HOOK_STATE=$state
status=0
# In the background, so that a SIGTERM or SIGINT to this run reaches meson
# at once (it then stops the running tests, whose deadlines' traps report
# the step they were in) and the EXIT trap above still cleans up.
meson test -C "$builddir" --no-rebuild --print-errorlogs "$@" 9>&- &
meson_pid=$!
trap 'kill -TERM "$meson_pid" 2>/dev/null; wait "$meson_pid"; exit 143' TERM INT
wait "$meson_pid" || status=$?
trap 'exit 143' TERM INT

# A skipped test is a check that did not run: count it as a failure.
skipped=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += r.get("result") == "SKIP"
    n += r.get("stdout", "").count("[  SKIPPED ]")
print(n)' "$builddir/meson-logs/testlog.json")
if [ "$skipped" != 0 ]; then
  echo "scripts/test.sh: $skipped test(s) skipped; every check must run" >&2
  status=1
fi
exit $status
