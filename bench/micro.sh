#!/bin/sh
# Builds and runs synwarden's micro-benchmarks and writes their tables into bench/RESULTS.md
# (its "micro" section; the end-to-end section is left as it is).
#
#   bench/micro.sh [--quick]        # --quick: shorter minimum time per benchmark
#
# Environment: BUILD_DIR (default <repo>/build), JOBS (parallel build jobs, default 2).
# xdp_cost needs root (BPF_PROG_TEST_RUN); without root it is skipped and the table says so.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$repo/build}
min_time=0.5
if [ "${1:-}" = "--quick" ]; then min_time=0.1; fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

cmake -S "$repo" -B "$build" >/dev/null
cmake --build "$build" -j"${JOBS:-2}" \
      --target cookie_bench codec_bench daemon_packet_handler_bench xdp_cost

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for bin in bench/cookie_bench bench/codec_bench userspace/daemon/daemon_packet_handler_bench; do
  name=$(basename "$bin")
  echo "micro.sh: $name" >&2
  "$build/$bin" --benchmark_min_time="$min_time" \
      --benchmark_out="$out/$name.json" --benchmark_out_format=json >/dev/null
done
if [ "$(id -u)" -eq 0 ]; then
  echo "micro.sh: xdp_cost" >&2
  "$build/bench/xdp_cost" >"$out/xdp_cost.txt"
else
  echo "xdp_cost skipped: needs root (BPF_PROG_TEST_RUN)" >"$out/xdp_cost.txt"
fi
/usr/bin/python3 -B "$repo/bench/micro_report.py" --results "$repo/bench/RESULTS.md" \
    --command "bench/micro.sh${*:+ $*}" --load-before "$load_before" \
    --gbench-version "$(dpkg-query -W -f '${Version}' libbenchmark-dev 2>/dev/null || echo '?')" \
    --xdp-cost "$out/xdp_cost.txt" \
    "$out/cookie_bench.json" "$out/codec_bench.json" "$out/daemon_packet_handler_bench.json"
