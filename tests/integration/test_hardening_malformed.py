#!/usr/bin/env python3
"""Specification: malformed traffic to a protected host is dropped and counted, never reaches the
host, and costs nothing but a counter.

The whole product runs (sw_e2e.Scenario: synwarden-agent in bpf mode on the host, the daemon
polling it). From the attacker namespace, frames built with scapy (and by hand where scapy would
repair them) go to the firewall's MAC, addressed to the protected host, one class at a time,
three copies each. For every class:
  - exactly those copies are counted under the expected reason: the XDP program's reason
    (bpf/synwarden_shared.h SW_REASON_LIST) where it decides, else the worker's counter
    (userspace/daemon/src/io/worker_counters.h), which in the "xdp" datapath (--datapath xdp)
    includes the XDP program's twin reason for the same decision (sw_hardening.XDP_TWINS);
  - nothing was forwarded (no fwd_* reason, no valid ACK, no forwarded_* worker counter), except
    for the one class the host's "ports" list forwards by design (a port it does not protect);
then, after all classes:
  - a tripwire on the host's e0 saw no frame carrying the malformed sources' addresses (checked
    below every layer of the host's own parsing);
  - the daemon is still running and legitimate IPv4 and IPv6 banner exchanges complete;
  - neither the daemon's nor the agent's log contains any of the agent's keys.
Classes that are valid TCP by the kernel's own rules (options it skips, a SYN with data, source
port 0) are answered with a cookie SYN-ACK exactly as the host's kernel would answer them; they
never reach the host either. One class is answered although the kernel would drop it: a SYN
with malformed IPv4 options (IP options are not parsed; see the case's comment).
"""
import socket
import struct
import sys
import time

from scapy.all import IP, IPOption_NOP, IPv6, Dot1Q, Ether, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, \
    IPv6ExtHdrHopByHop, Raw  # Debian's python3-scapy

import sw_hardening as H
from sw_harness import Checks
from sw_servers import HTTP_PORT
from sw_topology import IPV4, IPV6, MACS, Topology

COPIES = 3
COOKIE_REFUSED = ("ack_bad_cookie", "ack_cookie_expired")  # which one depends on the hash
MAL4, MAL6 = "203.0.113.66", "2001:db8:bad::66"       # sources the host must never see
BYDESIGN4 = "203.0.113.67"                            # the by-design forwarded class's source
PORT = HTTP_PORT

# Worker counters include their XDP-datapath twins (sw_hardening.XDP_TWINS).
FORWARDING = ("fwd_established", "fwd_pass_mode", "fwd_learned", "fwd_learn_failed",
              "fwd_synack", "fwd_non_tcp", "fwd_tcp_fragment", "fwd_syn_reuse", "fwd_outbound",
              "ack_valid", "forwarded_unprotected_port", "forwarded_pass_mode",
              "forwarded_fail_open")


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(src, dst, flags, sport=40000, dport=PORT, seq=0x11223344, ack=0, options=b"",
        payload=b"", doff=None, bad_checksum=False):
    """A TCP segment built byte by byte (scapy would fix the lengths this test breaks), with a
    correct checksum unless told otherwise."""
    doff = doff if doff is not None else 5 + len(options) // 4
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 64240, 0, 0)
    segment = head + options + payload
    if ":" in src:
        pseudo = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                  + struct.pack("!I3xB", len(segment), 6))
    else:
        pseudo = (socket.inet_pton(socket.AF_INET, src) + socket.inet_pton(socket.AF_INET, dst)
                  + struct.pack("!xBH", 6, len(segment)))
    csum = checksum(pseudo + segment) ^ (0x5A5A if bad_checksum else 0)
    return segment[:16] + struct.pack("!H", csum) + segment[18:]


S, A, F, R, P, U = 0x02, 0x10, 0x01, 0x04, 0x08, 0x20
SYN_OPTS = bytes.fromhex("020405b4") + bytes.fromhex("0402080a0000000100000000") + \
    bytes.fromhex("01030307")  # MSS 1460, SACK_PERM, TS, NOP, WS 7: a Linux client's SYN


def l2(vlan_tags=()):
    frame = Ether(dst=MACS["firewall"], src=MACS["attacker"])
    # 802.1Q tags only: the topology's veths insert 802.1ad (S-)tags from skb metadata in
    # hardware (tx-vlan-stag-hw-insert), so an outer 802.1ad tag would not reach XDP's data.
    for vid in vlan_tags:
        frame = frame / Dot1Q(vlan=vid)
    return frame


def v4(segment_or_layer, src=MAL4, **ip):
    return l2() / IP(src=src, dst=IPV4["host"], proto=6, **ip) / segment_or_layer


def v6(segment_or_layer, src=MAL6, **ip):
    return l2() / IPv6(src=src, dst=IPV6["host"], nh=6, **ip) / segment_or_layer


def seg4(flags, **kw):
    return Raw(tcp(MAL4, IPV4["host"], flags, **kw))


def seg6(flags, **kw):
    return Raw(tcp(MAL6, IPV6["host"], flags, **kw))


def ip_option_overrun():
    """A SYN whose IPv4 header carries a record-route option claiming 40 bytes in a 4-byte
    option area (IHL 6), with a correct header checksum."""
    frame = bytearray(bytes(v4(seg4(S, options=SYN_OPTS), options=[IPOption_NOP()] * 4)))
    frame[34:38] = bytes.fromhex("07280400")
    frame[24:26] = b"\0\0"
    frame[24:26] = struct.pack("!H", checksum(bytes(frame[14:38])))
    return bytes(frame)


def cases():
    """(name, frame bytes, expected counter(s), kind): kind False = sent by the attacker and
    dropped, True = forwarded by design, "port" = written into the firewall's switch port."""
    syn4 = bytes(v4(seg4(S, options=SYN_OPTS)))
    syn6 = bytes(v6(seg6(S, options=SYN_OPTS)))
    out = [
        # --- truncated at each layer ---
        ("IPv4 header cut before the addresses", syn4[:14 + 16], "pass_malformed"),
        ("IPv4 header cut after the addresses", syn4[:14 + 20], "drop_malformed"),
        ("IPv4: TCP header cut short", syn4[:14 + 20 + 12], "drop_malformed"),
        ("IPv4: TCP options cut short", syn4[:14 + 20 + 30], "drop_malformed"),
        ("IPv6 header cut before the addresses", syn6[:14 + 30], "pass_malformed"),
        ("IPv6: TCP header cut short", syn6[:14 + 40 + 10], "drop_malformed"),
        # --- inconsistent IP headers ---
        ("IPv4 IHL 3 (< 5)", bytes(v4(seg4(S), ihl=3)), "drop_malformed"),
        ("IPv4 IHL 15 beyond the total length", bytes(v4(seg4(S), ihl=15)), "drop_malformed"),
        ("IPv4 version 5 under EtherType IPv4", bytes(v4(seg4(S), version=5)), "drop_malformed"),
        ("IPv4 total length past the frame", bytes(v4(seg4(S), len=400)), "drop_malformed"),
        ("IPv4 total length shorter than the header", bytes(v4(seg4(S), len=16)),
         "drop_malformed"),
        # Neither the XDP program nor the worker parses IPv4 options, so this SYN is answered,
        # where the host's kernel would drop it (ip_rcv_options() -> __ip_options_compile()).
        # The answer creates no state and is no larger than the SYN; a change of this
        # behaviour should be a decision, hence the case.
        ("SYN with an IPv4 option whose length runs past the header (answered, not parsed)",
         ip_option_overrun(), "synack_built"),
        ("IPv6 payload length past the frame", bytes(v6(seg6(S), plen=400)), "drop_malformed"),
        ("IPv6 payload length 0 (jumbogram without hop-by-hop)", bytes(v6(seg6(S), plen=0)),
         "drop_malformed"),
        # --- bad TCP data offset and options ---
        ("TCP data offset 3 (< 5)", bytes(v4(seg4(S, doff=3))), "drop_malformed"),
        ("TCP data offset 15 past the segment", bytes(v4(seg4(S, doff=15))), "drop_malformed"),
        ("SYN option length running past the header",
         bytes(v4(seg4(S, options=bytes.fromhex("022805b4")))), "dropped_unparsable"),
        ("SYN option length 0", bytes(v4(seg4(S, options=bytes.fromhex("08000000")))),
         "dropped_unparsable"),
        ("SYN option length 1", bytes(v6(seg6(S, options=bytes.fromhex("03010000")))),
         "dropped_unparsable"),
        ("SYN option kind without its length byte",
         bytes(v4(seg4(S, options=bytes.fromhex("01010102")))), "dropped_unparsable"),
        ("ACK option length running past the header",
         bytes(v4(seg4(A, ack=0x55667788, options=bytes.fromhex("0802080a")))),
         "dropped_unparsable"),
        # --- fragments ---
        ("IPv4 first fragment (MF) of a SYN", bytes(v4(seg4(S), flags="MF")),
         "drop_tcp_fragment"),
        ("IPv4 non-first TCP fragment", bytes(v4(Raw(b"\0" * 24), frag=64)), "drop_tcp_fragment"),
        ("IPv6 fragment header, first fragment (M)",
         bytes(l2() / IPv6(src=MAL6, dst=IPV6["host"]) / IPv6ExtHdrFragment(nh=6, m=1)
               / seg6(S)), "drop_tcp_fragment"),
        ("IPv6 fragment header, non-first fragment",
         bytes(l2() / IPv6(src=MAL6, dst=IPV6["host"]) / IPv6ExtHdrFragment(nh=6, offset=8)
               / Raw(b"\0" * 24)), "drop_tcp_fragment"),
        # The XDP program walks extension headers; the worker's codec takes TCP right behind
        # the fixed header only, so an atomic fragment or a hop-by-hop header is refused there.
        ("IPv6 atomic fragment (offset 0, M clear) around a SYN",
         bytes(l2() / IPv6(src=MAL6, dst=IPV6["host"]) / IPv6ExtHdrFragment(nh=6) / seg6(S)),
         "dropped_unparsable"),
        ("IPv6 hop-by-hop header before a SYN",
         bytes(l2() / IPv6(src=MAL6, dst=IPV6["host"]) / IPv6ExtHdrHopByHop(nh=6) / seg6(S)),
         "dropped_unparsable"),
        ("IPv6 chain of 7 extension headers",
         bytes(l2() / IPv6(src=MAL6, dst=IPV6["host"])
               / IPv6ExtHdrDestOpt(nh=60) / IPv6ExtHdrDestOpt(nh=60) / IPv6ExtHdrDestOpt(nh=60)
               / IPv6ExtHdrDestOpt(nh=60) / IPv6ExtHdrDestOpt(nh=60) / IPv6ExtHdrDestOpt(nh=60)
               / IPv6ExtHdrDestOpt(nh=6) / seg6(S)), "drop_ipv6_ext_headers"),
        # --- checksums (the kernel drops a SYN with a bad checksum before answering it) ---
        ("SYN with a bad IPv4 header checksum", bytes(v4(seg4(S, options=SYN_OPTS),
                                                         chksum=0x1234)), "dropped_bad_checksum"),
        ("SYN with a bad TCP checksum (IPv4)",
         bytes(v4(seg4(S, options=SYN_OPTS, bad_checksum=True))), "dropped_bad_checksum"),
        ("SYN with a bad TCP checksum (IPv6)",
         bytes(v6(seg6(S, options=SYN_OPTS, bad_checksum=True))), "dropped_bad_checksum"),
        # --- impossible flags ---
        ("SYN+FIN", bytes(v4(seg4(S | F))), "drop_bad_flags"),
        ("SYN+RST", bytes(v6(seg6(S | R))), "drop_bad_flags"),
        ("SYN+ACK+FIN", bytes(v4(seg4(S | A | F, ack=1))), "drop_bad_flags"),
        ("no flags at all (null scan)", bytes(v4(seg4(0))), "drop_bad_flags"),
        ("FIN+PSH+URG (xmas) of no flow", bytes(v4(seg4(F | P | U))), "drop_unknown_rst_fin"),
        ("RST of no flow", bytes(v6(seg6(R | A, ack=7))), "drop_unknown_rst_fin"),
        # --- VLAN nesting ---
        ("three stacked VLAN tags (not IP to the fast path)",
         bytes(l2((100, 200, 300)) / IP(src=MAL4, dst=IPV4["host"], proto=6) / seg4(S)),
         "pass_non_ip"),
        # --- ACKs that are not cookies ---
        ("ACK with a wrong cookie (IPv4)", bytes(v4(seg4(A, ack=0x0BADC0DE))), COOKIE_REFUSED),
        ("ACK with a wrong cookie and data (IPv6)",
         bytes(v6(seg6(A | P, ack=0x0BADC0DE, payload=b"GET / HTTP/1.0\r\n\r\n"))),
         COOKIE_REFUSED),
        # The worker does not verify an ACK's checksum: the cookie check refuses it anyway,
        # and a frame it forwards keeps its checksum for the host's kernel to verify.
        ("ACK with a wrong cookie and a bad TCP checksum",
         bytes(v4(seg4(A, ack=0x0BADC0DE, bad_checksum=True))), COOKIE_REFUSED),
        ("ACK with 40 bytes of garbage options",
         bytes(v4(seg4(A, ack=0x0BADC0DE, options=bytes([0xFE, 40]) + bytes(range(38))))),
         COOKIE_REFUSED),
        # --- valid by the kernel's rules: answered as the kernel would, never forwarded ---
        ("SYN with 40 bytes of unknown options (skipped by length)",
         bytes(v4(seg4(S, options=bytes([0xFE, 40]) + bytes(range(38))))), "synack_built"),
        ("SYN with wrong-length MSS/WS options (ignored)",
         bytes(v4(seg4(S, options=bytes.fromhex("020305") + bytes.fromhex("0305070000") +
                       bytes.fromhex("00000000")))), "synack_built"),
        ("SYN with EOL then garbage", bytes(v6(seg6(S, options=bytes.fromhex("00ff13ff")))),
         "synack_built"),
        ("SYN carrying 200 bytes of data", bytes(v4(seg4(S, options=SYN_OPTS,
                                                          payload=b"x" * 200))), "synack_built"),
        ("SYN from source port 0", bytes(v4(seg4(S, sport=0, options=SYN_OPTS))),
         "synack_built"),
    ]
    out = [(name, frame, counter, False) for name, frame, counter in out]
    # A runt that ends inside its VLAN tag: the bridge (like any switch) drops it, so it is
    # written straight into the firewall's switch port, as a directly attached sender could.
    out.insert(0, ("frame ends inside a VLAN tag (runt, into the firewall's port)",
                   bytes(l2() / Dot1Q(vlan=100))[:16], "pass_malformed", "port"))
    # A port outside the host's "ports" list is not protected: forwarded to the host by design,
    # port 0 included (its kernel answers with RST). Checked so a change is a visible decision.
    out.append(("SYN to destination port 0 (not in the host's ports)",
                bytes(v4(Raw(tcp(BYDESIGN4, IPV4["host"], S, dport=0)), src=BYDESIGN4)),
                "forwarded_unprotected_port", True))
    return out


def counted(delta, counter):
    """The delta of one counter, or the sum of a tuple of counters."""
    names = (counter,) if isinstance(counter, str) else counter
    return sum(delta.get(n, 0) for n in names)


def main():
    ap = H.argument_parser()
    args = ap.parse_args()
    checks = Checks()
    print(f"== hardening: malformed traffic through the firewall, datapath {args.datapath} ==")
    results = []
    with Topology(args.bpf_dir, firewall_queues=2) as topo:
        scenario = H.HardeningScenario(topo, args.synwarden, args.agent, args.synflood,
                                       datapath=args.datapath)
        try:
            scenario.start()
            keys = H.agent_key_state(scenario.agent_pin_dir())
            tripwire = H.Tripwire(topo, [socket.inet_pton(socket.AF_INET, MAL4),
                                         socket.inet_pton(socket.AF_INET6, MAL6)])
            sender = H.FrameSender(topo)
            port_sender = H.FrameSender(topo, "switch", "pfi")
            for name, frame, counter, kind in cases():
                before = scenario.daemon.stats()
                (port_sender if kind == "port" else sender).send(frame, COPIES)
                deadline = time.monotonic() + 3.0
                while True:
                    time.sleep(0.15)
                    delta = H.counter_deltas(scenario.daemon.stats(), before)
                    if counted(delta, counter) >= COPIES or time.monotonic() > deadline:
                        break
                results.append((name, counter, kind is True, delta))
            sender.close()
            port_sender.close()
            time.sleep(0.5)
            hits, samples = tripwire.stop()
            alive = scenario.daemon.proc.poll() is None
            legit = [H.banner_probe(topo, IPV4["host"], 3.0), H.banner_probe(topo, IPV6["host"], 3.0)]
            scenario.stop()
        finally:
            daemon_log, agent_log = H.stop_and_collect_logs(scenario)

    for name, counter, by_design, delta in results:
        moved = {k: v for k, v in delta.items()
                 if v and k not in ("rx_packets", "rx_batches", "idle_polls", "fill_kicks",
                                    "tx_kicks", "completions", "tx_sent")}
        forwarded = {k: delta.get(k, 0) for k in FORWARDING if delta.get(k, 0)}
        if by_design:
            checks.check(f"{name}: forwarded to the host by design, counted as {counter}",
                         counted(delta, counter) == COPIES, str(moved))
            continue
        label = counter if isinstance(counter, str) else " or ".join(counter)
        checks.check(f"{name}: counted {COPIES}x as {label}, nothing forwarded",
                     counted(delta, counter) == COPIES and not forwarded, str(moved))
    checks.check("no malformed frame reached the host's NIC (tripwire on its e0)", hits == 0,
                 f"{hits} frames: {samples}")
    checks.check("the daemon survived every class", alive)
    checks.check("legitimate IPv4 and IPv6 banner exchanges complete afterwards",
                 all(r["ok"] for r in legit), str(legit))
    leaks = H.leaked({"daemon log": daemon_log, "agent log": agent_log}, keys)
    checks.check(f"no secret material in the logs ({len(keys)} agent keys searched)",
                 keys and not leaks, str(leaks[:5]))
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
