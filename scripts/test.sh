#!/usr/bin/env bash
# Runs synwarden's whole test suite: installs missing dependencies, builds with warnings as errors,
# then runs every tier one after the other: the ctest tiers (unit, bpf, integration, vm) on that
# build, then the script tiers, each of which builds what it needs itself:
#   sanitize  scripts/sanitize.sh      unit tier again under ASan + UBSan (own build dir)
#   fuzz      scripts/fuzz.sh 30       every libFuzzer target for 30 s (clang, own build dir)
#   package   packaging/smoke-test.sh  build the .debs, lintian, install, one connection, purge
# A ctest tier with no tests, or with any skipped / not-run test, fails the run; a script tier
# fails unless it exits 0 and ends with its own "<tier>: ..." summary line. CI must never report
# a tier as passing that did not really execute.
# Needs root (BPF, network namespaces, qemu). Environment: SYNWARDEN_BUILD_DIR (default ./build),
# SYNWARDEN_TIERS (default "unit bpf integration vm sanitize fuzz package").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}
tiers=${SYNWARDEN_TIERS:-unit bpf integration vm sanitize fuzz package}

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: must run as root (BPF test runs, network namespaces, the qemu tier)" >&2
  exit 1
fi
bash "$root/scripts/install-deps.sh"
SYNWARDEN_BUILD_DIR="$build" bash "$root/scripts/build.sh"

declare -A script_tier=(
  [sanitize]="bash $root/scripts/sanitize.sh"
  [fuzz]="bash $root/scripts/fuzz.sh 30"
  [package]="bash $root/packaging/smoke-test.sh"
)

declare -A result
status=0
for tier in $tiers; do
  log="$build/ctest-$tier.log"
  if [ -n "${script_tier[$tier]:-}" ]; then
    set +e
    ${script_tier[$tier]} 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    summary=$(grep -E "^$tier: " "$log" | tail -1)
    if [ "$rc" -ne 0 ]; then
      result[$tier]="FAILED (exit $rc): ${summary:-no summary}"
      status=1
    elif [ -z "$summary" ]; then
      result[$tier]="FAILED: the tier printed no '$tier:' summary line"
      status=1
    else
      result[$tier]="ok: $summary"
    fi
    continue
  fi
  count=$(ctest --test-dir "$build" -N -L "^${tier}\$" | awk '/Total Tests:/ {print $3}')
  if [ "${count:-0}" -eq 0 ]; then
    result[$tier]="FAILED: no tests in this tier"
    status=1
    continue
  fi
  jobs=1
  [ "$tier" = unit ] && jobs=$(nproc)
  set +e
  ctest --test-dir "$build" -L "^${tier}\$" --output-on-failure -j"$jobs" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  summary=$(grep -E "tests passed" "$log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    result[$tier]="FAILED: $summary"
    status=1
  elif grep -qE "\*\*\*Skipped|Not Run|\*\*\*Disabled" "$log"; then
    result[$tier]="FAILED: skipped tests: $(grep -cE '\*\*\*Skipped|Not Run|\*\*\*Disabled' "$log")"
    status=1
  else
    result[$tier]="ok: $summary"
  fi
done

echo
echo "== synwarden test tiers =="
for tier in $tiers; do
  printf '%-12s %s\n' "$tier" "${result[$tier]}"
done
exit $status
