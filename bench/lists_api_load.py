#!/usr/bin/env python3
"""1 M source-list prefixes through the API in one bulk request: the request's wall
time, the daemon's resident memory before and after, the tries' kernel memory, and a GET of the
list. Prints the numbers (bench/RESULTS.md's "source-lists" section quotes them).

  sudo bench/lists_api_load.py [--build build] [--prefixes 1000000]

The prefixes are made up (3/4 IPv4 in 10.0.0.0/8, /32 and /24; 1/4 IPv6 /64 in fd00::/16), one
POST /lists/deny with all of them, from inside the firewall namespace (the API is loopback-only).
"""
import argparse
import ipaddress
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import sw_daemon as D  # noqa: E402
from sw_harness import PORT, PYTHON  # noqa: E402
from sw_topology import Topology, run  # noqa: E402

# One request from a file: (status, seconds, first 300 bytes of the answer).
POST = r"""
import sys, time, urllib.request, urllib.error
body = open(sys.argv[3], "rb").read()
r = urllib.request.Request("http://127.0.0.1:9477" + sys.argv[2], method=sys.argv[1], data=body or None,
                           headers={"Content-Type": "application/json"})
t = time.monotonic()
try:
    resp = urllib.request.urlopen(r, timeout=600); status, text = resp.status, resp.read()
except urllib.error.HTTPError as e:
    status, text = e.code, e.read()
print(status, round(time.monotonic() - t, 3), len(text), text[:300].decode(errors="replace"))
"""


def prefixes(n):
    rnd = random.Random(18)
    out, seen = [], set()
    n6 = n // 4
    while len(out) < n - n6:
        length = 32 if rnd.random() < 0.6 else 24
        addr = (10 << 24) | rnd.getrandbits(24)
        net = ipaddress.ip_network((addr >> (32 - length) << (32 - length), length))
        if net not in seen:
            seen.add(net)
            out.append(str(net))
    while len(out) < n:
        net = ipaddress.ip_network(((0xfd00 << 112) | (rnd.getrandbits(48) << 64), 64))
        if net not in seen:
            seen.add(net)
            out.append(str(net))
    return out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memlock(path):
    info = json.loads(run(["bpftool", "-j", "map", "show", "pinned", path]).stdout)
    return info.get("bytes_memlock", 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--prefixes", type=int, default=1_000_000)
    args = ap.parse_args()
    binary = os.path.join(args.build, "userspace", "daemon", "synwarden")
    bpf_dir = os.path.join(args.build, "tests", "integration", "bpf")
    items = prefixes(args.prefixes)
    with Topology(bpf_dir) as topo:
        secrets = os.path.join(topo.workdir, "host.secrets.json")
        D.write_secrets(secrets)
        cfg = D.base_config(topo, secrets, PORT, datapath="xdp",
                            limits={"list_prefixes": 1 << 20},
                            api={"max_body_bytes": 64 << 20, "persist_changes": True})
        daemon = D.Daemon(topo, binary, cfg)
        body_path = os.path.join(topo.workdir, "bulk.json")
        with open(body_path, "w") as f:
            json.dump({"prefixes": items}, f)
        body_mb = os.path.getsize(body_path) / 1e6
        empty = os.path.join(topo.workdir, "empty")
        open(empty, "w").close()
        try:
            daemon.start()
            rss0 = rss_kib(daemon.proc.pid)
            out = topo.sh("firewall", PYTHON, "-c", POST, "POST", "/lists/deny", body_path,
                          timeout=900).stdout.strip()
            rss1 = rss_kib(daemon.proc.pid)
            get = topo.sh("firewall", PYTHON, "-c", POST, "GET", "/lists/deny", empty,
                          timeout=900).stdout.strip()
            pins = os.path.join(topo.bpffs, "synwarden")
            m4, m6 = memlock(os.path.join(pins, "sw_list_v4")), memlock(os.path.join(pins, "sw_list_v6"))
            stats = daemon.stats()
            daemon.stop()
        finally:
            daemon.kill()
    status, seconds = out.split()[:2]
    print(f"POST /lists/deny with {args.prefixes} prefixes ({body_mb:.1f} MB "
          f"body): status {status}, {seconds} s")
    print(f"answer: {out.split(maxsplit=3)[3] if len(out.split()) > 3 else ''}")
    print(f"GET /lists/deny: status {get.split()[0]}, {get.split()[1]} s, {get.split()[2]} bytes")
    print(f"daemon RSS {rss0} KiB before, {rss1} KiB after")
    print(f"tries (bpftool bytes_memlock): v4 {m4 / 1048576:.1f} MiB, v6 {m6 / 1048576:.1f} MiB")
    print(f"drop_deny_global so far: {D.xdp(stats, 'drop_deny_global')}")
    return 0 if status == "200" else 1


if __name__ == "__main__":
    sys.exit(main())
