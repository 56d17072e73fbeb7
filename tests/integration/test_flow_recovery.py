#!/usr/bin/env python3
"""Specification: a firewall that lost its established map gets every timestamped connection back.

The whole product (agent in bpf mode, afxdp datapath, protection on). 200 long-lived echo
streams (IPv4 and IPv6, opened through cookies, timestamps on as Linux clients negotiate them)
run while the daemon stops with its dataplane removed (XDP program detached, pinned maps
deleted: what a reboot of the firewall leaves) and starts again with an empty established map.
  1. no stream breaks: their next segments fail the cookie check (their sequence numbers moved
     on long ago), but their TSecr fits the host's clock and ts_off, so the new daemon learns
     them again (flow_recovered_timestamp, docs/flow-recovery.md);
  2. the established map holds every stream's flow again afterwards;
  3. new connections after the restart succeed (>= 99.9 %).
The streams' server echoes every chunk twice, so their segments are not cookies any more.
The outage itself (the seconds without a daemon) is absorbed by TCP retransmission; the time
until the streams moved again is printed.
"""
import json
import os
import sys
import time

import sw_daemon as D
import sw_hardening as H
from sw_e2e import Scenario
from sw_harness import Checks
from sw_servers import ECHO_PORT
from sw_topology import IPV4, IPV6, Topology

STREAMS = 100  # per family


def stream_flows(pin_dir):
    return sum(1 for f in D.established_flows(pin_dir) if f["dport"] == ECHO_PORT)


def main():
    ap = H.argument_parser()
    ap.add_argument("--seconds", type=float, default=25.0)
    args = ap.parse_args()
    checks = Checks()
    print(f"== synwarden restarted without its established map: 200 timestamped streams, "
          f"datapath {args.datapath} ==")
    # host_rps: every stream sends its first bytes right after connect(); a real NIC's RSS keeps
    # the cookie ACK and that data on one host CPU, a veth does not (sw_topology.py explains).
    with Topology(args.bpf_dir, firewall_queues=1, host_rps=True) as topo:
        scenario = Scenario(topo, args.synwarden, args.agent, args.synflood,
                            datapath=args.datapath)
        pins = os.path.join(topo.bpffs, "synwarden")
        try:
            scenario.start()
            # Doubled echoes: the host sends twice what it receives, so a stream's later
            # segments are no longer valid cookies (in a plain echo stream ACK - seq stays the
            # handshake's, and the cookie check alone would recover the flow for 2 minutes).
            streams = [scenario.start_streams(IPV4["host"], STREAMS, args.seconds, double=True),
                       scenario.start_streams(IPV6["host"], STREAMS, args.seconds, double=True)]
            time.sleep(4)
            before = stream_flows(pins)
            scenario.daemon.stop()
            gone = not os.path.exists(os.path.join(pins, "sw_flows"))
            t_stop = time.monotonic()
            time.sleep(1.0)
            scenario.daemon.start(timeout=20)
            t_up = time.monotonic()
            # Every stream sends every 100 ms: once it is learnt again its echoes come back.
            deadline, recovered_flows = time.monotonic() + 15, 0
            while time.monotonic() < deadline:
                recovered_flows = stream_flows(pins)
                if recovered_flows >= 2 * STREAMS:
                    break
                time.sleep(0.2)
            t_back = time.monotonic()
            stream_results = [json.loads(p.communicate(timeout=args.seconds + 60)[0].splitlines()[-1])
                              for p in streams]
            s1 = scenario.daemon.stats()
            after = stream_flows(pins)
            fresh = [scenario.clients("curl", dst, 100, parallel=10)
                     for dst in (IPV4["host"], IPV6["host"])]
            scenario.stop()
        finally:
            if scenario.daemon:
                scenario.daemon.kill()
                print("daemon log (tail):\n" + scenario.daemon.log()[-1500:])

    # The worker's counter (afxdp) or the XDP program's reason (xdp datapath).
    recovered = (D.worker_total(s1, "flow_recovered_timestamp")
                 + D.xdp(s1, "xdp_ack_recovered"))
    print(f"stream flows in the established map: {before} before the stop, {recovered_flows} "
          f"{t_back - t_up:.1f} s after the new daemon ran ({t_back - t_stop:.1f} s after the "
          f"stop), {after} at the end; flow_recovered_timestamp {recovered} "
          f"(XDP {D.xdp(s1, 'xdp_ack_recovered')})")
    print("XDP reasons since the restart: " + json.dumps({k: v for k, v in D.xdp_packets(s1).items() if v}))
    print("worker counters since the restart: " + json.dumps(
        {k: D.worker_total(s1, k) for k in s1["workers"][0]["counters"] if D.worker_total(s1, k)}))
    checks.check("the stop removed the dataplane and its pinned established map", gone)
    checks.check(f"the streams' flows were in the map before ({before})", before == 2 * STREAMS)
    ok = sum(r["ok"] for r in stream_results)
    checks.check(f"all {2 * STREAMS} streams survived the restart ({ok} ok)", ok == 2 * STREAMS,
                 json.dumps([r["failures"][:3] for r in stream_results]))
    checks.check("the new daemon learnt every stream again from its timestamps",
                 recovered >= 2 * STREAMS and recovered_flows >= 2 * STREAMS and after >= 2 * STREAMS,
                 f"recovered {recovered}, flows {recovered_flows} -> {after}")
    fresh_ok = sum(r["ok"] for r in fresh)
    fresh_total = sum(r["total"] for r in fresh)
    checks.check(f">= 99.9 % of new connections after the restart worked ({fresh_ok}/{fresh_total})",
                 fresh_ok >= 0.999 * fresh_total, json.dumps([r["failures"][:3] for r in fresh]))
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
