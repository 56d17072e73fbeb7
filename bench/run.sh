#!/bin/sh
# The end-to-end benchmark in one command: builds what it needs, then runs bench/e2e_bench.py,
# which writes bench/RESULTS.md (end-to-end section), bench/RESULTS.json and
# bench/RESULTS_e2e.png.
#
#   sudo bench/run.sh            # ~8 minutes: 3 interleaved rounds, 60 s memory check
#   sudo bench/run.sh --quick    # ~2 minutes: 1 round, short windows
#
# Any other option goes to e2e_bench.py (--help lists them). Environment: BUILD_DIR (default
# <repo>/build), JOBS (parallel build jobs, default 2). Needs root, 2+ CPUs, Linux >= 6.9 for
# the agent's BPF mode (synwarden's legitimate-client numbers), gnuplot for the plot.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: needs root (network namespaces, XDP, nftables, real-time scheduling)" >&2
  exit 1
fi
cmake -S "$repo" -B "$build" >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target synwarden synwarden-agent xdpflood bench_bpf \
      integration_bpf_helpers
exec /usr/bin/python3 "$repo/bench/e2e_bench.py" --build "$build" \
     --invoked-as "bench/run.sh${*:+ $*}${BUILD_DIR:+ (with BUILD_DIR set)}" "$@"
