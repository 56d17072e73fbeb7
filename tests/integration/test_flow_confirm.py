#!/usr/bin/env python3
"""Specification: a firewall that lost its established map gets connections WITHOUT timestamps
back by asking the host's agent (socket confirmation, docs/flow-recovery.md).

The whole product (agent in bpf mode, protection on, the datapath given). The client namespace
runs with net.ipv4.tcp_timestamps = 0, so its 100 long-lived echo streams (IPv4 and IPv6,
opened through cookies) carry no timestamp: nothing in their segments lets the firewall recover
them on its own. The daemon stops with its dataplane removed and starts again with an empty
established map (sw_restart.py, as integration_flow_recovery). Then:
  1. no stream breaks: their next segments fail the cookie check, the datapath reports their
     flow keys, the confirmer asks the host's agent, which finds each one an established socket,
     and the flows are learnt; TCP retransmits what was dropped meanwhile;
  2. the flows came back through confirmation, not through timestamps (there are none), and
     the agent refused nothing of theirs;
  3. the established map holds every stream's flow again.
The recovery time is printed: from the new daemon's start (its program drops the first
segments) until every flow is back, the confirmer's own time from report to learnt flow, and the
longest a stream waited for an echo.
"""
import json
import os
import sys
import time

import sw_daemon as D
import sw_hardening as H
import sw_restart as R
from sw_e2e import Scenario
from sw_harness import Checks
from sw_topology import Topology

STREAMS = 50  # per family


def main():
    ap = H.argument_parser()
    ap.add_argument("--seconds", type=float, default=12.0)
    args = ap.parse_args()
    checks = Checks()
    print(f"== synwarden restarted without its established map: {2 * STREAMS} streams without "
          f"timestamps, datapath {args.datapath} ==")
    with Topology(args.bpf_dir, firewall_queues=1, host_rps=True) as topo:
        scenario = Scenario(topo, args.synwarden, args.agent, args.synflood,
                            datapath=args.datapath)
        pins = os.path.join(topo.bpffs, "synwarden")
        try:
            scenario.start()
            topo.sh("client", "sysctl", "-qw", "net.ipv4.tcp_timestamps=0")
            streams = R.start_doubled_streams(scenario, STREAMS, args.seconds)
            time.sleep(3)
            restart = R.restart_without_pins(scenario, pins, 2 * STREAMS, wait_s=10)
            confirm = scenario.daemon.stats().get("socket_confirm")
            results = R.stream_results(streams, args.seconds)
            s1 = scenario.daemon.stats()
            confirm_end = s1.get("socket_confirm")
            after = R.stream_flows(pins)
            scenario.stop()
        finally:
            if scenario.daemon:
                scenario.daemon.kill()
                print("daemon log (tail):\n" + scenario.daemon.log()[-1500:])

    recovered_ts = (D.worker_total(s1, "flow_recovered_timestamp")
                    + D.xdp(s1, "xdp_ack_recovered"))
    print(f"stream flows in the established map: {restart['before']} before the stop, "
          f"{restart['back']} {restart['since_start_s']:.2f} s after the new daemon ran "
          f"({restart['since_stop_s']:.2f} s after the stop), {after} at the end")
    print(f"recovery time: all flows back {restart['since_start_s'] * 1000:.0f} ms after the new "
          f"daemon's start; confirmer report -> learnt: last {confirm_end['last_confirm_ms']} ms, "
          f"longest {confirm_end['max_confirm_ms']} ms")
    print("longest a stream waited for an echo (the outage, TCP's backoff and the confirmation): "
          + ", ".join(f"{fam} {r.get('max_stall_s', 0):.2f} s" for fam, r in zip(("IPv4", "IPv6"), results)))
    print("socket_confirm when the flows were back: " + json.dumps(confirm))
    print("socket_confirm at the end: " + json.dumps(confirm_end))
    xdp_reasons, worker_counters = R.nonzero_counters(s1)
    print("XDP reasons since the restart: " + json.dumps(xdp_reasons))
    print("worker counters since the restart: " + json.dumps(worker_counters))

    checks.check("the stop removed the dataplane and its pinned established map", restart["gone"])
    checks.check(f"the streams' flows were in the map before ({restart['before']})",
                 restart["before"] == 2 * STREAMS)
    ok = sum(r["ok"] for r in results)
    checks.check(f"all {2 * STREAMS} streams without timestamps survived the restart ({ok} ok)",
                 ok == 2 * STREAMS, json.dumps([r["failures"][:3] for r in results]))
    checks.check("every stream's flow came back into the established map",
                 restart["back"] >= 2 * STREAMS and after >= 2 * STREAMS,
                 f"{restart['back']} -> {after}")
    checks.check(f"the confirmer learnt them: {confirm_end['confirmed']} confirmed, "
                 f"{confirm_end['refused']} refused",
                 confirm_end["confirmed"] >= 2 * STREAMS and confirm_end["refused"] == 0
                 and confirm_end["timed_out"] == 0 and confirm_end["insert_failed"] == 0)
    checks.check(f"asked in batches: {confirm_end['requests']} requests for "
                 f"{confirm_end['asked']} tuples",
                 0 < confirm_end["requests"] < confirm_end["asked"])
    checks.check(f"nothing was recovered from timestamps ({recovered_ts}): the clients sent none",
                 recovered_ts == 0)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
