#!/usr/bin/env bash
# The whole test suite: install dependencies, build, run every tier.
#   1. the release build and its tests (unit, property)
#   2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. a short libFuzzer run of every decoder (TALLY_FUZZ_SECONDS each, default 15; 0 skips)
# Exits non-zero on any failure and ends with one summary line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)
fuzz_seconds=${TALLY_FUZZ_SECONDS:-15}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/tally-ccache}

scripts/install-deps.sh

step() { printf '\n== %s\n' "$*"; }
passed_total=0
failed_total=0
# Runs ctest in a build directory and adds its counts to the totals.
run_ctest() {
  local build_dir=$1 log
  log=$(mktemp)
  local status=0
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600 2>&1 | tee "$log" || status=$?
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1 || true)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "test.sh: ctest in $build_dir printed no summary" >&2
    failed_total=$((failed_total + 1))
    return 1
  fi
  local failed total
  failed=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  passed_total=$((passed_total + total - failed))
  failed_total=$((failed_total + failed))
  [ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
}

overall=0

step "release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
step "release tests"
run_ctest build || overall=1

step "sanitizer build (ASan + UBSan)"
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTALLY_SANITIZE=ON \
  -DTALLY_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-sanitize -j "$jobs"
step "sanitizer tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_ctest build-sanitize || overall=1

if [ "$fuzz_seconds" -gt 0 ]; then
  step "fuzz build (clang, libFuzzer)"
  CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTALLY_FUZZ=ON \
    -DTALLY_BUILD_TESTS=OFF -DTALLY_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build build-fuzz -j "$jobs"
  for fuzzer in build-fuzz/fuzz_*; do
    name=$(basename "$fuzzer" | sed 's/^fuzz_//')
    corpus=$(mktemp -d)
    [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
    step "fuzz $name for ${fuzz_seconds}s"
    if "$fuzzer" -max_total_time="$fuzz_seconds" -print_final_stats=1 -artifact_prefix="$root/build-fuzz/$name-" \
        "$corpus" >"build-fuzz/$name.log" 2>&1; then
      passed_total=$((passed_total + 1))
      grep -E '^stat::number_of_executed_units' "build-fuzz/$name.log" || true
    else
      failed_total=$((failed_total + 1))
      overall=1
      tail -40 "build-fuzz/$name.log"
    fi
    rm -rf "$corpus"
  done
fi

echo
echo "summary: ${passed_total} passed, ${failed_total} failed"
exit "$overall"
