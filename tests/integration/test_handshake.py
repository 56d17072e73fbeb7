#!/usr/bin/env python3
"""Specification: handshakes through the firewall behave as the host's own kernel would.

The whole product (agent in bpf mode on the host, the daemon polling it), protection on:
 1. Port reuse within the host's TIME_WAIT: an HTTP/1.0 server closes first, so the host holds
    each 4-tuple in TIME_WAIT for 60 s; clients that reuse their source port a few seconds later
    must connect exactly as they would without the firewall (IPv4 and IPv6, idle and under a
    flood). The SYN of a known 4-tuple goes to the host, which applies its TIME_WAIT rules.
 2. The client's first data segment never overtakes its handshake ACK: >= 10 000 connections
    whose clients send their request right after connect() complete with no retransmission at
    all on the client (TCP_INFO tcpi_total_retrans), in either datapath, and the host's cookie
    check created exactly one socket per connection (a data segment checked as a cookie while
    the ACK's socket was being created would be dropped by the host's kernel); the first-byte
    latency through the firewall is reported beside the same path with protection off.
    The host's e0 steers each flow to one CPU (RPS), as a real NIC's RSS does: sw_topology.py.
"""
import json
import sys
import time

import sw_daemon as D
import sw_hardening as H
from sw_e2e import Scenario
from sw_harness import Checks
from sw_topology import IPV4, IPV6, Topology

REUSE_PORTS = 20          # per family and phase: 2 x 20 connections, the second 20 reuse ports
FIRSTDATA = 5000          # per family: 10 000 in all


def main():
    ap = H.argument_parser()
    ap.add_argument("--firstdata", type=int, default=FIRSTDATA, help="connections per family")
    ap.add_argument("--json-out", help="also write the latency results here (bench/)")
    args = ap.parse_args()
    checks = Checks()
    print(f"== synwarden handshakes: TIME_WAIT port reuse, first data after the ACK, datapath "
          f"{args.datapath} ==")
    # host_rps: the host's NIC keeps a flow on one CPU as RSS does (sw_topology.py: without it
    # the veth lab lets the host's kernel check an ACK and its data segment as cookies on two CPUs
    # at once and drop the loser, which no real NIC does).
    with Topology(args.bpf_dir, firewall_queues=1, host_rps=True) as topo:
        scenario = Scenario(topo, args.synwarden, args.agent, args.synflood,
                            datapath=args.datapath)
        try:
            scenario.start()
            s0 = scenario.daemon.stats()
            reuse = {}
            for family, dst in (("4", IPV4["host"]), ("6", IPV6["host"])):
                reuse[f"idle v{family}"] = scenario.clients("reuse", dst, REUSE_PORTS, gap=2)
                flood = scenario.flood(family, 60)
                time.sleep(1.0)
                reuse[f"flood v{family}"] = scenario.clients("reuse", dst, REUSE_PORTS, gap=2)
                flood.terminate()
                flood.communicate(timeout=30)
            s1 = scenario.daemon.stats()
            first, host_side = {}, {}
            for family, dst in (("4", IPV4["host"]), ("6", IPV6["host"])):
                a0, d0 = scenario.agent_stats(), scenario.daemon.stats()
                first[f"protected v{family}"] = scenario.clients(
                    "firstdata", dst, args.firstdata, concurrency=8)
                a1, d1 = scenario.agent_stats(), scenario.daemon.stats()
                host_side[family] = {
                    "cookie_sockets": a1["assigned"] - a0["assigned"],
                    "reused": D.xdp(d1, "fwd_syn_reuse") - D.xdp(d0, "fwd_syn_reuse")}
            s2 = scenario.daemon.stats()
            for address in (IPV4["host"], IPV6["host"]):
                scenario.set_protection(address, False)
            for family, dst in (("4", IPV4["host"]), ("6", IPV6["host"])):
                first[f"pass mode v{family}"] = scenario.clients(
                    "firstdata", dst, max(1000, args.firstdata // 5), concurrency=8)
            scenario.stop()
        finally:
            if scenario.daemon:
                scenario.daemon.kill()
                print("daemon log (tail):\n" + scenario.daemon.log()[-3000:])

    for name, r in reuse.items():
        print(f"reuse {name}: {r['ok']}/{r['total']}"
              + (f" failures: {r['failures']}" if r["failures"] else ""))
        checks.check(f"port reuse within TIME_WAIT, {name}: every connection, first and reused, "
                     f"completed ({r['ok']}/{r['total']})", r["ok"] == r["total"] == 2 * REUSE_PORTS)
    reused = D.xdp(s1, "fwd_syn_reuse") - D.xdp(s0, "fwd_syn_reuse")
    checks.check("the reusing SYNs went to the host's kernel (fwd_syn_reuse)",
                 reused >= 4 * REUSE_PORTS, f"fwd_syn_reuse +{reused}")

    for name, r in first.items():
        print(f"first data {name}: {json.dumps(r)}")
    for family, h in host_side.items():
        print(f"host side v{family}: {json.dumps(h)}")
    reasons = {k: D.xdp(s2, k) - D.xdp(s1, k) for k in D.xdp_packets(s2)
               if D.xdp(s2, k) != D.xdp(s1, k)}
    print(f"XDP reasons during the protected first-data runs: {json.dumps(reasons)}")
    for family in ("4", "6"):
        r = first[f"protected v{family}"]
        checks.check(f"IPv{family}: {r['total']} connections sending at once all completed "
                     f"({r['ok']}/{r['total']})", r["ok"] == r["total"] >= args.firstdata)
        checks.check(f"IPv{family}: no client retransmitted anything: the first data "
                     f"segment never overtook the handshake ACK ({r['retransmitted']} "
                     f"retransmitted, ports {r['retransmitted_ports']})",
                     r["retransmitted"] == 0)
        # The host's cookie check (agent's tc program) created each connection's socket once:
        # no second cookie segment of a connection (its first data) was checked while the first
        # was still becoming a socket, which the kernel would resolve by dropping one of them.
        h = host_side[family]
        checks.check(f"IPv{family}: the host's kernel made one cookie socket per connection "
                     f"({h['cookie_sockets']} for {r['total']} connections, {h['reused']} of "
                     f"them port reuses the host answered itself)",
                     h["cookie_sockets"] == r["total"] - h["reused"])
    # Every connection was either a cookie handshake of the firewall's or, where the client's
    # random source port collided with an earlier connection's, a reuse the host answered.
    valid = (D.worker_total(s2, "ack_valid") - D.worker_total(s1, "ack_valid")
             + D.xdp(s2, "xdp_ack_valid") - D.xdp(s1, "xdp_ack_valid")
             + D.xdp(s2, "fwd_syn_reuse") - D.xdp(s1, "fwd_syn_reuse"))
    checks.check(f"the handshakes were the firewall's (cookie ACKs validated, datapath "
                 f"{args.datapath})", valid >= 2 * args.firstdata, f"valid ACKs +{valid}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"first_data": first, "reuse": reuse}, f, indent=1)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
