"""Legitimate users during the flood: real Linux TCP connections at a fixed rate.

`python3 legit_client.py --dst 192.0.2.10 --port 8080 --rate 50 --seconds 10 --deadline 3`
opens one connection every 1/rate seconds through the kernel's own TCP stack (non-blocking, so
a slow handshake never delays the next attempt), and counts an attempt as a success only when
the protected host's application echoed a request back within `deadline` seconds of the
attempt's start: a cookie SYN-ACK that the client's kernel accepts is not enough, the host must
have accepted the connection too. Connect latency is the time connect() took (a dropped SYN
shows up as the kernel's 1 s retransmission). Prints one JSON object.
"""
import argparse
import errno
import json
import math
import selectors
import socket
import struct
import time

REQUEST = b"synwarden-bench\n"


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)  # nearest-rank percentile
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)


class Attempt:
    __slots__ = ("sock", "start", "connected_at", "received", "state")

    def __init__(self, sock, start):
        self.sock, self.start = sock, start
        self.connected_at, self.received, self.state = None, b"", "connecting"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=50.0, help="connection attempts per second")
    ap.add_argument("--seconds", type=float, required=True, help="how long to start attempts")
    ap.add_argument("--deadline", type=float, default=3.0, help="seconds one attempt may take")
    args = ap.parse_args()

    family = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    sel = selectors.DefaultSelector()
    live = set()
    results = {"attempts": 0, "connected": 0, "succeeded": 0, "errors": {}}
    connect_ms = []

    def finish(a, outcome):
        sel.unregister(a.sock)
        # RST on close: nothing lingers in TIME_WAIT to exhaust ports over a long run.
        a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        a.sock.close()
        live.discard(a)
        if outcome == "ok":
            results["succeeded"] += 1
        else:
            results["errors"][outcome] = results["errors"].get(outcome, 0) + 1

    start = time.monotonic()
    next_attempt = start
    end = start + args.seconds
    while True:
        now = time.monotonic()
        if now < end and now >= next_attempt:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            a = Attempt(sock, now)
            err = sock.connect_ex((args.dst, args.port))
            results["attempts"] += 1
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                results["errors"][errno.errorcode.get(err, str(err))] = \
                    results["errors"].get(errno.errorcode.get(err, str(err)), 0) + 1
            else:
                sel.register(sock, selectors.EVENT_WRITE, a)
                live.add(a)
            next_attempt += 1.0 / args.rate
        for a in [a for a in live if now - a.start > args.deadline]:
            finish(a, "timeout_" + a.state)
        if now >= end and not live:
            break
        wait = max(0.0, min(next_attempt - now if now < end else 0.05, 0.05))
        for key, _ in sel.select(timeout=wait):
            a = key.data
            if a.state == "connecting":
                err = a.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err != 0:
                    finish(a, errno.errorcode.get(err, str(err)))
                    continue
                a.connected_at = time.monotonic()
                connect_ms.append((a.connected_at - a.start) * 1000)
                results["connected"] += 1
                a.sock.send(REQUEST)
                a.state = "echo"
                sel.modify(a.sock, selectors.EVENT_READ, a)
            else:
                try:
                    data = a.sock.recv(256)
                except OSError as e:
                    finish(a, errno.errorcode.get(e.errno, str(e.errno)))
                    continue
                if not data:
                    finish(a, "closed_before_echo")
                    continue
                a.received += data
                if a.received == REQUEST:
                    finish(a, "ok")
    n = results["attempts"]
    results["success_pct"] = round(100.0 * results["succeeded"] / n, 2) if n else None
    results["connect_ms_p50"] = percentile(connect_ms, 50)
    results["connect_ms_p99"] = percentile(connect_ms, 99)
    results["connect_ms"] = [round(v, 2) for v in connect_ms]  # for pooling across runs
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
