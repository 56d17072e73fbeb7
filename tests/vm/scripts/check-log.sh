#!/usr/bin/env bash
# Verdict of one guest section from the console log written by run-vm.sh.
#   lifecycle: every "SWVM lifecycle" line PASS, at least <min> of them
#   accept:    "accept: N passed, 0 failed" with N >= <min>
#   agent:     "agent: N passed, M failed" plus the "SWVM agent" lines: >= <min> passes, no failure
#   xdp:       at least <min> "xdp: PASS" lines and no "xdp: FAIL"/"SWVM xdp FAIL"
#   xdp_tests: "SWVM xdp_tests PASS", gtest's "[  PASSED  ] N tests." with N >= <min>, no
#              "[  FAILED  ]" line
#   setup:     at least <min> "SWVM setup PASS" lines (the guest's own preparation) and no
#              "SWVM setup FAIL"
#   oracle:    the guest's oracle tool: at least <min> "SWVM oracle PASS" lines (it exited 0: every
#              SYN answered) and no "SWVM oracle FAIL"
#   any_fail:  no "SWVM <any section> FAIL" line at all, and the console reached SWVM-END
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
  agent)
    grep -E '^SWVM agent |^  agent[:|] ' "$log" || true
    summary=$(grep -E '^  agent: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    [[ -n "$summary" ]] || { echo "check-log: FAILED: no agent summary in $log" >&2; exit 1; }
    pass=$(( $(sed -E 's/.*agent: ([0-9]+) passed.*/\1/' <<<"$summary") +
             $(grep -c '^SWVM agent PASS' "$log" || true) ))
    fail=$(( $(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$summary") +
             $(grep -c '^SWVM agent FAIL' "$log" || true) ))
    ;;
  xdp_tests)
    grep -E '^  xdp_tests\| |^SWVM xdp_tests' "$log" || true
    passed=$(grep -E '^  xdp_tests\| \[  PASSED  \] [0-9]+ test' "$log" | tail -n 1 || true)
    pass=0
    [[ -n "$passed" ]] && pass=$(sed -E 's/.*\[  PASSED  \] ([0-9]+) test.*/\1/' <<<"$passed")
    grep -q '^SWVM xdp_tests PASS' "$log" || pass=0
    fail=$(( $(grep -c '^  xdp_tests| \[  FAILED  \]' "$log" || true) +
             $(grep -c '^SWVM xdp_tests FAIL' "$log" || true) ))
    ;;
  xdp)
    grep -E '^  (xdp:|libbpf)|^SWVM xdp ' "$log" || true
    pass=$(grep -c '^  xdp: PASS' "$log" || true)
    fail=$(grep -cE '^  xdp: FAIL|^SWVM xdp FAIL' "$log" || true)
    ;;
  setup|oracle)
    grep -E "^SWVM $section " "$log" || true
    pass=$(grep -c "^SWVM $section PASS" "$log" || true)
    fail=$(grep -c "^SWVM $section FAIL" "$log" || true)
    ;;
  any_fail)
    grep -E '^SWVM [a-z_]+ FAIL' "$log" || true
    pass=$(grep -cE '^SWVM [a-z_]+ PASS' "$log" || true)
    fail=$(grep -cE '^SWVM [a-z_]+ FAIL' "$log" || true)
    grep -q '^SWVM-END' "$log" || { echo "check-log: FAILED: no SWVM-END in $log" >&2; exit 1; }
    ;;
  *) echo "check-log: unknown section $section" >&2; exit 2 ;;
esac
echo "$section: $pass passed, $fail failed"
if [[ "$fail" -ne 0 || "$pass" -lt "$min" ]]; then
  echo "check-log: FAILED: section $section needs >= $min passes and no failure" >&2
  exit 1
fi
