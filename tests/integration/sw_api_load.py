#!/usr/bin/env python3
"""Hostile clients for the daemon's local API; runs where the API is (the firewall namespace).

  sw_api_load.py raw  --api 127.0.0.1:9477 --hex HEX [--timeout S]
      sends the bytes, prints {"status": N, "seconds": S, "body": "..."} (status 0: no answer)
  sw_api_load.py load --api 127.0.0.1:9477 --host IP [--slow 50] [--burst 200] [--samples 20]
      measures GET /status and POST /hosts/IP/protect latency with no load, then while SLOW
      clients trickle one byte per second (reconnecting whenever the server closes them) and a
      burst of BURST concurrent GET /stats is fired before every sample; prints one JSON object
      (latencies in ms: n, answered, p50, p99, max; the bursts' /stats; how many slow clients the
      server closed and the oldest age at which it did).
Standard library only (Debian's python3).
"""
import argparse
import http.client
import json
import socket
import statistics
import sys
import threading
import time


def parse_api(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def raw(api, data, timeout):
    t0 = time.monotonic()
    s = socket.create_connection(api, timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                want = int(line.split(b":")[1])
                while len(body) < want:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.") else 0
    except (socket.timeout, OSError, ValueError, IndexError):
        status, body = 0, b""
    finally:
        s.close()
    return {"status": status, "seconds": time.monotonic() - t0,
            "body": body.decode("utf-8", "replace")}


def request(api, method, path, body=None, timeout=5.0):
    """(status, seconds) of one request on a new connection, as synwardenctl makes it."""
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(api[0], api[1], timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        conn.close()
    return status, time.monotonic() - t0


def summary(samples, ok_status):
    ms = sorted(s * 1000 for status, s in samples if status in ok_status)
    out = {"n": len(samples), "answered": len(ms)}
    if ms:
        out.update(p50=round(statistics.median(ms), 1),
                   p99=round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
                   max=round(ms[-1], 1))
    return out


class SlowClients:
    """COUNT connections sending a request one byte per second; reconnect when closed."""

    REQUEST = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def __init__(self, api, count):
        self.api, self.count = api, count
        self.closed_by_server = 0
        self.closed_ages = []  # seconds from connect to the server's close
        self.stop = threading.Event()
        self.socks = [self._open() for _ in range(count)]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _open(self):
        s = socket.create_connection(self.api, timeout=5)
        s.setblocking(False)
        return [s, 0, time.monotonic()]

    def _run(self):
        while not self.stop.is_set():
            for entry in self.socks:
                s, at, since = entry
                closed = False
                try:
                    s.recv(4096)  # an answer (408) or EOF: the server ended this request
                    closed = True
                except BlockingIOError:
                    pass
                except OSError:
                    closed = True
                if not closed:
                    try:
                        s.send(self.REQUEST[at % len(self.REQUEST):][:1])
                        entry[1] = at + 1
                    except OSError:
                        closed = True
                if closed:
                    # Come back at once, as an attacker would.
                    self.closed_by_server += 1
                    self.closed_ages.append(time.monotonic() - since)
                    s.close()
                    entry[:] = self._open()
            self.stop.wait(1.0)

    def close(self):
        self.stop.set()
        self.thread.join()
        for s, _, _ in self.socks:
            s.close()


class Burst:
    """COUNT threads that each send one GET /stats whenever fire() is called."""

    def __init__(self, api, count):
        self.api, self.count = api, count
        self.results = []
        self.lock = threading.Lock()
        self.go = threading.Barrier(count + 1)
        self.done = threading.Barrier(count + 1)
        self.quit = False
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for t in self.threads:
            t.start()

    def _run(self):
        while True:
            self.go.wait()
            if self.quit:
                return
            result = request(self.api, "GET", "/stats", timeout=15)
            with self.lock:
                self.results.append(result)
            self.done.wait()

    def fire(self):
        self.go.wait()

    def wait(self):
        self.done.wait()

    def close(self):
        self.quit = True
        self.go.wait()


def measure(api, host, samples, burst=None):
    status, protect = [], []
    for i in range(samples):
        for kind in ("status", "protect"):
            if burst:
                burst.fire()
                time.sleep(0.03)  # most of the burst is queued at the server
            if kind == "status":
                status.append(request(api, "GET", "/status"))
            else:
                # Alternate off/on; ends on "on" (the state before) after an even count.
                on = "true" if i % 2 else "false"
                protect.append(request(api, "POST", f"/hosts/{host}/protect",
                                       body=f'{{"protection": {on}}}'))
            if burst:
                burst.wait()
    return status, protect


def load(args):
    api = parse_api(args.api)
    base_status, base_protect = measure(api, args.host, args.samples)
    slow = SlowClients(api, args.slow)
    time.sleep(1.5)  # every slow client is mid-request
    burst = Burst(api, args.burst)
    loaded_status, loaded_protect = measure(api, args.host, args.samples, burst)
    burst.close()
    slow.close()
    result = {
        "slow_clients": args.slow, "burst": args.burst, "samples": args.samples,
        "idle": {"status": summary(base_status, {200}), "protect": summary(base_protect, {200})},
        "loaded": {"status": summary(loaded_status, {200}),
                   "protect": summary(loaded_protect, {200}),
                   "stats": summary(burst.results, {200})},
        "slow_closed_by_server": slow.closed_by_server,
        "slow_closed_age_max_s": round(max(slow.closed_ages), 1) if slow.closed_ages else None,
    }
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("raw")
    r.add_argument("--api", required=True)
    r.add_argument("--hex", required=True)
    r.add_argument("--timeout", type=float, default=5.0)
    ld = sub.add_parser("load")
    ld.add_argument("--api", required=True)
    ld.add_argument("--host", required=True)
    ld.add_argument("--slow", type=int, default=50)
    ld.add_argument("--burst", type=int, default=200)
    ld.add_argument("--samples", type=int, default=20)
    args = p.parse_args()
    if args.cmd == "raw":
        print(json.dumps(raw(parse_api(args.api), bytes.fromhex(args.hex), args.timeout)))
    else:
        load(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
