#!/usr/bin/env python3
"""Specification: the daemon says what is wrong with a veth lab instead of failing silently.

 1. At start-up on a veth whose peer it cannot see (the peer is in the switch namespace), it
    warns that the peer needs an XDP program for XDP_TX to reach it, and names the doc.
 2. When the client's veth keeps TX checksum offload on, every SYN arrives with a partial
    checksum and is dropped (dropped_bad_checksum); within one check interval the daemon logs
    how many SYNs failed and that `ethtool -K IFACE tx off` on the sender is the fix. Once the
    offload is off again, connections work.
"""
import argparse
import os
import sys
import time

import sw_daemon as D
from sw_harness import PORT, Checks, host_rst_guard, run_client, start_listener
from sw_topology import IPV4, Topology

HERE = os.path.dirname(os.path.abspath(__file__))

# Opens `n` connections at once and gives up after `seconds`: each SYN is retransmitted by the
# kernel (1 s, 3 s), so the firewall sees about 3 n SYNs within the daemon's 5 s check interval.
SYN_BURST = """
import socket, sys, time
dst, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex((dst, port))
    socks.append(s)
time.sleep(seconds)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synwarden", required=True)
    ap.add_argument("--synflood", required=True)
    ap.add_argument("--bpf-dir", required=True)
    args = ap.parse_args()
    checks = Checks()
    print("== synwarden: veth lab warnings ==")
    with Topology(args.bpf_dir) as topo:
        secrets = os.path.join(topo.workdir, "secrets.json")
        D.write_secrets(secrets)
        start_listener(topo, IPV4["host"])
        # The host's kernel holds other secrets than the static file, so it resets every ACK
        # the firewall forwards; a reset that beats the client's wake-up would turn its connect()
        # into ECONNRESET. Dropping the host's RSTs keeps the check about the firewall.
        host_rst_guard(topo)
        daemon = D.Daemon(topo, args.synwarden, D.base_config(topo, secrets, PORT))
        daemon.start()
        try:
            start_log = daemon.log()
            checks.check("start-up warns that the veth peer (in another namespace) needs an XDP "
                         "program, and names the doc",
                         "is a veth whose peer is in another network namespace" in start_log
                         and "docs/try-on-veth.md" in start_log, start_log[-800:])
            before = daemon.stats()
            # The switch between them would finish the checksums (a bridge port without TX
            # checksum offload completes them in software): offload on along the whole path,
            # as on a direct veth pair.
            topo.sh("client", "ethtool", "-K", "e0", "tx", "on")
            topo.sh("switch", "ethtool", "-K", "pfi", "tx", "on")
            topo.sh("client", "/usr/bin/python3", "-c", SYN_BURST, IPV4["host"], str(PORT),
                    "150", "7", timeout=30)
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and "wrong checksum" not in daemon.log():
                time.sleep(0.2)
            after = daemon.stats()
            bad = D.worker_total(after, "dropped_bad_checksum") - \
                D.worker_total(before, "dropped_bad_checksum")
            log = daemon.log()
            warning = next((l for l in log.splitlines() if "wrong checksum" in l), "")
            print(f"dropped_bad_checksum +{bad}; warning: {warning}")
            checks.check("with TX checksum offload on at the client, SYNs are dropped as "
                         "dropped_bad_checksum", bad >= 100, f"+{bad}")
            checks.check("the daemon logs a warning naming the count and the ethtool fix",
                         "synwarden warning:" in warning and "SYNs in the last" in warning
                         and "ethtool -K IFACE tx off" in warning, warning or log[-800:])
            topo.sh("client", "ethtool", "-K", "e0", "tx", "off")
            topo.sh("switch", "ethtool", "-K", "pfi", "tx", "off")
            time.sleep(1)
            before = daemon.stats()
            result = run_client(topo, IPV4["host"], segments=1)
            after = daemon.stats()
            valid = D.worker_total(after, "ack_valid") - D.worker_total(before, "ack_valid")
            print(f"client: {result}; ack_valid +{valid}")
            checks.check("with the offload off again, a connection completes (the client's "
                         "kernel took the SYN-ACK and the firewall validated its ACK)",
                         result.get("connected") is True and valid >= 1,
                         f"{result}; ack_valid +{valid}")
            daemon.stop()
        finally:
            daemon.kill()
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
