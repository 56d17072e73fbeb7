#!/usr/bin/env bash
# Verdict of one guest section from the console log written by run-vm.sh.
#   lifecycle: every "SWVM lifecycle" line PASS, at least <min> of them
#   accept:    "accept: N passed, 0 failed" with N >= <min>
#   xdp:       at least <min> "xdp: PASS" lines and no "xdp: FAIL"/"SWVM xdp FAIL"
# Usage: check-log.sh <console.log> <section> <min>
set -euo pipefail
log=${1:?console log}; section=${2:?section}; min=${3:?minimum}
[[ -f "$log" ]] || { echo "check-log: FAILED: $log missing (did vm_boot run?)" >&2; exit 1; }
case "$section" in
  lifecycle)
    grep "^SWVM lifecycle " "$log" || true
    pass=$(grep -c '^SWVM lifecycle PASS' "$log" || true)
    fail=$(grep -c '^SWVM lifecycle FAIL' "$log" || true)
    ;;
  accept)
    grep -E '^  (PASS|FAIL) |^  accept:|^  client namespace' "$log" || true
    summary=$(grep -E '^  accept: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    [[ -n "$summary" ]] || { echo "check-log: FAILED: no accept summary in $log" >&2; exit 1; }
    pass=$(sed -E 's/.*accept: ([0-9]+) passed.*/\1/' <<<"$summary")
    fail=$(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$summary")
    ;;
  xdp)
    grep -E '^  (xdp|libbpf)|^SWVM xdp' "$log" || true
    pass=$(grep -c '^  xdp: PASS' "$log" || true)
    fail=$(grep -cE '^  xdp: FAIL|^SWVM xdp FAIL' "$log" || true)
    ;;
  *) echo "check-log: unknown section $section" >&2; exit 2 ;;
esac
echo "$section: $pass passed, $fail failed"
if [[ "$fail" -ne 0 || "$pass" -lt "$min" ]]; then
  echo "check-log: FAILED: section $section needs >= $min passes and no failure" >&2
  exit 1
fi
