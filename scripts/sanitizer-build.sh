#!/usr/bin/env bash
# The one sanitizer build of synwarden: clang with AddressSanitizer + UndefinedBehaviorSanitizer
# (-fno-sanitize-recover=all: any UB report aborts) and the libFuzzer targets, unit tier only, no
# benchmarks. scripts/sanitize.sh runs the unit tier from it, scripts/fuzz.sh the fuzz targets;
# both call this script with the same configuration, so whichever runs second rebuilds nothing.
#
#   scripts/sanitizer-build.sh <build dir> [target ...]     (no target: everything configured)
#
# Environment: SYNWARDEN_SANITIZE_JOBS  parallel compile jobs (default: number of CPUs).
# Exits non-zero, with a line saying what failed, if configuring or building fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: sanitizer-build.sh <build dir> [target ...]}
shift
jobs=${SYNWARDEN_SANITIZE_JOBS:-$(nproc)}
for tool in clang clang++ cmake; do
  if ! command -v "$tool" >/dev/null; then
    echo "sanitizer-build: $tool not found; run scripts/install-deps.sh (clang, libclang-rt-14-dev)" >&2
    exit 2
  fi
done
mkdir -p "$build"

# -O1 with line tables: what sanitizer reports need (file:line stacks), and a third less compile
# time than -O2 with full debug info. WERROR is off only because clang warns about things g++
# does not; the g++ build of scripts/build.sh keeps every file warning-free.
if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
  -DSYNWARDEN_SANITIZE=ON -DSYNWARDEN_FUZZ=ON -DSYNWARDEN_TEST_TIERS=unit \
  -DSYNWARDEN_BUILD_BENCH=OFF -DSYNWARDEN_WERROR=OFF >"$build/configure.log" 2>&1; then
  cat "$build/configure.log" >&2
  echo "sanitizer-build: configure of $build failed (log: $build/configure.log)" >&2
  exit 1
fi
# The options must really be on: a cache left from another configuration would test nothing.
for opt in SYNWARDEN_SANITIZE SYNWARDEN_FUZZ; do
  if ! grep -q "^$opt:BOOL=ON" "$build/CMakeCache.txt"; then
    echo "sanitizer-build: $opt is not ON in $build/CMakeCache.txt" >&2
    exit 1
  fi
done
targets=()
for t in "$@"; do targets+=(--target "$t"); done
if ! cmake --build "$build" -j"$jobs" "${targets[@]}"; then
  echo "sanitizer-build: build of ${*:-all} in $build failed" >&2
  exit 1
fi
