"""Legitimate clients of the end-to-end test and the demo, run in the client namespace. Each
subcommand prints one JSON line {"kind", "ok", "total", "failures": [...]}; a connection counts
as ok only if it returned exactly the data the server (sw_servers.py) must send.

    curl    --dst ADDR --count N [--parallel P]   HTTP GETs with curl, one connection each
    banner  --dst ADDR --count N [--concurrency C] [--rate R]  server-speaks-first exchanges
    streams --dst ADDR --count N --seconds S       long-lived echo streams (a chunk every 100 ms)
                                                   for S seconds, or until SIGTERM if earlier
    reuse   --dst ADDR --count N --gap S           HTTP/1.0 GET twice from each of N fixed local
                                                   ports, S seconds apart (the host closes first,
                                                   so the second SYN meets its TIME_WAIT socket)
    firstdata --dst ADDR --count N [--concurrency C]  GET sent right after connect(): first-byte
                                                   latency and TCP_INFO retransmissions per connection

Connecting may take SYN retransmissions (1 s, 3 s, 7 s, 15 s, 31 s after the first): a flood the
firewall cannot answer in full makes it drop SYNs, and clients retry as Linux clients do (curl's
own default connect timeout is 300 s). Once connected, a reply must come within 10 s: a banner
client whose final ACK was lost would wait for a banner that never comes, and fails.
"""
import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sw_servers import BANNER, BANNER_PORT, DOUBLE_ECHO, ECHO_PORT, HTTP_PORT, http_body, pong

CONNECT_TIMEOUT = 60  # seconds: the first SYN and five retransmissions
REPLY_TIMEOUT = 10


def url_host(address):
    return f"[{address}]" if ":" in address else address


def run_curl(args):
    """One curl process for all transfers (config file), sequential or --parallel."""
    failures, ok = [], 0
    with tempfile.TemporaryDirectory(prefix="sw-curl-") as out:
        config = os.path.join(out, "urls.conf")
        with open(config, "w") as f:
            for n in range(args.first, args.first + args.count):
                f.write(f'url = "http://{url_host(args.dst)}:{HTTP_PORT}/obj/{n}"\n'
                        f'output = "{out}/{n}"\n')
        cmd = ["curl", "-sS", "--connect-timeout", str(CONNECT_TIMEOUT),
               "--max-time", str(CONNECT_TIMEOUT + REPLY_TIMEOUT), "-K", config,
               "-w", "%{url_effective} %{http_code} %{exitcode} %{num_connects}\\n"]
        if args.parallel > 1:
            cmd += ["--parallel", "--parallel-immediate", "--parallel-max", str(args.parallel)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        seen = set()
        for line in result.stdout.splitlines():
            url, code, exitcode, connects = line.split()
            n = int(url.rsplit("/", 1)[1])
            seen.add(n)
            try:
                with open(f"{out}/{n}", "rb") as body:
                    correct = body.read() == http_body(n)
            except OSError:
                correct = False
            if code == "200" and exitcode == "0" and connects == "1" and correct:
                ok += 1
            else:
                failures.append(f"/obj/{n}: http {code}, curl exit {exitcode}, "
                                f"connects {connects}, body {'ok' if correct else 'wrong'}")
        missing = args.count - len(seen)
        if missing:
            failures.append(f"{missing} transfer(s) without a result line; curl said: "
                            f"{result.stderr.strip()[-300:]}")
    return {"kind": "curl-parallel" if args.parallel > 1 else "curl-sequential", "ok": ok,
            "total": args.count, "failures": failures[:20]}


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(200)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def one_banner(dst, n):
    token = f"{os.getpid()}-{n}"
    with socket.socket(family_of(dst), socket.SOCK_STREAM) as s:
        try:
            s.settimeout(CONNECT_TIMEOUT)
            s.connect((dst, BANNER_PORT))
            s.settimeout(REPLY_TIMEOUT)
            banner = read_line(s)
            if banner != BANNER:
                return f"#{n}: banner {banner!r}"
            s.sendall(f"PING {token}\r\n".encode())
            answer = read_line(s)
            return None if answer == pong(token) else f"#{n}: answer {answer!r}"
        except OSError as e:
            return f"#{n}: {type(e).__name__}: {e}"


def run_banner(args):
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        if not args.rate:
            results = list(pool.map(lambda n: one_banner(args.dst, n), range(args.count)))
        else:  # paced: connection n starts n / rate seconds after the first
            start, futures = time.monotonic(), []
            for n in range(args.count):
                time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
                futures.append(pool.submit(one_banner, args.dst, n))
            results = [f.result() for f in futures]
    failures = [r for r in results if r]
    return {"kind": "banner", "ok": args.count - len(failures), "total": args.count,
            "failures": failures[:20]}


def one_stream(dst, n, seconds, out, stop, double=False):
    """Sends a numbered 512-byte chunk every 100 ms and checks each echo, for `seconds` or until
    `stop` is set (the chunk under way is still echoed and checked).
    `double`: the server echoes each chunk twice (sw_servers.DOUBLE_ECHO)."""
    try:
        with socket.socket(family_of(dst), socket.SOCK_STREAM) as s:
            s.settimeout(CONNECT_TIMEOUT)
            s.connect((dst, ECHO_PORT))
            s.settimeout(REPLY_TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if double:
                s.sendall(DOUBLE_ECHO)
            end = time.monotonic() + seconds
            i = 0
            last, stall = time.monotonic(), 0.0  # longest wait for an echo, s
            while time.monotonic() < end and not stop.is_set():
                chunk = (f"stream {n} chunk {i} ".encode() * 40)[:512]
                s.sendall(chunk)
                chunk = chunk * (2 if double else 1)
                echoed = b""
                while len(echoed) < len(chunk):
                    data = s.recv(len(chunk) - len(echoed))
                    if not data:
                        raise ConnectionError("closed by the peer")
                    echoed += data
                if echoed != chunk:
                    raise ValueError(f"chunk {i} echoed wrong")
                now = time.monotonic()
                stall, last = max(stall, now - last - 0.1 if i else 0.0), now
                i += 1
                stop.wait(0.1)
            out[n] = (True, i, "", stall)
    except (OSError, ValueError) as e:
        out[n] = (False, 0, f"stream {n}: {type(e).__name__}: {e}", 0.0)


def run_streams(args):
    """SIGTERM ends every stream after its current chunk (sw_e2e.end_streams): a test stops its
    streams once its scenario is over instead of waiting out a fixed duration."""
    out = {}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=one_stream,
                                args=(args.dst, n, args.seconds, out, stop, args.double))
               for n in range(args.count)]
    for t in threads:
        t.start()
        time.sleep(0.01)  # spread the handshakes a little
    print(json.dumps({"kind": "streams-started"}), flush=True)
    for t in threads:
        t.join()
    ok = [v for v in out.values() if v[0]]
    return {"kind": "streams", "ok": len(ok), "total": args.count,
            "min_chunks": min((v[1] for v in ok), default=0),
            # The longest a stream waited for an echo beyond its 100 ms pace (an outage).
            "max_stall_s": round(max((v[3] for v in ok), default=0.0), 3),
            "failures": [v[2] for v in out.values() if not v[0]][:20]}


def http_get(dst, n, local_port=0, timeout=REPLY_TIMEOUT):
    """One HTTP/1.0 GET of /obj/<n> sent right after connect(); returns (error or None,
    first-byte seconds, the client's tcpi_total_retrans)."""
    with socket.socket(family_of(dst), socket.SOCK_STREAM) as s:
        try:
            if local_port:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("::" if ":" in dst else "0.0.0.0", local_port))
            s.settimeout(timeout)
            start = time.monotonic()
            s.connect((dst, HTTP_PORT))
            s.sendall(f"GET /obj/{n} HTTP/1.0\r\n\r\n".encode())
            data = s.recv(65536)
            first = time.monotonic() - start
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            retrans = struct.unpack_from("I", raw, 100)[0]  # tcpi_total_retrans
            if retrans:
                retrans = (retrans, s.getsockname()[1])  # the port names it in a capture
            head, _, body = data.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.0 200") or body != http_body(n):
                return f"/obj/{n}: wrong answer {head[:40]!r}", first, retrans
            return None, first, retrans
        except OSError as e:
            return f"/obj/{n} from port {local_port}: {type(e).__name__}: {e}", None, None


def run_reuse(args):
    failures, ok = [], 0
    base = 41000 + (os.getpid() % 1000) * 16
    ports = [base + i for i in range(args.count)]
    for rnd in range(2):
        for i, port in enumerate(ports):
            # 10 s: what this checks is the host's TIME_WAIT rules, and under a flood a SYN lost
            # in a full receive ring is retransmitted after 1 s, then 3 s, then 7 s.
            err, _, _ = http_get(args.dst, rnd * 1000 + i, local_port=port, timeout=10)
            if err:
                failures.append(f"round {rnd + 1}: {err}")
            else:
                ok += 1
        if rnd == 0:
            time.sleep(args.gap)
    return {"kind": "reuse", "ok": ok, "total": 2 * args.count, "failures": failures[:20]}


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else None


def run_firstdata(args):
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        results = list(pool.map(lambda n: http_get(args.dst, n), range(args.count)))
    failures = [r[0] for r in results if r[0]]
    firsts = [r[1] * 1000 for r in results if not r[0]]
    retransmitted = [r[2][1] for r in results if not r[0] and r[2]]
    return {"kind": "firstdata", "ok": args.count - len(failures), "total": args.count,
            "retransmitted": len(retransmitted), "retransmitted_ports": retransmitted[:20],
            "first_byte_ms": {"p50": percentile(firsts, 50), "p99": percentile(firsts, 99),
                              "max": max(firsts, default=None)},
            "failures": failures[:20]}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    curl = sub.add_parser("curl")
    curl.add_argument("--parallel", type=int, default=1)
    curl.add_argument("--first", type=int, default=0, help="number of the first object")
    banner = sub.add_parser("banner")
    banner.add_argument("--concurrency", type=int, default=10)
    banner.add_argument("--rate", type=float, default=0,
                        help="connections started per second (0: as fast as the pool allows)")
    streams = sub.add_parser("streams")
    streams.add_argument("--seconds", type=float, required=True)
    streams.add_argument("--double", action="store_true",
                         help="the server echoes each chunk twice (ACK and seq drift apart)")
    reuse = sub.add_parser("reuse")
    reuse.add_argument("--gap", type=float, default=2.0)
    firstdata = sub.add_parser("firstdata")
    firstdata.add_argument("--concurrency", type=int, default=8)
    for p in (curl, banner, streams, reuse, firstdata):
        p.add_argument("--dst", required=True)
        p.add_argument("--count", type=int, required=True)
    args = ap.parse_args()
    run = {"curl": run_curl, "banner": run_banner, "streams": run_streams, "reuse": run_reuse,
           "firstdata": run_firstdata}[args.command]
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
