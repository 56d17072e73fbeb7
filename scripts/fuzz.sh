#!/usr/bin/env bash
# Builds synwarden's libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) and runs each
# for a bounded time, one after the other, then prints per target: executions, exec/s, coverage
# (libFuzzer's final cov/ft), corpus growth and crashes. Exits non-zero if any target crashed,
# found a leak/timeout/OOM, or failed to run.
#
#   scripts/fuzz.sh [seconds-per-target (default 60)] [target ...]
#
# Environment:
#   SYNWARDEN_FUZZ_BUILD_DIR  build dir (default ./build-fuzz; separate from the gcc build)
#   SYNWARDEN_FUZZ_JOBS       parallel compile jobs (default: number of CPUs)
#   SYNWARDEN_FUZZ_KEEP=1     keep the corpus each target grew in <build>/fuzz-run/<target>/corpus
#                             from earlier runs (default: start from the seeds every time)
# Crash reproducers land in <build>/fuzz-run/<target>/artifacts/; replay one with
#   <build>/tests/fuzz/fuzz_replay_<target> <file>   (or the fuzz_<target> binary itself),
# minimise it with fuzz_<target> -minimize_crash=1 -runs=10000 <file>, and add it to
# tests/fuzz/corpus/<target>/ once the bug is fixed (tests/fuzz/README.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${SYNWARDEN_FUZZ_JOBS:-$(nproc)}
seconds=${1:-60}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "fuzz.sh: seconds per target must be a positive integer, got '$seconds'" >&2
  exit 2
fi
for tool in clang clang++ cmake; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz.sh: $tool not found; run scripts/install-deps.sh (clang and libclang-rt-14-dev)" >&2
    exit 2
  fi
done

# WERROR is off here only because clang warns about things g++ does not; the g++ build of
# scripts/build.sh keeps every file warning-free.
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNWARDEN_FUZZ=ON -DSYNWARDEN_SANITIZE=ON \
  -DSYNWARDEN_BUILD_BENCH=OFF -DSYNWARDEN_WERROR=OFF >/dev/null
cmake --build "$build" --target synwarden_fuzz_all -j"$jobs"

list="$build/fuzz_targets.tsv"
if [ ! -s "$list" ]; then
  echo "fuzz.sh: $list lists no targets; is tests/fuzz part of the build (tests/CMakeLists.txt)?" >&2
  exit 1
fi

# Same flags everywhere: leaks and UB are failures, every report has a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

declare -a rows
status=0
ran=0
while IFS=$'\t' read -r name binary seeds flags; do
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
    continue
  fi
  ran=$((ran + 1))
  work="$build/fuzz-run/$name"
  [ "${SYNWARDEN_FUZZ_KEEP:-0}" = 1 ] || rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/fuzz.log"
  echo "== fuzz $name: ${seconds}s (log $log)"
  set +e
  # shellcheck disable=SC2086  # $flags is a list of libFuzzer options
  "$binary" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" $flags "$work/corpus" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log" | tail -1)
  status_line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$status_line")
  crashes=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  note=ok
  if [ "$crashes" -gt 0 ]; then
    note="FAILED: $(find "$work/artifacts" -type f | head -1)"
    status=1
  elif [ "$rc" -ne 0 ]; then
    note="FAILED: exit $rc, see $log"
    status=1
  fi
  rows+=("$(printf '%-14s %12s %9s %7s %8s %7s %8s  %s' "$name" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$note")")
  if [ "$note" != ok ]; then
    grep -E 'ERROR|runtime error|fuzz invariant|==[0-9]+==|SUMMARY' "$log" | head -20 >&2 || true
  fi
done <"$list"

if [ "$ran" -eq 0 ]; then
  echo "fuzz.sh: no target matched '$*' (targets: $(cut -f1 "$list" | tr '\n' ' '))" >&2
  exit 2
fi
echo
echo "== synwarden fuzzing, ${seconds}s per target =="
printf '%-14s %12s %9s %7s %8s %7s %8s  %s\n' target executions exec/s cov ft corpus crashes result
printf '%s\n' "${rows[@]}"
exit $status
