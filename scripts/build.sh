#!/usr/bin/env bash
# Configures and builds synwarden into ${SYNWARDEN_BUILD_DIR:-./build} (warnings are errors).
# SYNWARDEN_BUILD_BENCH: ON (default: benchmark programs too), COMPILE (scripts/test.sh: their
# sources compiled as a check, no benchmark program linked) or OFF.
# SYNWARDEN_TEST_DEBUG: full (default: -g for test code too) or lines (scripts/test.sh: -g1 for
# test code, a third less compile time; the product keeps full debug info).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNWARDEN_WERROR=ON \
  -DSYNWARDEN_BUILD_BENCH="${SYNWARDEN_BUILD_BENCH:-ON}" \
  -DSYNWARDEN_TEST_DEBUG="${SYNWARDEN_TEST_DEBUG:-full}" >/dev/null
cmake --build "$build" -j"$(nproc)"
