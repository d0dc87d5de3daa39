#!/usr/bin/env bash
# Builds the fuzz targets into build-fuzz/ with clang and runs each for SECONDS on a working copy
# of its corpus (tests/fuzz/corpus/<target> holds the seeds; new inputs land in
# build-fuzz/fuzz/corpus/<target>). Exits 1 when any target finds a crash, a leak, undefined
# behaviour or a broken property; the input is kept in build-fuzz/fuzz/crashes/<target>/.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (./run fuzz calls this)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="${CCOPY_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
SECONDS_PER_TARGET=${1:-60}
shift || true
if ! [[ "$SECONDS_PER_TARGET" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: SECONDS_PER_TARGET must be a positive whole number, not '$SECONDS_PER_TARGET'" >&2
  exit 2
fi
command -v clang >/dev/null || { echo "fuzz: clang is missing: run scripts/setup.sh apt" >&2; exit 1; }

if [[ ! -f "$BUILD/build.ninja" ]]; then
  CC=clang cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCCOPY_FUZZ=ON -DCCOPY_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target ccopy_fuzz >/dev/null

targets=("$@")
((${#targets[@]})) || mapfile -t targets <"$BUILD/tests/fuzz/targets.txt"

# A UBSan report aborts (the fuzzer then keeps the input); leaks are checked after each input.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
failed=()
for t in "${targets[@]}"; do
  bin="$BUILD/tests/fuzz/$t" seeds="$ROOT/tests/fuzz/corpus/$t"
  work="$BUILD/fuzz/corpus/$t" crashes="$BUILD/fuzz/crashes/$t" log="$BUILD/fuzz/$t.log"
  [[ -x "$bin" && -d "$seeds" ]] || { echo "fuzz: no target or no corpus for '$t'" >&2; exit 2; }
  mkdir -p "$work" "$crashes"
  rc=0
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$seeds" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^stat::.*//;s/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  rate='?'
  [[ -n "$runs" && -n "$secs" ]] && rate=$((runs / (secs > 0 ? secs : 1)))
  printf 'fuzz: %-18s %s s, %s runs (%s/s), %s, corpus %s seeds + %s found: %s\n' "$t" \
    "${secs:-?}" "${runs:-?}" "$rate" "${cov:-cov: ?}" \
    "$(find "$seeds" -type f | wc -l)" "$(find "$work" -type f | wc -l)" \
    "$( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)")"
  if ((rc != 0)); then
    failed+=("$t")
    grep -E 'ERROR|runtime error|property failed|SUMMARY|^    #[0-9]' "$log" | head -30 >&2 || true
    echo "fuzz: $t: log $log; input kept in $crashes/; replay: $bin $crashes/<file>" >&2
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
