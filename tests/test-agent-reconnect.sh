#!/usr/bin/env bash
# vnumad survives libvirtd restarting under it: a private, unprivileged
# libvirtd (session mode, as 'nobody', its own socket in a temp dir)
# serves libvirt's test driver; the agent connects over that socket,
# places the test domain, sees the daemon go away, reconnects with
# backoff to the new one, places again (a new test driver is a new host
# state), and stops cleanly. The system libvirtd is never touched.
#   tests/test-agent-reconnect.sh PATH/TO/vnumad
set -uo pipefail
vnumad=$1
if [ "$(id -u)" -ne 0 ] || ! command -v libvirtd >/dev/null || ! command -v runuser >/dev/null; then
  echo "SKIP: needs root, libvirtd and runuser (to run a private libvirtd as 'nobody')"
  exit 77
fi

tmp=$(mktemp -d /tmp/vnuma-reconnect.XXXXXX)
chown nobody "$tmp"
chmod 755 "$tmp"
sock=$tmp/run/libvirt/libvirt-sock
uri="test+unix:///default?socket=$sock"
libvirtd_pid=
agent_pid=
. "$(dirname "$0")/lib.sh"
deadline 90  # meson's timeout (tests/meson.build) leaves room for the cleanup

cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
  [ -n "$libvirtd_pid" ] && kill "$libvirtd_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

on_check_failed() {
  sed 's/^/  vnumad: /' "$tmp/agent.err" >&2
}

start_libvirtd() {
  rm -f "$sock"
  runuser -u nobody -- env HOME="$tmp" XDG_RUNTIME_DIR="$tmp/run" XDG_CONFIG_HOME="$tmp/config" \
    XDG_CACHE_HOME="$tmp/cache" XDG_DATA_HOME="$tmp/data" libvirtd --timeout 0 \
    >>"$tmp/libvirtd.log" 2>&1 &
  libvirtd_pid=$!
  for _ in $(seq 1 100); do
    [ -S "$sock" ] && virsh -c "$uri" version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "private libvirtd did not come up:" >&2
  tail -5 "$tmp/libvirtd.log" >&2
  return 1
}

places() {  # the number of report lines in which the agent placed 'test'
  grep -c '"domain":"test","uuid":"[^"]*","action":"place","applied":true' "$tmp/agent.out"
}

wait_places() {  # wait_places N: until 'test' was placed N times (10 s at most)
  for _ in $(seq 1 100); do
    [ "$(places)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

step "a private libvirtd and the agent placing through it"
printf '[vnuma]\nrebalance_period=0.5\n' >"$tmp/vnuma.conf"
check "private libvirtd up" start_libvirtd
"$vnumad" --connect "$uri" --config "$tmp/vnuma.conf" --report json >"$tmp/agent.out" 2>"$tmp/agent.err" &
agent_pid=$!
check "placed through the daemon" wait_places 1
check "pins read back" bash -c "virsh -c '$uri' vcpupin test | grep -qE '^ *0 +0-7$'"

step "libvirtd goes away and comes back"
kill "$libvirtd_pid"
wait "$libvirtd_pid" 2>/dev/null
libvirtd_pid=
sleep 1
check "agent alive without libvirtd" kill -0 "$agent_pid"
check "restarted libvirtd up" start_libvirtd
check "placed again after reconnecting" wait_places 2
check "logged the loss" grep -q "reconnecting\|lost the connection" "$tmp/agent.err"

step "the agent stops on SIGTERM"
kill -TERM "$agent_pid"
wait "$agent_pid"
check "agent exits 0 on SIGTERM" [ "$?" -eq 0 ]
agent_pid=

finish test-agent-reconnect
