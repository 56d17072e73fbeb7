#!/usr/bin/env python3
"""Specification: two firewall boxes behind a router's BGP ECMP route lose no connection when
one of them fails.

Topology and routing: sw_ecmp.py (FRR on the router and both boxes; each box announces the
host's /32 through tools/route-watch while `synwardenctl health` passes). Whole product: the
host's agent in bpf mode, polled by both daemons (same key), datapath xdp by default.
  1. both boxes become healthy, the watchers announce, and the router installs one route with
     both boxes as next hops;
  2. ECMP change mid-handshake: a SYN routed to box A is answered by A, the client's final ACK is
     held back and the route of that flow moved to box B, so the client's first data segment
     (which carries the cookie ACK) reaches B: B validates the cookie, the host accepts it and the
     client gets its HTTP answer;
  3. 200 long-lived echo streams (timestamps on, doubled echoes so their later segments are no
     cookies) run through both boxes during a spoofed SYN flood; box A's daemon stops (its XDP
     program leaves with it), A's watcher sees `health` fail and withdraws A's route:
     - no stream breaks (0 broken timestamp streams),
     - box B learns A's flows from their timestamps (flow_recovered_timestamp /
       xdp_ack_recovered >= the streams A carried) and then holds all 200 flows,
     - >= 99.9 % of 1000 new connections after the failover succeed, during the flood,
     - nothing of the flood reaches the host's stack;
  4. box A comes back as after a reboot (its daemon starts with the pins its stop removed): its
     watcher announces it again after three good checks, the router restores both next hops,
     and A learns the streams that hash back to it from their timestamps; they all still run.
Wall time and the failover's timings are printed.
"""
import json
import os
import subprocess
import sys
import time

import sw_daemon as D
import sw_hardening as H
from sw_e2e import AGENT_PORT, PORTS, Scenario, wait_for
from sw_ecmp import (BOX, ROUTER_MAC, EcmpTopology, Frr, box_bgpd, router_bgpd,
                     start_route_watch)
from sw_harness import PYTHON, Checks
from sw_servers import ECHO_PORT, HTTP_PORT, http_body
from sw_topology import IPV4, MACS

HOST = IPV4["host"]
STREAMS = 200
STREAM_SECONDS = 45
FLOOD_RATE = 4000  # SYN/s through the router's forwarding, shared by both boxes
MID_PORT = 40001   # the client's source port of the mid-handshake connection

# The mid-handshake client: connect (SYN-ACK from box A; the final ACK is dropped by the
# client's nft rule), say so, wait for the test to move the route, send the GET, print the answer.
MID_CLIENT = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d))
s.settimeout(10)
s.connect((sys.argv[1], int(sys.argv[2])))
print("connected", flush=True)
sys.stdin.readline()
s.sendall(b"GET /obj/7 HTTP/1.0\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.hex() + "\n")
""" % MID_PORT


class EcmpScenario(Scenario):
    """Scenario's agent, services and clients; two daemons instead of one."""

    def __init__(self, topo, args):
        super().__init__(topo, args.synwarden, args.agent, args.synflood, datapath=args.datapath)
        self.daemons = {}

    def _start_daemon(self):
        for role, name in (("firewall", "a"), ("firewall_b", "b")):
            config = {
                "interface": "e0",
                "bpffs_pin_dir": os.path.join(self.topo.bpffs, f"synwarden-{name}"),
                "keep_dataplane_on_exit": False,
                "api": {"persist_changes": False},
                "datapath": self.datapath,
                "protected_hosts": [{
                    "address": HOST, "mac": MACS["host"], "ports": PORTS,
                    "agent": {"address": f"{HOST}:{AGENT_PORT}", "key_file": self.firewall_key,
                              "poll_interval_ms": 1000, "fail": "closed"}}],
            }
            self.daemons[role] = D.Daemon(self.topo, self.synwarden, config,
                                          name=f"synwarden-{name}", role=role)
            self.daemons[role].start(timeout=20)
        self.daemon = self.daemons["firewall"]


def cookie_acks(report):
    return D.worker_total(report, "ack_valid") + D.xdp(report, "xdp_ack_valid") + D.xdp(
        report, "xdp_ack_valid_previous")


def synacks(report):
    return D.worker_total(report, "synack_built") + D.xdp(report, "xdp_synack")


def recovered(report):
    return D.worker_total(report, "flow_recovered_timestamp") + D.xdp(report, "xdp_ack_recovered")


def stream_flows(pin_dir):
    return sum(1 for f in D.established_flows(pin_dir) if f["dport"] == ECHO_PORT)


def mid_handshake(topo, scenario):
    """Step 2; returns a dict of what happened."""
    a, b = scenario.daemons["firewall"], scenario.daemons["firewall_b"]
    topo.ip("router", "route", "add", HOST, "via", BOX["firewall"], "table", "101")
    topo.ip("router", "rule", "add", "pref", "100", "ipproto", "tcp", "sport", str(MID_PORT),
            "lookup", "101")
    rules = ("add table inet swmid\n"
             "add chain inet swmid out { type filter hook output priority 0; }\n"
             f"add rule inet swmid out tcp sport {MID_PORT} tcp flags == ack ip length <= 64 "
             "counter drop\n")
    subprocess.run(topo.cmd("client", "nft", "-f", "-"), input=rules, text=True, check=True)
    a0, b0 = a.stats(), b.stats()
    client = topo.popen("client", PYTHON, "-c", MID_CLIENT, HOST, str(HTTP_PORT),
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    connected = client.stdout.readline().strip() == "connected"
    a1, b1 = a.stats(), b.stats()
    # The flow moves to box B before the client's first data segment (its cookie ACK) leaves.
    topo.ip("router", "route", "replace", HOST, "via", BOX["firewall_b"], "table", "101")
    client.stdin.write("go\n")
    client.stdin.flush()
    try:
        answer = bytes.fromhex(client.communicate(timeout=15)[0].strip() or "")
    except subprocess.TimeoutExpired:
        client.kill()
        answer = b""
    b2 = b.stats()
    held = json.loads(topo.sh("client", "nft", "-j", "list", "chain", "inet", "swmid",
                              "out").stdout)
    dropped = sum(e["counter"]["packets"] for item in held["nftables"] if "rule" in item
                  for e in item["rule"]["expr"] if "counter" in e)
    topo.ip("router", "rule", "del", "pref", "100")
    topo.sh("client", "nft", "delete", "table", "inet", "swmid")
    head, _, body = answer.partition(b"\r\n\r\n")
    return {"connected": connected, "answer_ok": head.startswith(b"HTTP/1.0 200")
            and body == http_body(7), "a_synacks": synacks(a1) - synacks(a0),
            "b_synacks": synacks(b1) - synacks(b0),
            "b_cookie_acks": cookie_acks(b2) - cookie_acks(b1),
            "a_cookie_acks": cookie_acks(a1) - cookie_acks(a0), "acks_held": dropped}


def main():
    ap = H.argument_parser()
    ap.set_defaults(datapath="xdp")
    args = ap.parse_args()
    if not args.synwardenctl:
        ap.error("--synwardenctl is required")
    checks = Checks()
    t_start = time.monotonic()
    print(f"== two boxes behind BGP ECMP (FRR), box A fails: datapath {args.datapath} ==")
    with EcmpTopology(args.bpf_dir) as topo:
        scenario = EcmpScenario(topo, args)
        pins = {r: os.path.join(topo.bpffs, f"synwarden-{n}") for r, n in
                (("firewall", "a"), ("firewall_b", "b"))}
        watch = {}
        try:
            scenario.start()
            frr = {"router": Frr(topo, "router", router_bgpd())}
            for role in BOX:
                frr[role] = Frr(topo, role, box_bgpd(role))
                watch[role] = start_route_watch(topo, role, frr[role], args.synwardenctl,
                                                f"{HOST}/32")
            wait_for(lambda: topo.router_next_hops() == set(BOX.values()), 30,
                     "the router's ECMP route over both boxes")
            t_routed = time.monotonic() - t_start
            route = topo.ip("router", "route", "show", HOST).stdout
            print(f"router's route after {t_routed:.1f} s:\n{route}")

            mid = mid_handshake(topo, scenario)
            print(f"mid-handshake: {json.dumps(mid)}")

            a, b = scenario.daemons["firewall"], scenario.daemons["firewall_b"]
            nft0 = scenario.host_nft()
            streams = scenario.start_streams(HOST, STREAMS, STREAM_SECONDS, double=True)
            flood = topo.popen("client", args.synflood, "--interface", "e0", "--dst-mac",
                               ROUTER_MAC["cli"], "--dst", HOST, "--dst-port", str(HTTP_PORT),
                               "--src-prefix", "198.51.100.0/24", "--rate", str(FLOOD_RATE),
                               "--duration", str(STREAM_SECONDS), stdout=subprocess.PIPE,
                               text=True)
            time.sleep(6)
            on_a, on_b = stream_flows(pins["firewall"]), stream_flows(pins["firewall_b"])
            a_before = a.stats()
            b_before = b.stats()
            print(f"stream flows before the failure: box A {on_a}, box B {on_b}")

            # Box A fails: its daemon stops and takes its XDP program along.
            t_fail = time.monotonic()
            a.stop()
            wait_for(lambda: topo.router_next_hops() == {BOX["firewall_b"]}, 15,
                     "the router to drop box A's next hop")
            withdrawn_s = time.monotonic() - t_fail
            route_after = topo.ip("router", "route", "show", HOST).stdout
            print(f"box A withdrawn {withdrawn_s:.2f} s after its daemon stopped; route:\n"
                  f"{route_after}")
            time.sleep(2)
            fresh = scenario.clients("curl", HOST, 1000, parallel=10)
            b_mid = b.stats()
            b_flows = stream_flows(pins["firewall_b"])

            # 4. Box A comes back with an empty established map (a reboot).
            pins_gone = not os.path.exists(os.path.join(pins["firewall"], "sw_flows"))
            t_back = time.monotonic()
            a.start(timeout=20)
            wait_for(lambda: topo.router_next_hops() == set(BOX.values()), 15,
                     "the router to take box A back")
            returned_s = time.monotonic() - t_back
            growth = []
            for _ in range(6):
                time.sleep(0.5)
                growth.append(stream_flows(pins["firewall"]))
            a_back = a.stats()
            back_on_a = stream_flows(pins["firewall"])
            print(f"box A back in the route {returned_s:.2f} s after its daemon started; "
                  f"stream flows on A every 0.5 s: {growth}; route:\n"
                  + topo.ip("router", "route", "show", HOST).stdout)
            stream_result = json.loads(streams.communicate(timeout=STREAM_SECONDS + 60)[0]
                                       .splitlines()[-1])
            flood.terminate()
            flood.communicate(timeout=30)
            nft1 = scenario.host_nft()
            watch_a = open(os.path.join(topo.workdir, "route-watch-firewall.log")).read()
            scenario.daemons["firewall_b"].stop()
            scenario.daemon = None
            scenario.stop()
        finally:
            for d in scenario.daemons.values():
                d.kill()
            for role in BOX:
                path = os.path.join(topo.workdir, f"route-watch-{role}.log")
                if os.path.exists(path):
                    print(f"route-watch {role}:\n" + open(path).read()[-600:])
            for role, d in scenario.daemons.items():
                print(f"daemon {role} log (tail):\n" + d.log()[-800:])
    wall = time.monotonic() - t_start

    rec = recovered(b_mid) - recovered(b_before)
    rec_a = recovered(a_back)
    flood_b = synacks(b_mid) - synacks(b_before)
    by_worker = (D.worker_total(b_mid, "flow_recovered_timestamp")
                 - D.worker_total(b_before, "flow_recovered_timestamp"))
    by_xdp = D.xdp(b_mid, "xdp_ack_recovered") - D.xdp(b_before, "xdp_ack_recovered")
    print(f"box B recovered {rec} flows from timestamps (flow_recovered_timestamp {by_worker}, "
          f"xdp_ack_recovered {by_xdp}); B holds {b_flows} stream flows after the failover")
    print(f"new connections after the failover: {fresh['ok']}/{fresh['total']}; box B's "
          f"SYN-ACKs meanwhile {flood_b}; box A back: recovered {rec_a}, holds {back_on_a} "
          f"stream flows")
    print(f"wall time {wall:.1f} s")

    checks.check("the watchers announced both boxes and the router installed one ECMP route "
                  "with both as next hops", t_routed < 60, route)
    checks.check("mid-handshake: box A answered the SYN (and B did not), the final ACK was held "
                  "back, box B validated the cookie in the client's data segment, and the "
                  "client got its HTTP answer",
                  mid["connected"] and mid["a_synacks"] >= 1 and mid["b_synacks"] == 0
                  and mid["acks_held"] >= 1 and mid["b_cookie_acks"] >= 1 and mid["answer_ok"],
                  json.dumps(mid))
    checks.check(f"ECMP spread the streams over both boxes (A {on_a}, B {on_b})",
                 on_a > 0 and on_b > 0 and on_a + on_b == STREAMS)
    checks.check("box A's watcher withdrew its route once health failed",
                 "withdrawn" in watch_a and withdrawn_s < 5, watch_a[-400:])
    checks.check(f"0 broken timestamp streams: all {STREAMS} survived box A's failure and return",
                 stream_result["ok"] == STREAMS and stream_result["min_chunks"] >= 200,
                 json.dumps(stream_result))
    checks.check(f"box B recovered A's flows from their timestamps ({rec} >= {on_a}) and holds "
                 f"all {STREAMS} stream flows", rec >= on_a and b_flows >= STREAMS,
                 f"recovered {rec}, B flows {b_flows}")
    checks.check(">= 99.9 % of new connections after the failover succeeded, during the flood "
                 "(which box B kept answering)",
                 fresh["ok"] >= 0.999 * fresh["total"] and flood_b >= FLOOD_RATE,
                 json.dumps(fresh["failures"][:3]) + f"; B SYN-ACKs {flood_b}")
    checks.check("box A back after a reboot (pins removed): re-announced, and it learnt the "
                 "streams that hash to it again from their timestamps",
                 pins_gone and returned_s < 10 and back_on_a > 0 and rec_a >= back_on_a,
                 f"pins removed {pins_gone}, back after {returned_s:.1f} s, recovered {rec_a}, "
                 f"holds {back_on_a}")
    checks.check("nothing of the flood reached the host's stack",
                 nft1["attack"] - nft0["attack"] == 0, json.dumps([nft0, nft1]))
    checks.check("wall time within 120 s", wall <= 120, f"{wall:.1f} s")
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
