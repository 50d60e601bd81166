#!/usr/bin/env bash
# The vnuma Nova driver (adapters/nova) on Nova's own functional stack
# (Debian 12's python3-nova, installed by scripts/deps.sh), then Nova's
# own tests (e.g. functional/libvirt/test_numa_servers.py, run with
# --driver vnuma). Arguments: those of tests/nova/run.py.
set -euo pipefail
src=${VNUMA_SRCDIR:?} build=${VNUMA_BUILDDIR:?}
export LD_LIBRARY_PATH=$build/plugin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# A sanitizer build of libvnuma.so loads into an uninstrumented python3
# only with the runtimes preloaded; the interpreter's own allocations are
# not ours to leak-check.
lib=$build/plugin/libvnuma.so.1
preload=()
needed=$(ldd "$lib")   # whole, not piped into grep -q (SIGPIPE under pipefail)
for rt in libasan.so libubsan.so; do
  if [[ $needed == *"${rt%.so}"* ]]; then
    preload+=("$(gcc -print-file-name="$rt")")
  fi
done
if [ ${#preload[@]} -gt 0 ]; then
  # ASan intercepts crypt(); Python's _crypt (imported by Nova) dlopens
  # libcrypt after it, and the interceptor would call a null pointer.
  preload+=(libcrypt.so.1)
  export LD_PRELOAD="${preload[*]}"
  # greenlet switches stacks under eventlet: no fake stacks either.
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:detect_stack_use_after_return=0"
fi
cd "$src/tests/nova"
exec /usr/bin/python3 run.py "$@"
