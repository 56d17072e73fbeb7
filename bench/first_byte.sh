#!/bin/sh
# First-byte latency through the firewall against the same path with protection off, measured
# by the integration test of handshake ordering (tests/integration/test_handshake.py): clients
# that send their request right after connect(), agent in bpf mode, one run, both rows. Writes
# the "first-byte" section of bench/RESULTS.md.
#
#   sudo bench/first_byte.sh          # ~2 minutes; BUILD_DIR (default <repo>/build)
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
cmake -S "$repo" -B "$build" >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target synwarden synwarden-agent synflood \
      integration_bpf_helpers
out=$(mktemp)
trap 'rm -f "$out"' EXIT
synflood=$(find "$build" -name synflood -type f -perm -u+x | head -1)
(cd "$repo/tests/integration" && /usr/bin/python3 test_handshake.py \
   --synwarden "$build/userspace/daemon/synwarden" --agent "$build/agent/synwarden-agent" \
   --synflood "$synflood" --bpf-dir "$build/tests/integration/bpf" --json-out "$out")
/usr/bin/python3 "$repo/bench/first_byte_report.py" "$out" "$repo/bench/RESULTS.md"
