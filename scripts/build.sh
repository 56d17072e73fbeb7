#!/usr/bin/env bash
# Configures and builds synwarden into ${SYNWARDEN_BUILD_DIR:-./build} (warnings are errors).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNWARDEN_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNWARDEN_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
