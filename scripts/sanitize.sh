#!/usr/bin/env bash
# The sanitize tier: the unit tier (which includes the fuzz corpus replays) under ASan + UBSan,
# from the one sanitizer build (scripts/sanitizer-build.sh: clang, -fsanitize=address,undefined
# -fno-sanitize-recover=all, so any UB report aborts the test that hit it; the same build dir
# holds the libFuzzer targets of scripts/fuzz.sh). Fails on any failed, skipped or not-run test,
# any sanitizer report, or an empty tier. The last line starts with "sanitize:" and sums it up.
#
#   scripts/sanitize.sh [--build-only | --tests-only] [build-dir (default ./build-sanitize)]
#     --build-only  only build (scripts/test.sh builds while other tiers run, tests later)
#     --tests-only  only run the tests of an existing sanitizer build
#
# Environment:
#   SYNWARDEN_SANITIZE_JOBS  parallel compile jobs and tests (default: number of CPUs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
step=all
case "${1:-}" in
  --build-only) step=build; shift ;;
  --tests-only) step=tests; shift ;;
esac
build=${1:-$root/build-sanitize}
jobs=${SYNWARDEN_SANITIZE_JOBS:-$(nproc)}
started=$SECONDS
build_seconds=0

if [ "$step" != tests ]; then
  if ! bash "$root/scripts/sanitizer-build.sh" "$build"; then
    echo "sanitize: FAILED (sanitizer build in $build)"
    exit 1
  fi
  build_seconds=$((SECONDS - started))
  if [ "$step" = build ]; then
    echo "sanitize: build ok in ${build_seconds}s ($build); run --tests-only next"
    exit 0
  fi
elif ! grep -q '^SYNWARDEN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "sanitize: FAILED (--tests-only, but $build is no sanitizer build: run --build-only first)"
  exit 1
fi

# Leaks are failures too; halt on the first report so the test fails where it happened.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

log="$build/ctest-unit.log"
set +e
(cd "$build" && ctest -L '^unit$' --no-tests=error --output-on-failure -j"$jobs" --timeout 600) \
  2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
test_seconds=$((SECONDS - started - build_seconds))

summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
total=$(sed -nE 's/.* out of ([0-9]+).*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*passed, ([0-9]+) tests? failed.*/\1/p' <<<"$summary")
# A sanitizer report in a test that still exited 0 (a forked child, a swallowed abort) counts too.
reports=$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log" || true)
# Like every ctest tier of scripts/test.sh: a skipped or not-run test is not a pass.
skipped=$(grep -cE '\*\*\*Skipped|Not Run|\*\*\*Disabled' "$log" || true)

timing="build ${build_seconds}s, tests ${test_seconds}s"
if [ "$rc" -ne 0 ] || [ -z "$total" ] || [ "$total" -eq 0 ] || [ "${failed:-1}" -ne 0 ] ||
   [ "$reports" -ne 0 ] || [ "$skipped" -ne 0 ]; then
  echo "sanitize: FAILED (ctest exit $rc, ${failed:-?} of ${total:-0} unit tests failed," \
       "$skipped skipped or not run, $reports sanitizer reports; see $log; $timing)"
  exit 1
fi
echo "sanitize: ok, $total unit tests passed under ASan+UBSan, 0 skipped, 0 sanitizer reports ($timing)"
