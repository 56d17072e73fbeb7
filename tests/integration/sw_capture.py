"""Packet capture inside a namespace, with the standard library only (AF_PACKET).

Run as `ip netns exec NS python3 sw_capture.py --iface e0 --out FILE`: prints "ready" once the
socket is bound, records TCP frames (in and out) until SIGTERM/SIGINT, then writes them as JSON.
Frames are summarised (MACs, VLAN, addresses, ports, flags, seq/ack, payload length); at most
--max records are kept, every frame is counted. The test reads the file with load().
"""
import argparse
import ipaddress
import json
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}


def mac(b):
    return ":".join(f"{x:02x}" for x in b)


def parse(frame, meta_vlan=None):
    """Summary dict of a TCP frame, or None for anything else. `meta_vlan`: a tag the kernel
    had already moved from the frame into metadata (PACKET_AUXDATA), as it does on receive."""
    if len(frame) < 14:
        return None
    rec = {"dst_mac": mac(frame[0:6]), "src_mac": mac(frame[6:12]), "vlan": meta_vlan}
    etype = struct.unpack_from("!H", frame, 12)[0]
    off = 14
    while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
        tci, etype = struct.unpack_from("!HH", frame, off)
        rec["vlan"] = rec["vlan"] if rec["vlan"] is not None else tci & 0x0FFF
        off += 4
    if etype == 0x0800 and len(frame) >= off + 20:
        ihl = (frame[off] & 0x0F) * 4
        total = struct.unpack_from("!H", frame, off + 2)[0]
        if frame[off + 9] != 6:
            return None
        rec["src"] = str(ipaddress.IPv4Address(frame[off + 12:off + 16]))
        rec["dst"] = str(ipaddress.IPv4Address(frame[off + 16:off + 20]))
        l4, end = off + ihl, off + total
    elif etype == 0x86DD and len(frame) >= off + 40:
        if frame[off + 6] != 6:
            return None
        plen = struct.unpack_from("!H", frame, off + 4)[0]
        rec["src"] = str(ipaddress.IPv6Address(frame[off + 8:off + 24]))
        rec["dst"] = str(ipaddress.IPv6Address(frame[off + 24:off + 40]))
        l4, end = off + 40, off + 40 + plen
    else:
        return None
    if len(frame) < l4 + 20:
        return None
    sport, dport, seq, ack, doff_byte, flags, window = struct.unpack_from("!HHIIBBH", frame, l4)
    hlen = (doff_byte >> 4) * 4
    rec.update(sport=sport, dport=dport, seq=seq, ack=ack, window=window,
               flags="".join(k for k, v in FLAGS.items() if flags & v),
               payload_len=max(0, min(end, len(frame)) - l4 - hlen),
               options=frame[l4 + 20:l4 + hlen].hex())
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max", type=int, default=20000)
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    sock.bind((args.iface, 0))
    sock.setblocking(False)
    print("ready", flush=True)
    records, seen = [], 0
    while not stop:
        try:
            ready, _, _ = select.select([sock], [], [], 0.1)
        except InterruptedError:
            continue
        if not ready:
            continue
        while True:
            try:
                frame, ancdata, _flags, addr = sock.recvmsg(65535, 64)
            except BlockingIOError:
                break
            meta_vlan = None
            for level, kind, data in ancdata:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= 20:
                    status, = struct.unpack_from("I", data, 0)
                    tci, = struct.unpack_from("H", data, 16)
                    if status & TP_STATUS_VLAN_VALID:
                        meta_vlan = tci & 0x0FFF
            rec = parse(frame, meta_vlan)
            if rec is None:
                continue
            seen += 1
            rec["direction"] = "out" if addr[2] == PACKET_OUTGOING else "in"
            rec["time"] = time.monotonic()  # same CLOCK_MONOTONIC as the test process
            if len(records) < args.max:
                records.append(rec)
    with open(args.out, "w") as f:
        json.dump({"tcp_frames_seen": seen, "records": records}, f)
    return 0


def load(path):
    with open(path) as f:
        return json.load(f)


if __name__ == "__main__":
    sys.exit(main())
