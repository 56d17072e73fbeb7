#!/usr/bin/env bash
# Runs synwarden's whole test suite: every tier, each really executed; prints a per-tier table of
# wall and CPU time and a closing "N passed, N failed" line.
#
# Tiers (SYNWARDEN_TIERS, default all eight):
#   unit         ctest label unit on the main build (g++, warnings are errors)
#   bpf          ctest label bpf          (root: BPF_PROG_TEST_RUN, namespaces)
#   integration  ctest label integration  (root: namespaces, the real daemon, floods)
#   vm           ctest label vm           (Debian's 6.1 kernel under qemu, the kernel module)
#   sanitize     scripts/sanitize.sh: the unit tier under ASan + UBSan (clang)
#   fuzz         scripts/fuzz.sh 30: every libFuzzer target for 30 s, from the same clang build
#   package      packaging/build-debs.sh, then packaging/smoke-test.sh on those .debs
#   debian       tests/debian/run.sh: those .debs in a Debian 12 VM with systemd as PID 1 (qemu
#                TCG, image cached), the demo in kmod mode, units restarted under a flood, purge
# A ctest tier with no tests, or with any skipped / not-run test, fails; a script tier fails
# unless it exits 0 and prints its "<tier>: ..." summary line. Nothing is reported as passing
# that did not run.
#
# Schedule (2 CPUs), two lanes at once:
#   builds  the Debian package build, then the sanitizer build (clang), under SCHED_IDLE from the
#           start: they take only CPU the rest leaves idle (the main build's link and dependency
#           waits, the test lane's sleeps), so the integration tier's floods and measurements see
#           the same CPU as when run alone; normal priority again once the test lane is done;
#   tests   the main build (g++; test code with line-table debug info only, SYNWARDEN_TEST_DEBUG
#           in scripts/build.sh), then unit, then bpf and integration holding
#           $SYNWARDEN_TEST_LOCK (namespaces and floods: one such run per machine), at normal
#           priority;
# then the sanitize tier's tests, fuzz and the vm tier (qemu guests, no lock needed) beside the
# package smoke test and the debian VM tier (both under the lock, side by side).
# Needs root. Environment: SYNWARDEN_BUILD_DIR (./build), SYNWARDEN_SANITIZE_BUILD_DIR
# (./build-sanitize), SYNWARDEN_TIERS, SYNWARDEN_TEST_LOCK (/tmp/synwarden-integration.lock).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}
san_build=${SYNWARDEN_SANITIZE_BUILD_DIR:-$root/build-sanitize}
tiers=${SYNWARDEN_TIERS:-unit bpf integration vm sanitize fuzz package debian}
lock=${SYNWARDEN_TEST_LOCK:-/tmp/synwarden-integration.lock}
all_tiers="unit bpf integration vm sanitize fuzz package debian"

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: must run as root (BPF, network namespaces, the qemu tier, package install)" >&2
  exit 1
fi
for t in $tiers; do
  [[ " $all_tiers " == *" $t "* ]] || { echo "test.sh: unknown tier '$t' (tiers: $all_tiers)" >&2; exit 2; }
done
want() { [[ " $tiers " == *" $1 "* ]]; }

logs="$build/test-logs"
mkdir -p "$logs"
rm -f "$logs"/*.step "$logs"/*.log "$logs"/lock-waits "$logs"/abort "$logs"/promoted
t0=$SECONDS

# run_step <step> <tier> <command...>: runs the command with its output in $logs/<step>.log and
# writes $logs/<step>.step: "rc start end user sys" (seconds since t0; CPU of the command and
# every child it waited for).
run_step() {
  local step=$1 tier=$2; shift 2
  local start=$((SECONDS - t0)) rc
  echo "== $(date -u +%H:%M:%S) start $step ($tier)"
  set +e
  ( "$@" >"$logs/$step.log" 2>&1; rc=$?; times >"$logs/$step.times"; exit $rc )
  rc=$?
  set -e
  # `times` prints the shell's own, then its children's user and system time (e.g. 1m2.5s).
  local cpu
  cpu=$(sed -n 2p "$logs/$step.times" | awk '
    function secs(v,  p) { split(v, p, "m"); sub("s", "", p[2]); return p[1] * 60 + p[2] }
    { printf "%.0f %.0f", secs($1), secs($2) }')
  echo "$rc $start $((SECONDS - t0)) ${cpu:-0 0}" >"$logs/$step.step.tmp"
  mv "$logs/$step.step.tmp" "$logs/$step.step"
  echo "$tier" >"$logs/$step.tier"
  echo "== $(date -u +%H:%M:%S) end   $step ($tier): exit $rc after $((SECONDS - t0 - start)) s"
  if [ "$rc" -eq 0 ]; then
    grep -E "tests passed|^[a-z-]+: " "$logs/$step.log" | tail -n 2 | sed 's/^/   /' || true
  else
    echo "---- last lines of $logs/$step.log"
    tail -n 60 "$logs/$step.log"
    echo "----"
  fi
  return 0
}
step_rc() { [ -f "$logs/$1.step" ] && cut -d' ' -f1 "$logs/$1.step" || echo missing; }
wait_step() { while [ ! -f "$logs/$1.step" ]; do sleep 2; done; }

# A ctest tier: fails when empty, when ctest fails, or when anything was skipped or not run.
ctest_tier() {
  local tier=$1 jobs=1 count
  [ "$tier" = unit ] && jobs=$(nproc)
  count=$(ctest --test-dir "$build" -N -L "^${tier}\$" | awk '/Total Tests:/ {print $3}')
  if [ "${count:-0}" -eq 0 ]; then
    echo "$tier: FAILED: no tests in this tier"
    return 1
  fi
  local rc=0
  ctest --test-dir "$build" -L "^${tier}\$" --output-on-failure -j"$jobs" || rc=$?
  return $rc
}
ctest_verdict() {  # ctest_verdict <tier>: the result line of a ctest tier from its log
  local tier=$1 log="$logs/$1.log" rc summary skipped
  rc=$(step_rc "$tier")
  summary=$(grep -E "tests passed" "$log" | tail -1 || true)
  skipped=$(grep -cE '\*\*\*Skipped|Not Run|\*\*\*Disabled' "$log" || true)
  if [ "$rc" != 0 ]; then
    echo "FAILED (exit $rc): ${summary:-$(grep -E "^$tier: " "$log" | tail -1)}"
  elif [ "$skipped" -ne 0 ]; then
    echo "FAILED: $skipped skipped or not-run tests ($summary)"
  elif [ -z "$summary" ]; then
    echo "FAILED: ctest printed no summary"
  else
    echo "ok: $summary"
  fi
}
script_verdict() {  # script_verdict <tier> <step>: rc 0 and a "<tier>: " summary line
  local tier=$1 step=$2 rc summary
  rc=$(step_rc "$step")
  summary=$(grep -E "^$tier: " "$logs/$step.log" 2>/dev/null | tail -1 || true)
  if [ "$rc" != 0 ]; then
    echo "FAILED (exit $rc): ${summary:-no summary, see $logs/$step.log}"
  elif [ -z "$summary" ]; then
    echo "FAILED: no '$tier:' summary line in $logs/$step.log"
  else
    echo "ok: $summary"
  fi
}

bash "$root/scripts/install-deps.sh"

# take_lock <who>: holds $lock on fd 8 of the calling (sub)shell until it exits; the time spent
# waiting for other users of the machine is recorded apart from the tiers' own times.
take_lock() {
  local asked=$SECONDS
  exec 8>"$lock"
  flock 8
  echo "== $1: waited $((SECONDS - asked)) s for $lock"
  echo "$1 $((SECONDS - asked))" >>"$logs/lock-waits"
}
test_lane() {
  want unit && run_step unit unit ctest_tier unit
  local privileged=()
  for t in bpf integration; do want "$t" && privileged+=("$t"); done
  [ ${#privileged[@]} -eq 0 ] && return 0
  take_lock "test lane"
  for t in "${privileged[@]}"; do run_step "$t" "$t" ctest_tier "$t"; done
  exec 8>&-
}
# The build lane's steps run under SCHED_IDLE until the test lane is done; then promote_lane
# gives them (and the steps still to come) normal priority again, so they do not wait behind
# whatever else the machine runs.
idle() {
  if [ -f "$logs/promoted" ]; then "$@"; else chrt --idle 0 "$@"; fi
}
# The package build first: the debian tier (the longest after the test lane) waits for it,
# while the sanitizer build's output is needed only by the shorter sanitize/fuzz/vm lane.
build_lane() {
  if { want package || want debian; }; then
    run_step package-build package idle bash "$root/packaging/build-debs.sh" "$build/debs"
  fi
  if { want sanitize || want fuzz; } && [ ! -f "$logs/abort" ]; then
    run_step sanitizer-build sanitize idle bash "$root/scripts/sanitize.sh" --build-only "$san_build"
  fi
}
promote_tree() {  # promote_tree <pid>: SCHED_OTHER for it and its descendants, parents first
  chrt --other -p 0 "$1" >/dev/null 2>&1 || true
  local child
  for child in $(pgrep -P "$1" || true); do promote_tree "$child"; done
}
promote_lane() {
  touch "$logs/promoted"
  promote_tree "$1"
  promote_tree "$1"   # children a not yet promoted parent started during the first walk
}
# --- 1. the main build beside the build lane; then the test lane -----------------------------
build_lane &
build_pid=$!
run_step build build env SYNWARDEN_BUILD_DIR="$build" SYNWARDEN_BUILD_BENCH=COMPILE \
  SYNWARDEN_TEST_DEBUG=lines bash "$root/scripts/build.sh"
if [ "$(step_rc build)" != 0 ]; then
  touch "$logs/abort"   # the build lane starts no further step; wait for the one under way
  wait "$build_pid" || true
  echo "test.sh: the main build failed; no tier can run (log: $logs/build.log)"
  echo "test.sh: 0 passed, $(wc -w <<<"$tiers") failed"
  exit 1
fi
test_lane &
test_pid=$!
wait "$test_pid" || true
promote_lane "$build_pid"

# --- 2. after the test lane: sanitize tests, then fuzz beside the package smoke test ----------
if want package || want debian; then
  (
    wait_step package-build
    if [ "$(step_rc package-build)" = 0 ]; then
      take_lock "package smoke test, debian VM"
      # Side by side under the one lock: the smoke test (the host's packages and namespaces, one
      # connection, no flood, ~20 s) does not wait for the VM, nor the VM (one CPU) for it.
      smoke_step=
      if want package; then
        run_step package-smoke package env SYNWARDEN_DEBS_DIR="$build/debs" \
          bash "$root/packaging/smoke-test.sh" &
        smoke_step=$!
      fi
      want debian && run_step debian debian bash "$root/tests/debian/run.sh" "$build/debs" "$build"
      if [ -n "$smoke_step" ]; then wait "$smoke_step"; fi
    fi
  ) &
  smoke_pid=$!
fi
if want sanitize || want fuzz; then
  wait_step sanitizer-build
  if [ "$(step_rc sanitizer-build)" = 0 ]; then
    want sanitize && run_step sanitize-tests sanitize bash "$root/scripts/sanitize.sh" --tests-only "$san_build"
    want fuzz && run_step fuzz fuzz env SYNWARDEN_FUZZ_BUILD_DIR="$san_build" bash "$root/scripts/fuzz.sh" 30
  fi
fi
# The vm tier (qemu guests, no host network) needs no lock: it runs here, beside the debian
# tier's longer VM, instead of lengthening the test lane.
want vm && run_step vm vm ctest_tier vm
wait "$build_pid" || true
[ -n "${smoke_pid:-}" ] && { wait "$smoke_pid" || true; }

# --- 3. verdicts and the time table ----------------------------------------------------------
declare -A result
for t in unit bpf integration vm; do
  want "$t" && result[$t]=$(ctest_verdict "$t")
done
if want sanitize; then
  if [ "$(step_rc sanitizer-build)" != 0 ]; then
    result[sanitize]="FAILED: sanitizer build (exit $(step_rc sanitizer-build), $logs/sanitizer-build.log)"
  else
    result[sanitize]=$(script_verdict sanitize sanitize-tests)
  fi
fi
if want fuzz; then
  if [ "$(step_rc sanitizer-build)" != 0 ]; then
    result[fuzz]="FAILED: sanitizer build (exit $(step_rc sanitizer-build), $logs/sanitizer-build.log)"
  else
    result[fuzz]=$(script_verdict fuzz fuzz)
  fi
fi
for t in package debian; do
  want "$t" || continue
  if [ "$(step_rc package-build)" != 0 ]; then
    result[$t]="FAILED: package build (exit $(step_rc package-build), $logs/package-build.log)"
  elif [ "$t" = package ]; then
    result[$t]=$(script_verdict package package-smoke)
  else
    result[$t]=$(script_verdict debian debian)
  fi
done

echo
echo "== synwarden test tiers =="
passed=0
failed=0
for t in $tiers; do
  printf '%-12s %s\n' "$t" "${result[$t]}"
  if [[ "${result[$t]}" == ok:* ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

echo
echo "== time per step (wall: start-end in s since the start of test.sh; CPU: user+sys of the step and its children) =="
printf '%-16s %-10s %6s %6s %7s %8s %8s\n' step tier start end wall cpu_user cpu_sys
declare -A tier_wall tier_cpu
for step in build unit bpf integration vm sanitizer-build sanitize-tests fuzz package-build package-smoke debian; do
  [ -f "$logs/$step.step" ] || continue
  read -r rc start end user sys <"$logs/$step.step"
  tier=$(cat "$logs/$step.tier")
  printf '%-16s %-10s %6s %6s %7s %8s %8s\n' "$step" "$tier" "$start" "$end" $((end - start)) "$user" "$sys"
  tier_wall[$tier]=$(( ${tier_wall[$tier]:-0} + end - start ))
  tier_cpu[$tier]=$(( ${tier_cpu[$tier]:-0} + user + sys ))
done
echo
printf '%-12s %9s %9s\n' tier wall_s cpu_s
for t in build $tiers; do
  [ -n "${tier_wall[$t]:-}" ] && printf '%-12s %9s %9s\n' "$t" "${tier_wall[$t]}" "${tier_cpu[$t]}"
done
echo "(lanes overlap, so the walls add up to more than the total; time spent waiting for $lock," \
     "not counted in any tier: $(awk '{s += $NF} END {print s + 0}' "$logs/lock-waits" 2>/dev/null || echo 0) s)"
echo "test.sh: total wall $((SECONDS - t0)) s"
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
