"""Long-lived TCP connections that stream data through the firewall, to prove that control-plane
actions (protect on/off, reloads, API changes, kill -9 and restart) never break one.

  server:  python3 sw_stream.py server --bind ADDR --port P
           echo server (prints "ready" once listening); runs until killed.
  client:  python3 sw_stream.py client --dst ADDR --port P --connections N [--interval S]
           opens N connections (prints "ready N" once all are established), then every
           --interval sends one numbered message on each and reads the echoes, until SIGTERM or
           SIGINT; then drains outstanding echoes and prints a JSON summary:
             connected, broken (list of {conn, error}), max_gap_s (longest time any connection
             went without an echo while the test ran), echoed_ok (all bytes came back in order),
             retransmits (TCP_INFO total retransmissions, summed), per-connection bytes.
           SIGUSR1 prints a progress line {"retransmits", "max_gap_s", "broken"} at once, so a
           test can tell which of its steps cost a retransmission.
Client -> host segments cross the firewall (the client's neighbour entry for the host is the
firewall's MAC); host -> client replies go directly, so the echo proves the firewall forwarded
every client segment.
"""
import argparse
import json
import selectors
import signal
import socket
import struct
import sys
import time

MESSAGE = 32  # bytes per message: "conn NNNN seq NNNNNNNNNN" padded


def server(args):
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.bind, args.port))
    listener.listen(1024)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            conn.setblocking(True)
            conn.sendall(data)
            conn.setblocking(False)


def tcp_retransmits(sock):
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    # struct tcp_info: 8 u8, then u32 rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans,
    # fackets, last_data_sent, last_ack_sent, last_data_recv, last_ack_recv, pmtu, rcv_ssthresh,
    # rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering, rcv_rtt, rcv_space, total_retrans
    return struct.unpack_from("I", raw, 8 + 4 * 23)[0]


def client(args):
    stop = {"now": False, "probe": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGUSR1, lambda *_: stop.update(probe=True))
    family = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    conns = []
    for i in range(args.connections):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(5.0)
        s.connect((args.dst, args.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        conns.append({"sock": s, "sent": 0, "echoed": 0, "buffer": b"", "ok": True,
                      "error": None, "last": None, "max_gap": 0.0, "in_order": True})
    print(f"ready {len(conns)}", flush=True)
    sel = selectors.DefaultSelector()
    for i, c in enumerate(conns):
        sel.register(c["sock"], selectors.EVENT_READ, i)
    start = time.monotonic()
    for c in conns:
        c["last"] = start
    seq = 0
    next_send = start

    def receive(timeout):
        for key, _ in sel.select(timeout):
            c = conns[key.data]
            try:
                data = c["sock"].recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                data, c["error"] = b"", f"{type(e).__name__}: {e}"
            if not data:
                c["ok"] = False
                c["error"] = c["error"] or "connection closed by the peer"
                sel.unregister(c["sock"])
                continue
            now = time.monotonic()
            c["max_gap"] = max(c["max_gap"], now - c["last"])
            c["last"] = now
            c["buffer"] += data
            while len(c["buffer"]) >= MESSAGE:
                message, c["buffer"] = c["buffer"][:MESSAGE], c["buffer"][MESSAGE:]
                expected = f"conn {key.data:04d} seq {c['echoed'] // MESSAGE:010d}".ljust(MESSAGE)
                c["in_order"] &= message == expected.encode()
                c["echoed"] += MESSAGE

    while not stop["now"]:
        if stop["probe"]:
            stop["probe"] = False
            print(json.dumps({"retransmits": sum(tcp_retransmits(c["sock"]) for c in conns),
                              "max_gap_s": round(max(c["max_gap"] for c in conns), 3),
                              "broken": sum(1 for c in conns if not c["ok"])}), flush=True)
        now = time.monotonic()
        if now >= next_send:
            for i, c in enumerate(conns):
                if not c["ok"]:
                    continue
                message = f"conn {i:04d} seq {c['sent'] // MESSAGE:010d}".ljust(MESSAGE).encode()
                try:
                    c["sock"].send(message)  # 32 bytes: fits the send buffer, never partial
                    c["sent"] += MESSAGE
                except OSError as e:
                    c["ok"], c["error"] = False, f"{type(e).__name__}: {e}"
            seq += 1
            next_send += args.interval
        receive(max(0.0, min(next_send - time.monotonic(), args.interval)))
    # Drain: every message sent must come back.
    deadline = time.monotonic() + args.drain
    while time.monotonic() < deadline and any(c["ok"] and c["echoed"] < c["sent"] for c in conns):
        receive(0.05)
    elapsed = time.monotonic() - start
    summary = {
        "connections": len(conns),
        "seconds": round(elapsed, 2),
        "rounds": seq,
        "broken": [{"conn": i, "error": c["error"]} for i, c in enumerate(conns) if not c["ok"]],
        "max_gap_s": round(max(c["max_gap"] for c in conns), 3),
        "echoed_ok": all(c["ok"] and c["echoed"] == c["sent"] and c["in_order"] for c in conns),
        "bytes_sent": sum(c["sent"] for c in conns),
        "bytes_echoed": sum(c["echoed"] for c in conns),
        "min_bytes_per_connection": min(c["echoed"] for c in conns),
        "retransmits": sum(tcp_retransmits(c["sock"]) for c in conns),
    }
    for c in conns:
        c["sock"].close()
    print(json.dumps(summary), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--bind", required=True)
    s.add_argument("--port", type=int, required=True)
    c = sub.add_parser("client")
    c.add_argument("--dst", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--connections", type=int, default=50)
    c.add_argument("--interval", type=float, default=0.1)
    c.add_argument("--drain", type=float, default=3.0)
    args = ap.parse_args()
    return server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    sys.exit(main())
