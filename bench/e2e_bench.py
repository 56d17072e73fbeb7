#!/usr/bin/env python3
"""End-to-end SYN-flood benchmark: Linux syncookies vs nft SYNPROXY vs synwarden vs an XDP_TX
reflector, on one namespace topology, one generator, the firewall pinned to its core(s).

    sudo bench/run.sh              # builds, then runs this with the build's binaries
    sudo bench/run.sh --quick      # ~2 minutes

For each scenario (bench/e2e/scenarios.py) and each firewall width (1 queue on 1 core, then
2 queues on 2 cores) it builds a fresh topology (tests/integration/sw_topology.py), floods the
protected address with synflood at full speed, and over a measurement window records: SYNs
offered, SYN-ACKs delivered back toward the attacker, the firewall's CPU time (its NAPI threads
plus the daemon's threads, see bench/e2e/bench_net.py), and legitimate connections' success and
connect latency. Then the daemon's resident memory around a long flood. Writes a JSON file and
bench/RESULTS.md (table, PNG plot, machine, command).
"""
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import argparse  # noqa: E402
import json
import os
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "e2e"))

import bench_net  # noqa: E402
import report  # noqa: E402
from results_md import loadavg  # noqa: E402
import scenarios  # noqa: E402
import summary  # noqa: E402
from sw_topology import IPV4, MACS, Topology  # noqa: E402

PYTHON = "/usr/bin/python3"
WORLD_CPU = 0   # generator, bridge, clients, agent, this script


def firewall_cpus(queues):
    n = os.cpu_count()
    if n > queues:
        return list(range(n - queues, n))   # cores the generator does not use
    return list(range(queues))[:n]          # not enough cores: shares the generator's


def start_flood(topo, net, tools, seconds):
    """xdpflood at full speed, transmitting straight into the firewall's switch port (pfi) with
    the attacker's source MAC: the firewall receives exactly what the attacker's port would
    deliver through the bridge, as XDP frames (the way a NIC's RX ring hands them over), and the
    generator's core does not also pay for bridging each frame, which would make it the
    bottleneck. One generator thread per firewall queue: on veth a frame lands in RX queue
    (sending CPU mod queues)."""
    cpus = sorted({WORLD_CPU, *net.fw_cpus}) if len(net.fw_cpus) > 1 else [WORLD_CPU]
    cmd = [tools.xdpflood, "--interface", "pfi", "--src-mac", MACS["attacker"],
           "--dst-mac", MACS["firewall"], "--dst", IPV4["host"],
           "--dst-port", str(scenarios.PORT), "--src-prefix", scenarios.FLOOD_PREFIX,
           "--duration", str(seconds), "--cpus", ",".join(str(c) for c in cpus)]
    proc = topo.popen("switch", *cmd, stdout=subprocess.PIPE, text=True)
    started = json.loads(proc.stdout.readline() or "{}")
    if started.get("event") != "started":
        proc.wait(timeout=10)
        raise RuntimeError(f"xdpflood did not start (exit {proc.returncode}); run it by hand: "
                           + " ".join(cmd))
    net.add_world_process(proc.pid, rt=bench_net.RT_GEN, keep_affinity=True)
    net.watch_generator(started["counter_map_id"])
    return proc


def start_echo_server(topo, net, role):
    proc = topo.popen(role, PYTHON, os.path.join(HERE, "e2e", "echo_server.py"), "--address",
                      IPV4["host"], "--port", str(scenarios.PORT), stdout=subprocess.PIPE,
                      text=True)
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"echo server in {role} did not start")
    net.add_world_process(proc.pid)
    return proc


def bound_by(result):
    """What limited the SYN-ACK rate in this run: the firewall when its RX ring refused a real
    share of the offered frames (it could not take them in), the generator when nearly all were
    answered."""
    offered = result["offered_pps"]
    if WORLD_CPU in result["fw_cpus"]:
        # The generator runs below the firewall on the firewall's own cores: it only gets
        # what the firewall leaves, so neither side alone sets the rate.
        return "shared cores"
    if offered > 0 and result["ring_full_pps"] >= 0.05 * offered:
        return "firewall"
    if result["synack_pps"] >= 0.95 * offered:
        return "generator"
    return "mixed"


def run_one(cls, queues, args, tools):
    fw_cpus = firewall_cpus(queues)
    scenario = cls(tools)
    print(f"-- ({scenario.key}) {scenario.title}: {queues} queue(s) on CPU {fw_cpus}", flush=True)
    with Topology(tools.bpf_dir, firewall_queues=queues) as topo:
        net = bench_net.BenchNet(topo, fw_cpus, WORLD_CPU, tools.sink)
        net.prepare()
        try:
            scenario.setup(topo, net)
            server = (start_echo_server(topo, net, scenario.server_role) if scenario.legit
                      else None)
            # The flood lasts until the last legitimate attempt has had its deadline.
            flood_seconds = (args.warmup + args.seconds
                             + (args.deadline + 1 if scenario.legit else 0))
            flood = start_flood(topo, net, tools, flood_seconds)
            time.sleep(args.warmup)
            s0 = net.snapshot()
            client = None
            if scenario.legit:
                client = topo.popen(
                    "client", PYTHON, os.path.join(HERE, "e2e", "legit_client.py"), "--dst",
                    IPV4["host"], "--port", str(scenarios.PORT), "--rate", str(args.legit_rate),
                    "--seconds", str(args.seconds), "--deadline", str(args.deadline),
                    stdout=subprocess.PIPE, text=True)
                net.add_world_process(client.pid)
            time.sleep(args.seconds)
            s1 = net.snapshot()
            legit = (json.loads(client.communicate(timeout=args.deadline + 30)[0]) if client
                     else None)
            flood_out = json.loads(flood.communicate(timeout=60)[0].strip().splitlines()[-1])
            details = scenario.details()
            if server:
                server.kill()
        finally:
            scenario.stop()
    d = bench_net.delta(s0, s1)
    result = {"scenario": scenario.name, "key": scenario.key, "title": scenario.title,
              "queues": queues, "fw_cpus": fw_cpus, **d, "legit": legit, "flood": flood_out,
              "details": details}
    result["synack_per_core"] = d["synack_pps"] / d["fw_cores"] if d["fw_cores"] > 0 else None
    result["bound"] = bound_by(result)
    legit_text = "n/a" if not legit else (
        f"{legit['succeeded']}/{legit['attempts']} ok, connect p50 {legit['connect_ms_p50']} "
        f"p99 {legit['connect_ms_p99']} ms, errors {legit['errors']}")
    print(f"   offered {d['offered_pps'] / 1e3:.0f} k/s (ring refused "
          f"{d['ring_full_pps'] / 1e3:.0f} k/s), SYN-ACKs {d['synack_pps'] / 1e3:.0f} k/s, "
          f"firewall {d['fw_cores']:.2f} cores (NAPI {d['fw_cores_napi']:.2f}, daemon "
          f"{d['fw_cores_proc']:.2f}), per core "
          f"{(result['synack_per_core'] or 0) / 1e3:.0f} k/s, limited by {result['bound']}; "
          f"legit {legit_text}", flush=True)
    return result


def run_memory(args, tools):
    """The daemon's RSS before and after a long flood at full speed (must stay flat)."""
    fw_cpus = firewall_cpus(1)
    scenario = scenarios.Synwarden(tools)
    print(f"-- memory: synwarden RSS around a {args.memory_seconds} s flood", flush=True)
    with Topology(tools.bpf_dir, firewall_queues=1) as topo:
        net = bench_net.BenchNet(topo, fw_cpus, WORLD_CPU, tools.sink)
        net.prepare()
        try:
            scenario.setup(topo, net)
            time.sleep(1)
            pid = scenario.pid()
            before = bench_net.rss_kib(pid)
            flood = start_flood(topo, net, tools, args.memory_seconds)
            samples = []
            while flood.poll() is None:
                samples.append(bench_net.rss_kib(pid))
                time.sleep(1)
            flood_out = json.loads(flood.communicate()[0].strip().splitlines()[-1])
            time.sleep(1)
            after = bench_net.rss_kib(pid)
            details = scenario.details()
        finally:
            scenario.stop()
    result = {"rss_before_kib": before, "rss_after_kib": after,
              "rss_max_during_kib": max(samples) if samples else after,
              "flood": flood_out, "synacks": sum(details["synack_built_per_worker"])}
    print(f"   RSS before {before} KiB, after {after} KiB (max during "
          f"{result['rss_max_during_kib']} KiB); {json.dumps(flood_out)}", flush=True)
    return result


def machine():
    def sh(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    model = next((line.split(":", 1)[1].strip() for line in sh("lscpu").splitlines()
                  if line.startswith("Model name")), "?")
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {"kernel": sh("uname", "-r"), "cpu": model, "cpus": os.cpu_count(),
            "mem_gib": round(mem_kib / 2**20, 1), "os": sh("sh", "-c", ". /etc/os-release; "
                                                           "echo $PRETTY_NAME"),
            "virt": sh("systemd-detect-virt") or "?",
            "revision": sh("git", "-C", REPO, "rev-parse", "--short", "HEAD"),
            "tree_modified": bool(sh("git", "-C", REPO, "status", "--porcelain"))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="CMake build directory")
    ap.add_argument("--quick", action="store_true", help="short windows (~2 minutes in all)")
    ap.add_argument("--scenarios",
                    default="linux,synproxy,synwarden,synwarden_xdp,synwarden_xdp_nohint,xdp_tx")
    ap.add_argument("--queues", default="1,2", help="firewall widths to measure")
    ap.add_argument("--seconds", type=float, help="measurement window per run")
    ap.add_argument("--rounds", type=int, help="repetitions of every configuration, "
                    "interleaved; the table shows medians")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--memory-seconds", type=float, help="flood length of the RSS check")
    ap.add_argument("--legit-rate", type=float, default=50.0, help="legit connections/s")
    ap.add_argument("--deadline", type=float, default=3.0, help="seconds per legit connection")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--json", default=None, help="raw results (default: next to --results)")
    ap.add_argument("--invoked-as", help=argparse.SUPPRESS)  # run.sh: the command to record
    ap.add_argument("--render", metavar="JSON", help="only rewrite --results (table and plot) "
                    "from the raw results of an earlier run")
    args = ap.parse_args()
    if args.render:
        with open(args.render) as f:
            report.write(json.load(f), args.results)
        print(f"e2e_bench: rewrote {args.results} from {args.render}")
        return
    args.seconds = args.seconds or (5.0 if args.quick else 8.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.memory_seconds = args.memory_seconds or (20.0 if args.quick else 60.0)
    if os.geteuid() != 0:
        sys.exit("e2e_bench: needs root (network namespaces, XDP, nftables)")
    if os.cpu_count() < 2:
        sys.exit("e2e_bench: needs at least 2 CPUs (one for the generator, one for the firewall)")

    b = args.build
    tools = argparse.Namespace(
        synwarden=os.path.join(b, "userspace/daemon/synwarden"),
        xdpflood=os.path.join(b, "bench/xdpflood"),
        agent=os.path.join(b, "agent/synwarden-agent"),
        reflector=os.path.join(b, "bench/bpf/reflector.bpf.o"),
        sink=os.path.join(b, "bench/bpf/synack_sink.bpf.o"),
        bpf_dir=os.path.join(b, "tests/integration/bpf"))
    for path in vars(tools).values():
        if not os.path.exists(path):
            sys.exit(f"e2e_bench: {path} missing: build first (bench/run.sh does)")

    # Everything this script starts runs on the world core unless moved to the firewall's, in
    # the real-time class (see bench/e2e/bench_net.py: other builds share this machine).
    os.sched_setaffinity(0, {WORLD_CPU})
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(bench_net.RT_WORLD))
    started = time.time()
    run = {"machine": machine(), "load_before": loadavg(), "command": args.invoked_as or " ".join(sys.argv),
           "seconds": args.seconds, "warmup": args.warmup,
           "rounds": args.rounds,
           "legit_rate": args.legit_rate, "deadline": args.deadline, "results": []}
    print(f"e2e_bench: {run['machine']}, load {run['load_before']}", flush=True)
    # Rounds interleave the configurations, so a burst of load from the machine's other users
    # hits one round of each rather than every round of one.
    for round_no in range(args.rounds):
        for queues in (int(q) for q in args.queues.split(",")):
            for name in args.scenarios.split(","):
                result = run_one(scenarios.SCENARIOS[name], queues, args, tools)
                result["round"] = round_no
                run["results"].append(result)
    run["summary"] = summary.summarise(run["results"])
    if args.memory_seconds > 0 and "synwarden" in args.scenarios:
        run["memory"] = run_memory(args, tools)
    run["load_after"] = loadavg()
    run["elapsed_s"] = round(time.time() - started)
    json_path = args.json or os.path.splitext(args.results)[0] + ".json"
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(run, f, indent=1)
    report.write(run, args.results)
    print(report.table(run))
    print(f"e2e_bench: wrote {args.results} and {json_path} in {run['elapsed_s']} s")


if __name__ == "__main__":
    main()
