#!/usr/bin/env bash
# Runs synwarden's whole test suite: installs missing dependencies, builds with warnings as errors,
# then runs every tier through ctest — unit, bpf, integration, vm — one after the other.
# A tier with no tests, or with any skipped / not-run test, fails the run: CI must never report a
# tier as passing that did not really execute.
# Needs root (BPF, network namespaces, qemu). Environment: SYNWARDEN_BUILD_DIR (default ./build),
# SYNWARDEN_TIERS (default "unit bpf integration vm").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}
tiers=${SYNWARDEN_TIERS:-unit bpf integration vm}

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: must run as root (BPF test runs, network namespaces, the qemu tier)" >&2
  exit 1
fi
bash "$root/scripts/install-deps.sh"
SYNWARDEN_BUILD_DIR="$build" bash "$root/scripts/build.sh"

declare -A result
status=0
for tier in $tiers; do
  log="$build/ctest-$tier.log"
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
