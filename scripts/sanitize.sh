#!/usr/bin/env bash
# The whole suite (scripts/test.sh, same arguments) once more, built with
# AddressSanitizer + LeakSanitizer + UndefinedBehaviorSanitizer in
# ${BUILDDIR:-build-asan}. Any report fails the test that caused it: UB
# is not recoverable (-fno-sanitize-recover), ASan and LSan exit non-zero.
# The hook is linked dynamically there (hooks/meson.build).
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILDDIR=${BUILDDIR:-build-asan}

scripts/deps.sh
if [ ! -f "$BUILDDIR/build.ninja" ]; then
  meson setup "$BUILDDIR" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all >/dev/null
fi
# Add fast_unwind_on_malloc=0 for whole stacks through glib (no frame
# pointers there) when reading a report: it triples the suite's CPU time.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# glib's slice allocator hides leaks and frees from ASan.
export G_SLICE=always-malloc
# The tests' own deadlines (tests/lib.sh) stretch as meson's timeouts do.
export VNUMA_TEST_TIMEOUT_MULTIPLIER=3
# Nova's own NUMA tests under the driver (suite nova-own) check that it
# changes nothing Nova owns; the driver's C path runs in test-nova-driver.
exec scripts/test.sh --timeout-multiplier=3 --no-suite nova-own "$@"
