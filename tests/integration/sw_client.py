"""A real Linux TCP client, run inside the client namespace.

`python3 sw_client.py --dst ADDR --port P --segments N`: connect() through the kernel's own
TCP stack (so the handshake is judged by a real kernel), read TCP_INFO (what the kernel made of
the SYN-ACK's options), send N small data segments one by one, and print a JSON summary.
"""
import argparse
import json
import socket
import struct
import sys
import time

TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE = 1, 2, 4


def tcp_info(sock):
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    state, _ca, _retr, _probes, _backoff, options, wscale, _flags = struct.unpack_from("8B", raw, 0)
    _rto, _ato, snd_mss, rcv_mss = struct.unpack_from("4I", raw, 8)
    return {
        "state": state,  # 1 = TCP_ESTABLISHED
        "timestamps": bool(options & TCPI_OPT_TIMESTAMPS),
        "sack": bool(options & TCPI_OPT_SACK),
        "wscale": bool(options & TCPI_OPT_WSCALE),
        "snd_wscale": wscale & 0x0F,  # the scale the peer (our SYN-ACK) announced
        "rcv_wscale": wscale >> 4,
        "snd_mss": snd_mss,
        "rcv_mss": rcv_mss,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--segments", type=int, default=3)
    ap.add_argument("--gap", type=float, default=0.1)
    ap.add_argument("--hold", type=float, default=0.5)
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args()
    family = socket.AF_INET6 if ":" in args.dst else socket.AF_INET
    out = {"connected": False}
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(args.timeout)
    try:
        start = time.monotonic()
        sock.connect((args.dst, args.port))
        out["connect_seconds"] = round(time.monotonic() - start, 4)
        out["connected"] = True
        out["local_port"] = sock.getsockname()[1]
        out["tcp_info"] = tcp_info(sock)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = 0
        for i in range(args.segments):
            time.sleep(args.gap)
            sent += sock.send(f"synwarden-data-{i}\n".encode())
        out["bytes_sent"] = sent
        time.sleep(args.hold)
    except OSError as e:
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        # RST instead of FIN: with static random secrets the host never accepted the connection,
        # and a FIN would only be retransmitted into the void.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
