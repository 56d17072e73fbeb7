#!/usr/bin/env bash
# Builds synwarden's libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined) and runs each
# for a bounded time, then prints per target: executions, exec/s, coverage (libFuzzer's final
# cov/ft), corpus growth and crashes. Exits non-zero if any target crashed, leaked, timed out,
# ran out of memory, printed a sanitizer report, failed to start, or ran 0 executions. The last
# line starts with "fuzz:" and sums it up (CI's `fuzz` tier).
#
#   scripts/fuzz.sh [seconds-per-target (default 60)] [target ...]
#
# Environment:
#   SYNWARDEN_FUZZ_BUILD_DIR  build dir (default ./build-sanitize: the one sanitizer build of
#                             scripts/sanitizer-build.sh, shared with scripts/sanitize.sh)
#   SYNWARDEN_FUZZ_JOBS       parallel compile jobs and concurrently fuzzed targets
#                             (default: number of CPUs). Each libFuzzer run is single-threaded,
#                             so running targets side by side does not change their exec/s.
#   SYNWARDEN_FUZZ_KEEP=1     keep the corpus each target grew in <build>/fuzz-run/<target>/corpus
#                             from earlier runs (default: start from the seeds every time)
# Crash reproducers land in <build>/fuzz-run/<target>/artifacts/; replay one with
#   <build>/tests/fuzz/fuzz_replay_<target> <file>   (or the fuzz_<target> binary itself),
# minimise it with fuzz_<target> -minimize_crash=1 -runs=10000 <file>, and add it to
# tests/fuzz/corpus/<target>/ once the bug is fixed (tests/fuzz/README.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_FUZZ_BUILD_DIR:-$root/build-sanitize}
jobs=${SYNWARDEN_FUZZ_JOBS:-$(nproc)}
seconds=${1:-60}
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "fuzz.sh: seconds per target must be a positive integer, got '$seconds'" >&2
  echo "fuzz: FAILED (bad arguments)"
  exit 2
fi
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: SYNWARDEN_FUZZ_JOBS must be a positive integer, got '$jobs'" >&2
  echo "fuzz: FAILED (bad arguments)"
  exit 2
fi
started=$SECONDS
if ! SYNWARDEN_SANITIZE_JOBS=$jobs bash "$root/scripts/sanitizer-build.sh" "$build" synwarden_fuzz_all; then
  echo "fuzz: FAILED (sanitizer build of synwarden_fuzz_all in $build)"
  exit 1
fi
build_seconds=$((SECONDS - started))

list="$build/fuzz_targets.tsv"
if [ ! -s "$list" ]; then
  echo "fuzz.sh: $list lists no targets; is tests/fuzz part of the build (top-level CMakeLists.txt)?" >&2
  echo "fuzz: FAILED (no targets)"
  exit 1
fi

# Leaks and UB are failures, every report has a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One libFuzzer run; its exit code goes to <work>/rc.
fuzz_one() {
  local name=$1 binary=$2 seeds=$3 flags=$4 work=$5
  set +e
  # shellcheck disable=SC2086  # $flags is a list of libFuzzer options
  "$binary" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" $flags "$work/corpus" "$seeds" >"$work/fuzz.log" 2>&1
  echo $? >"$work/rc"
}

declare -a names=()
running=0
while IFS=$'\t' read -r name binary seeds flags; do
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
    continue
  fi
  names+=("$name")
  work="$build/fuzz-run/$name"
  [ "${SYNWARDEN_FUZZ_KEEP:-0}" = 1 ] || rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  rm -f "$work/rc"
  echo "== fuzz $name: ${seconds}s (log $work/fuzz.log)"
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  fuzz_one "$name" "$binary" "$seeds" "$flags" "$work" &
  running=$((running + 1))
done <"$list"
wait || true

if [ "${#names[@]}" -eq 0 ]; then
  echo "fuzz.sh: no target matched '$*' (targets: $(cut -f1 "$list" | tr '\n' ' '))" >&2
  echo "fuzz: FAILED (no target matched)"
  exit 2
fi

declare -a rows=() failed=()
total_execs=0
for name in "${names[@]}"; do
  work="$build/fuzz-run/$name"
  log="$work/fuzz.log"
  rc=$(cat "$work/rc" 2>/dev/null || echo 255)
  execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log" | tail -1)
  status_line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$status_line")
  crashes=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
  reports=$(grep -cE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|fuzz invariant broken' \
    "$log" || true)
  note=ok
  if [ "$crashes" -gt 0 ]; then
    note="FAILED: $(find "$work/artifacts" -type f | head -1)"
  elif [ "$reports" -gt 0 ]; then
    note="FAILED: sanitizer/invariant report in $log"
  elif [ "$rc" -ne 0 ]; then
    note="FAILED: exit $rc, see $log"
  elif [ -z "$execs" ] || [ "$execs" -eq 0 ]; then
    note="FAILED: 0 executions, see $log"
  fi
  total_execs=$((total_execs + ${execs:-0}))
  rows+=("$(printf '%-15s %12s %9s %7s %8s %7s %8s  %s' "$name" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$note")")
  if [ "$note" != ok ]; then
    failed+=("$name")
    echo "-- $name: $note" >&2
    grep -E 'ERROR|runtime error|fuzz invariant|==[0-9]+==|SUMMARY' "$log" | head -20 >&2 || true
  fi
done

echo
echo "== synwarden fuzzing, ${seconds}s per target, $jobs at a time (build ${build_seconds}s) =="
printf '%-15s %12s %9s %7s %8s %7s %8s  %s\n' target executions exec/s cov ft corpus crashes result
printf '%s\n' "${rows[@]}"
elapsed=$((SECONDS - started))
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED ${#failed[@]}/${#names[@]} targets (${failed[*]}), $total_execs executions, ${seconds}s each, ${elapsed}s total"
  exit 1
fi
echo "fuzz: ok, ${#names[@]} targets, $total_execs executions, 0 crashes, ${seconds}s each, ${elapsed}s total"
