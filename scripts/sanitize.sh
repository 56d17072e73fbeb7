#!/usr/bin/env bash
# Builds synwarden with AddressSanitizer + UndefinedBehaviorSanitizer (SYNWARDEN_SANITIZE=ON:
# -fsanitize=address,undefined -fno-sanitize-recover=all, so any UB report aborts the test that
# hit it) in its own build dir and runs the unit tier (which includes the fuzz corpus replays).
# Fails on any failed test, any sanitizer report, or an empty tier. The last line starts with
# "sanitize:" and sums it up (CI's ASan+UBSan job, issue 10).
#
#   scripts/sanitize.sh [build-dir (default ./build-sanitize)]
#
# Environment:
#   SYNWARDEN_SANITIZE_JOBS  parallel compile jobs and tests (default: number of CPUs)
#   CXX / CC                 compiler (default: the system's, g++ on Debian)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-sanitize}
jobs=${SYNWARDEN_SANITIZE_JOBS:-$(nproc)}
started=$SECONDS
mkdir -p "$build"

# Unit tier only, no benchmarks: the other tiers need privileges or a VM and run unsanitized.
# Warnings are not errors here: the main build (scripts/build.sh) enforces them, and with
# -fsanitize gcc 12 reports false -Wmaybe-uninitialized inside libstdc++'s <regex>.
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNWARDEN_SANITIZE=ON \
  -DSYNWARDEN_WERROR=OFF -DSYNWARDEN_TEST_TIERS=unit -DSYNWARDEN_BUILD_BENCH=OFF \
  >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  echo "sanitize: FAILED (configure, see $build/configure.log)"
  exit 1
fi
# The option must really be on: a cache left from another configuration would test nothing.
if ! grep -q '^SYNWARDEN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "sanitize: FAILED (SYNWARDEN_SANITIZE is not ON in $build/CMakeCache.txt)"
  exit 1
fi
if ! cmake --build "$build" -j"$jobs"; then
  echo "sanitize: FAILED (build)"
  exit 1
fi
build_seconds=$((SECONDS - started))

# Leaks are failures too; halt on the first report so the test fails where it happened.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

log="$build/ctest-unit.log"
set +e
(cd "$build" && ctest -L unit --no-tests=error --output-on-failure -j"$jobs" --timeout 600) \
  2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
test_seconds=$((SECONDS - started - build_seconds))

summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
total=$(sed -nE 's/.* out of ([0-9]+).*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*passed, ([0-9]+) tests? failed.*/\1/p' <<<"$summary")
# A sanitizer report in a test that still exited 0 (a forked child, a swallowed abort) counts too.
reports=$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" || true)

timing="build ${build_seconds}s, tests ${test_seconds}s"
if [ "$rc" -ne 0 ] || [ -z "$total" ] || [ "$total" -eq 0 ] || [ "${failed:-1}" -ne 0 ] ||
   [ "$reports" -ne 0 ]; then
  echo "sanitize: FAILED (ctest exit $rc, ${failed:-?} of ${total:-0} unit tests failed," \
       "$reports sanitizer reports; see $log; $timing)"
  exit 1
fi
echo "sanitize: ok, $total unit tests passed under ASan+UBSan, 0 sanitizer reports ($timing)"
