#!/usr/bin/env python3
"""Control-plane latency under hostile clients: GET /status and POST /hosts/{ip}/protect, idle
and while 50 clients trickle one byte per second and a burst of 200 concurrent GET /stats is
fired before every sample. Writes the "api-latency" section of bench/RESULTS.md.

  sudo bench/api_latency.py [--build build] [--binary LABEL=PATH ...] [--samples 20]

Each --binary is measured in turn in a fresh topology (default: the build's synwarden, labelled
"this build"), so an older daemon can be put side by side. A request that gets no answer within
5 s counts as unanswered. The load is tests/integration/sw_api_load.py (the integration test
integration_api_hostile asserts on the same measurement).
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import sw_daemon as D  # noqa: E402
from sw_harness import PYTHON  # noqa: E402
from sw_topology import IPV4, Topology  # noqa: E402
from results_md import loadavg, replace_section  # noqa: E402

LOAD = os.path.join(REPO, "tests", "integration", "sw_api_load.py")


def measure(binary, bpf_dir, slow, burst, samples):
    with Topology(bpf_dir) as topo:
        secrets_path = os.path.join(topo.workdir, "host.secrets.json")
        D.write_secrets(secrets_path)
        daemon = D.Daemon(topo, binary, D.base_config(topo, secrets_path))
        daemon.start()
        try:
            out = topo.sh("firewall", PYTHON, LOAD, "load", "--api", "127.0.0.1:9477",
                          "--host", IPV4["host"], "--slow", str(slow), "--burst", str(burst),
                          "--samples", str(samples), timeout=1800).stdout
        finally:
            daemon.kill()
    return json.loads(out)


def cell(r, key):
    return "-" if key not in r else f"{r[key]:.1f}"


def table(results):
    rows = ["| daemon | load | request | answered | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|---|"]
    for label, result in results:
        load = f"{result['slow_clients']} slow + {result['burst']} × /stats before each sample"
        for phase, phase_label in (("idle", "none"), ("loaded", load)):
            for kind in ("status", "protect", "stats"):
                r = result[phase].get(kind)
                if r:
                    rows.append(f"| {label} | {phase_label} | {kind} | {r['answered']}/{r['n']} | "
                                f"{cell(r, 'p50')} | {cell(r, 'p99')} | {cell(r, 'max')} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--binary", action="append", default=[],
                    help="LABEL=PATH of a synwarden to measure (repeatable)")
    ap.add_argument("--slow", type=int, default=50)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/api_latency.py: needs root (network namespaces, XDP)")
    binaries = [b.split("=", 1) for b in args.binary] or [
        ["this build", os.path.join(args.build, "userspace", "daemon", "synwarden")]]
    bpf_dir = os.path.join(args.build, "tests", "integration", "bpf")
    results = []
    for label, path in binaries:
        print(f"measuring {label} ({path}) ...", flush=True)
        results.append((label, measure(path, bpf_dir, args.slow, args.burst, args.samples)))
    text = table(results)
    print(text)
    if not args.no_write:
        body = ("## Control-plane latency under slow clients\n\n"
                f"`bench/api_latency.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"load average {loadavg()}. Each sample is a new connection (as synwardenctl "
                f"makes); {args.samples} samples per request kind and phase; a protect sample "
                "toggles the host's protection, which is applied and saved to the config file "
                "(write, fsync, rename: its time varies with the disk's other writers). A request "
                "unanswered within 5 s (15 s for /stats) counts as not answered; '-' means none "
                "was. Method: bench/README.md.\n\n" + text + "\n")
        replace_section(os.path.join(HERE, "RESULTS.md"), "api-latency", body)
        print("wrote the api-latency section of bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
