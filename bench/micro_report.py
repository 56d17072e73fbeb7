#!/usr/bin/env python3
"""Turns the micro-benchmarks' output into bench/RESULTS.md's micro section (see micro.sh).

Usage: micro_report.py --results FILE --command CMD --load-before L [--gbench-version V]
                       [--xdp-cost TXT] JSON...
where each JSON is a Google Benchmark --benchmark_out file."""
import argparse
import json
import os
import platform

from results_md import loadavg, replace_section


def _ns(value, unit):
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
    return value * scale


def gbench_table(path):
    doc = json.load(open(path))
    rows = [f"#### `{os.path.basename(path)[:-5]}`", "",
            "| benchmark | time / iteration | CPU / iteration | iterations | counters |",
            "|---|---|---|---|---|"]
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        counters = {k: v for k, v in b.items() if k not in {
            "name", "family_index", "per_family_instance_index", "run_name", "run_type",
            "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
            "time_unit", "aggregate_name", "aggregate_unit", "label"}}
        extra = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in counters.items())
        rows.append(f"| `{b['name']}` | {_ns(b['real_time'], b['time_unit']):.1f} ns | "
                    f"{_ns(b['cpu_time'], b['time_unit']):.1f} ns | {b['iterations']} | {extra} |")
    ctx = doc.get("context", {})
    return "\n".join(rows), ctx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--load-before", required=True)
    ap.add_argument("--gbench-version", default="?")
    ap.add_argument("--xdp-cost")
    ap.add_argument("json", nargs="+")
    args = ap.parse_args()
    tables, ctx = [], {}
    for path in args.json:
        table, ctx = gbench_table(path)
        tables.append(table)
    if args.xdp_cost and os.path.exists(args.xdp_cost):
        tables.append("#### `xdp_cost` (BPF_PROG_TEST_RUN of the XDP fast path)\n\n```\n"
                      + open(args.xdp_cost).read().rstrip() + "\n```")
    body = f"""## Micro-benchmarks

Machine: {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, \
kernel {platform.release()}; Google Benchmark {args.gbench_version} \
({ctx.get('library_build_type', '?')} build of the library, as Debian ships it). Load average before / after: \
{args.load_before} / {loadavg()} (other builds share this machine: compare rows, not runs).

Command: `{args.command}`

""" + "\n\n".join(tables)
    replace_section(args.results, "micro", body)
    print(f"micro_report: wrote the micro section of {args.results}")


if __name__ == "__main__":
    main()
