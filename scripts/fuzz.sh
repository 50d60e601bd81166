#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# ${BUILDDIR:-build-fuzz}, and runs each for FUZZ_SECONDS (default 60) on
# a corpus seeded from the examples. A crash, leak or sanitizer report
# fails the script; the input that caused it is left in BUILDDIR/crashes/.
#   scripts/fuzz.sh [TARGET...]     (targets: caps domain metadata config)
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${BUILDDIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(caps domain metadata config)

scripts/deps.sh
if [ ! -f "$builddir/build.ninja" ]; then
  CC=clang-14 meson setup "$builddir" -Dfuzzing=true -Dtests=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$builddir" "${targets[@]/#/tests/fuzz/fuzz-}" >/dev/null

# Seeds: the example hosts, domains and config; the metadata of every
# example domain; a few hand-made ones (tests/fuzz/seeds).
seed() {  # seed TARGET FILE...
  mkdir -p "$builddir/corpus/$1"
  cp "${@:2}" "$builddir/corpus/$1/"
}
seed caps examples/hosts/*.xml
seed domain examples/domains/*.xml tests/fuzz/seeds/domain/*
seed config examples/vnuma.conf tests/fuzz/seeds/config/*
seed metadata tests/fuzz/seeds/metadata/*
for d in examples/domains/*.xml; do
  sed -n '/<metadata>/,/<\/metadata>/p' "$d" | sed '1d;$d' >"$builddir/corpus/metadata/$(basename "$d")"
done

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export G_SLICE=always-malloc VNUMA_SRCDIR=$PWD
mkdir -p "$builddir/crashes"
# run_one TARGET: one fuzzer for $seconds; its log in BUILDDIR/fuzz-TARGET.log
run_one() {
  local t=$1 dict=()
  [ "$t" = config ] || dict=(-dict=tests/fuzz/xml.dict)
  "$builddir/tests/fuzz/fuzz-$t" "$builddir/corpus/$t" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$builddir/crashes/$t-" -print_final_stats=1 >"$builddir/fuzz-$t.log" 2>&1
}
# One fuzzer per core at a time: CI's wall time is what counts.
jobs=$(nproc)
pids=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  echo "scripts/fuzz.sh: fuzz-$t for ${seconds}s"
  run_one "$t" &
  pids+=($!)
done
status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  if ! wait "${pids[$i]}"; then
    echo "scripts/fuzz.sh: fuzz-$t FAILED; see $builddir/fuzz-$t.log and $builddir/crashes/" >&2
    grep -A30 -m1 -E '^==[0-9]+==ERROR|runtime error|deadly signal' "$builddir/fuzz-$t.log" >&2 \
      || tail -30 "$builddir/fuzz-$t.log" >&2
    status=1
  fi
  echo "fuzz-$t: $(grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$builddir/fuzz-$t.log" | tr -s ' \n' ' ')"
done
exit $status
