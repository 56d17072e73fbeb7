#!/usr/bin/env python3
"""Before/after comparison of the per-SYN cost: the same Google Benchmark cases of two builds,
run alternately on one pinned CPU, side by side in bench/RESULTS.md's "syn-ab" section.

    bench/ab_compare.py --before DIR --after DIR [--label-before L] [--label-after L]
                        [--rounds 3] [--cpu 1] [--goal-ns 40]

DIR is a CMake build directory (or a folder holding the binaries themselves) with
daemon_packet_handler_bench (the worker's whole SYN -> SYN-ACK frame: copy of the template,
parse with checksum checks, plan, in-place SYN-ACK with checksums) and cookie_bench (the plan
alone, and the cookie alone as a control that neither build changed). Rounds alternate
before/after so that the machine's other load hits both alike; each round is 5 repetitions.
The table shows the median and the lowest CPU time per iteration over all repetitions."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

from results_md import loadavg, replace_section

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = [("daemon_packet_handler_bench", "SynToSynAck"),
         ("cookie_bench", "PlanSynAck|CookieMake.*Specialised")]


def binary(folder, name):
    for sub in ("", "userspace/daemon", "bench"):
        path = os.path.join(folder, sub, name)
        if os.access(path, os.X_OK):
            return path
    raise SystemExit(f"ab_compare: no executable {name} under {folder}: build it first")


def run(path, pattern, cpu, out):
    subprocess.run(["taskset", "-c", str(cpu), path, f"--benchmark_filter={pattern}",
                    "--benchmark_repetitions=5", "--benchmark_min_time=0.3",
                    f"--benchmark_out={out}", "--benchmark_out_format=json"],
                   check=True, stdout=subprocess.DEVNULL)
    return [(b["run_name"], b["cpu_time"]) for b in json.load(open(out))["benchmarks"]
            if b.get("run_type") == "iteration"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--label-before", default="before")
    ap.add_argument("--label-after", default="after")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--goal-ns", type=float, default=40.0)
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    load_before = loadavg()
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for side, folder in (("before", args.before), ("after", args.after)):
                for name, pattern in CASES:
                    out = os.path.join(tmp, f"{side}-{name}-{r}.json")
                    for case, cpu_ns in run(binary(folder, name), pattern, args.cpu, out):
                        times.setdefault(case, {}).setdefault(side, []).append(cpu_ns)
    rows = ["| benchmark | " + args.label_before + ": median / min ns | " + args.label_after
            + ": median / min ns | change (median) |", "|---|---|---|---|"]
    for case in sorted(times):
        b, a = times[case]["before"], times[case]["after"]
        mb, ma = statistics.median(b), statistics.median(a)
        rows.append(f"| `{case}` | {mb:.1f} / {min(b):.1f} | {ma:.1f} / {min(a):.1f} | "
                    f"{100 * (ma - mb) / mb:+.0f} % |")
    body = f"""## SYN -> SYN-ACK per frame: before / after

`bench/ab_compare.py --label-before "{args.label_before}" --label-after "{args.label_after}"` \
({args.rounds} alternating rounds of 5 repetitions, CPU {args.cpu}; CPU time per iteration). \
Load average before / after: {load_before} / {loadavg()}.
`BM_SynToSynAck_*` is the worker's whole SYN frame (template copy, parse with checksum checks,
plan, SYN-ACK built in place with checksums; goal ≤ {args.goal_ns:.0f} ns); `BM_PlanSynAck*` the plan
alone (cookie and ts_off hashes, options); `BM_CookieMake*` a control both builds share.

{chr(10).join(rows)}
"""
    replace_section(args.results, "syn-ab", body)
    print(body)


if __name__ == "__main__":
    main()
