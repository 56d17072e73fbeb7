#!/usr/bin/env python3
"""Specification: the daemon's dataplane lifecycle and its AF_XDP attach ladder.

A. keep_dataplane_on_exit = true: after SIGTERM the XDP program stays attached and its maps stay
   pinned; an established connection keeps being forwarded by XDP alone while no daemon runs, and
   new SYNs are not let through (no worker socket, fail closed).
B. A restarted daemon adopts the pinned maps (the flow learnt by the first run is still there)
   and serves new connections; with keep_dataplane_on_exit = false it then detaches the program
   and removes the pins at exit.
C. The attach ladder on veth: "auto" logs that zero-copy was refused and runs in driver copy
   mode; "zerocopy" alone fails with an error that says what to change; "generic" attaches in skb
   mode and still completes real handshakes.
D. The per-valid-ACK established-map insert works from many threads' point of view (every insert
   lands) and its cost is printed (flow_insert_cost).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import sw_daemon as D
from sw_harness import (Checks, client_args, host_rst_guard, run_client, start_capture,
                        start_listener, stop_capture)
from sw_topology import IPV4, MACS, Topology, run

HOST = IPV4["host"]


def new_config(topo, secrets_path, **overrides):
    return D.base_config(topo, secrets_path, **overrides)


def part_keep_and_adopt(topo, args, checks, secrets_path):
    pin_dir = os.path.join(topo.bpffs, "synwarden")
    first = D.Daemon(topo, args.synwarden, new_config(topo, secrets_path,
                                                       keep_dataplane_on_exit=True), "first")
    host_cap = start_capture(topo, "host", "host-keep")
    first.start()
    # A connection that sends one segment a second, across the daemon's exit.
    client = topo.popen("client", *client_args(HOST, segments=4, gap=1.0, hold=0.5),
                        stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    first.stop()
    stopped_at = time.monotonic()
    prog_after_exit = topo.xdp_attached()
    pins = sorted(os.listdir(pin_dir)) if os.path.isdir(pin_dir) else []
    # A new connection while no worker runs: its SYN must not reach the host.
    refused = run_client(topo, HOST, segments=0, timeout=1.0)
    client_result = json.loads(client.communicate(timeout=20)[0])
    flows = D.established_flows(pin_dir)
    frames = stop_capture(host_cap)
    print("first daemon log:\n" + first.log())

    port = client_result.get("local_port")
    checks.check("the long-lived client connected while the first daemon ran",
                 client_result.get("connected") is True, json.dumps(client_result))
    checks.check("first daemon exited 0 on SIGTERM", first.returncode == 0)
    checks.check("keep_dataplane_on_exit: the XDP program is still attached after exit",
                 prog_after_exit is not None, f"prog id {prog_after_exit}")
    checks.check("keep_dataplane_on_exit: the maps are still pinned",
                 {"sw_flows", "sw_hosts"} <= set(pins), str(pins))
    checks.check("the established flow survived the daemon's exit",
                 any(f["sport"] == port for f in flows), json.dumps(flows))
    # The host never ACKs (no agent yet), so after its first RTO the client only retransmits
    # its first segment (new data waits behind it): every copy of it that arrives after the
    # exit crossed the firewall on the XDP program alone.
    late = [f for f in frames if f["direction"] == "in" and f["sport"] == port
            and f["payload_len"] > 0 and f["time"] > stopped_at + 0.05]
    checks.check("segments sent after the daemon exited were still forwarded to the host "
                 "(XDP alone)",
                 len(late) >= 2 and all(f["src_mac"] == MACS["firewall"] for f in late),
                 json.dumps([(f["seq"], f["src_mac"], round(f["time"] - stopped_at, 3))
                             for f in late]))
    checks.check("a new connection is not let through while no worker runs (fail closed)",
                 refused.get("connected") is False
                 and not any(f["flags"] == "S" and f["time"] > stopped_at for f in frames),
                 json.dumps(refused))

    second = D.Daemon(topo, args.synwarden, new_config(topo, secrets_path,
                                                        keep_dataplane_on_exit=False), "second")
    second.start()
    again = run_client(topo, HOST, segments=1)
    flows_second = D.established_flows(pin_dir)
    second.stop()
    print("second daemon log:\n" + second.log())
    checks.check("the restarted daemon adopted the pinned maps",
                 "adopted pinned maps" in second.log() and "sw_flows" in second.log())
    checks.check("the flow learnt by the first run is still in the adopted map",
                 any(f["sport"] == port for f in flows_second))
    checks.check("the restarted daemon serves new connections", again.get("connected") is True,
                 json.dumps(again))
    checks.check("without keep_dataplane_on_exit the program is detached at exit",
                 topo.xdp_attached() is None)
    left = os.listdir(pin_dir) if os.path.isdir(pin_dir) else []
    checks.check("without keep_dataplane_on_exit the pins are removed", not left, str(left))


def part_ladder(topo, args, checks, secrets_path):
    auto_log = ""
    for name in ("first", "second"):
        path = os.path.join(topo.workdir, f"{name}.log")
        if os.path.exists(path):
            auto_log += open(path).read()
    checks.check("auto mode: zero-copy refused on veth, logged with the reason",
                 "zero-copy refused" in auto_log and "Operation not supported" in auto_log)
    checks.check("auto mode: the socket runs in driver copy mode, logged",
                 "AF_XDP socket in driver copy mode" in auto_log)

    zc = D.Daemon(topo, args.synwarden, new_config(topo, secrets_path, xsk_mode="zerocopy"), "zc")
    zc.start(expect_running=False)
    status = zc.proc.wait(timeout=20)
    print("zerocopy daemon log:\n" + zc.log())
    checks.check("xsk_mode zerocopy alone fails on veth, saying what to change",
                 status == 1 and "zero-copy refused" in zc.log()
                 and "set \"xsk_mode\" to \"auto\"" in zc.log(), f"status {status}")
    checks.check("the failed start left no XDP program behind", topo.xdp_attached() is None)

    generic = D.Daemon(topo, args.synwarden, new_config(topo, secrets_path, xsk_mode="generic"),
                       "generic")
    generic.start()
    client = run_client(topo, HOST, segments=1)
    report = generic.stats()
    generic.stop()
    print("generic daemon log:\n" + generic.log())
    checks.check("xsk_mode generic attaches the program in skb mode",
                 "in generic (skb) mode" in generic.log()
                 and "AF_XDP socket in generic (XDP_SKB) copy mode" in generic.log())
    checks.check("a real handshake completes through the generic path",
                 client.get("connected") is True and D.worker_total(report, "ack_valid") >= 1,
                 json.dumps(client))


def part_insert_cost(args, checks):
    out = run([args.flow_insert_cost, "20000"]).stdout
    result = json.loads(out)
    print("established-map insert cost:", out.strip())
    checks.check("20000 flow inserts (+20000 bare ones) all landed in the established map",
                 result["failed"] == 0 and result["entries"] == 40000, out.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synwarden", required=True)
    ap.add_argument("--synflood", required=True)
    ap.add_argument("--bpf-dir", required=True)
    ap.add_argument("--flow-insert-cost", required=True)
    args = ap.parse_args()
    checks = Checks()
    with Topology(args.bpf_dir) as topo:
        secrets_path = os.path.join(topo.workdir, "host.secrets.json")
        D.write_secrets(secrets_path)
        listener = start_listener(topo, HOST)
        host_rst_guard(topo)
        try:
            part_keep_and_adopt(topo, args, checks, secrets_path)
            part_ladder(topo, args, checks, secrets_path)
        finally:
            listener.kill()
    part_insert_cost(args, checks)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
