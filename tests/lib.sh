# Sourced by the shell tests: counts checks and prints the closing line
# ("N passed, N failed") that CI reads. A script may define
# on_check_failed to show more when a check fails (e.g. a daemon's stderr).
passed=0
failed=0

check() {  # check NAME COMMAND...: passes when COMMAND succeeds
  local name=$1; shift
  if "$@"; then
    passed=$((passed + 1))
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
  echo "${1:+$1: }$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
