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
import sw_restart as R
from sw_e2e import Scenario
from sw_harness import Checks
from sw_topology import IPV4, IPV6, Topology

STREAMS = 100  # per family
# After every flow is learnt again the streams run this much longer (some 30 echoed chunks each),
# then stop: they span the outage and the recovery, not a fixed duration.
AFTER_RECOVERY_S = 3.0


def main():
    ap = H.argument_parser()
    ap.add_argument("--seconds", type=float, default=90.0,
                    help="upper bound of the streams' duration (they stop once recovery is shown)")
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
            streams = R.start_doubled_streams(scenario, STREAMS, args.seconds)
            time.sleep(4)
            restart = R.restart_without_pins(scenario, pins, 2 * STREAMS)
            time.sleep(AFTER_RECOVERY_S)
            stream_results = scenario.end_streams(streams, timeout=args.seconds + 60)
            s1 = scenario.daemon.stats()
            after = R.stream_flows(pins)
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
    before, recovered_flows = restart["before"], restart["back"]
    print(f"stream flows in the established map: {before} before the stop, {recovered_flows} "
          f"{restart['since_start_s']:.1f} s after the new daemon ran "
          f"({restart['since_stop_s']:.1f} s after "
          f"the stop), {after} at the end; flow_recovered_timestamp {recovered} "
          f"(XDP {D.xdp(s1, 'xdp_ack_recovered')})")
    print("longest a stream waited for an echo (the outage and TCP's backoff): "
          + ", ".join(f"{fam} {r.get('max_stall_s', 0):.2f} s"
                      for fam, r in zip(("IPv4", "IPv6"), stream_results)))
    xdp_reasons, worker_counters = R.nonzero_counters(s1)
    print("XDP reasons since the restart: " + json.dumps(xdp_reasons))
    print("worker counters since the restart: " + json.dumps(worker_counters))
    checks.check("the stop removed the dataplane and its pinned established map", restart["gone"])
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
