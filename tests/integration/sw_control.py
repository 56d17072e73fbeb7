"""Pieces shared by the control-plane integration tests (test_control_*.py): synwardenctl and
the HTTP API run inside the firewall namespace (the API listens on that namespace's loopback),
the streaming connections of sw_stream.py, the SYN flood, and a Prometheus text checker."""
import argparse
import json
import os
import re
import subprocess
import time
import urllib.request

from sw_harness import PYTHON, HERE
from sw_topology import MACS, run

API = "http://127.0.0.1:9477"  # the daemon's and synwardenctl's default


def parse_args():
    """The command line both control-plane tests take (tests/integration/CMakeLists.txt)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--synwarden", required=True)
    ap.add_argument("--synwardenctl", required=True)
    ap.add_argument("--synflood", required=True)
    ap.add_argument("--bpf-dir", required=True)
    ap.add_argument("--flood-rate", type=int, default=20000)
    ap.add_argument("--queues", type=int, default=2)
    return ap.parse_args()


def ctl(topo, binary, *args, check=True):
    """synwardenctl in the firewall namespace (default --api: the daemon's default address)."""
    result = subprocess.run(topo.cmd("firewall", binary, *args), capture_output=True, text=True,
                            timeout=60)
    print(f"$ synwardenctl {' '.join(args)}  -> {result.returncode}\n{result.stdout}{result.stderr}",
          flush=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"synwardenctl {' '.join(args)} failed: {result.stderr}")
    return result


def ctl_json(topo, binary, *args):
    return json.loads(ctl(topo, binary, *args, "--json").stdout)


def http(topo, method, path, body=None):
    """(status, text) of one API request made from inside the firewall namespace."""
    script = (
        "import sys,urllib.request,urllib.error\n"
        f"r=urllib.request.Request('{API}{path}',method='{method}',"
        f"data={repr(body.encode()) if body is not None else None},"
        "headers={'Content-Type':'application/json'})\n"
        "try:\n r=urllib.request.urlopen(r,timeout=30); print(r.status); sys.stdout.write(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n print(e.code); sys.stdout.write(e.read().decode())\n")
    out = topo.sh("firewall", PYTHON, "-c", script).stdout
    status, _, text = out.partition("\n")
    return int(status), text


def check_exposition(text):
    """Problems of a Prometheus text exposition (empty list if well formed)."""
    problems, types, current = [], {}, None
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (-?[0-9.e+]+)$')
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            if name in types:
                problems.append(f"family {name} twice")
            types[name] = kind
            if (kind == "counter") != name.endswith("_total"):
                problems.append(f"{name}: {kind} naming")
        else:
            m = sample.match(line)
            if not m or m.group(1) != current:
                problems.append(f"bad sample line: {line}")
    return problems


def metric(text, name, **labels):
    """The value of one sample, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(name + ("{" + want + "}" if want else "") + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


# Index of SW_R_FWD_ESTABLISHED in bpf/synwarden_shared.h's SW_REASON_LIST (append-only list).
REASON_FWD_ESTABLISHED = 5


def xdp_packets(pin_dir, reason):
    """Packets the XDP program counted for `reason`, summed over CPUs, read from the pinned
    per-CPU stats map with bpftool: works while no daemon runs."""
    out = run(["bpftool", "-j", "map", "dump", "pinned", os.path.join(pin_dir, "sw_stats")]).stdout
    total = 0
    for cpu in json.loads(out)[0]["values"]:
        raw = bytes(int(b, 16) for b in cpu["value"])
        total += int.from_bytes(raw[reason * 16:reason * 16 + 8], "little")
    return total


class Streams:
    """sw_stream.py: an echo server on the host and N streaming connections from the client."""

    def __init__(self, topo, dst, port, connections=50):
        self.topo = topo
        self.server = topo.popen("host", PYTHON, os.path.join(HERE, "sw_stream.py"), "server",
                                 "--bind", dst, "--port", str(port), stdout=subprocess.PIPE,
                                 text=True)
        if self.server.stdout.readline().strip() != "ready":
            raise RuntimeError("stream server did not start")
        self.client = topo.popen("client", PYTHON, os.path.join(HERE, "sw_stream.py"), "client",
                                 "--dst", dst, "--port", str(port), "--connections",
                                 str(connections), stdout=subprocess.PIPE, text=True)
        ready = self.client.stdout.readline().strip()
        if ready != f"ready {connections}":
            raise RuntimeError(f"stream client did not connect: {ready!r}")
        self.connections = connections

    def probe(self):
        """{"retransmits", "max_gap_s", "broken"} so far."""
        self.client.send_signal(10)  # SIGUSR1
        return json.loads(self.client.stdout.readline())

    def stop(self):
        """Ends the streams and returns the client's summary."""
        self.client.send_signal(15)
        out = self.client.communicate(timeout=30)[0]
        self.server.kill()
        return json.loads(out.strip().splitlines()[-1])


def start_flood(topo, synflood, dst, port, rate, seconds, prefix="198.51.100.0/24"):
    cmd = [synflood, "--interface", "e0", "--dst-mac", MACS["firewall"], "--dst", dst,
           "--dst-port", str(port), "--src-prefix", prefix, "--mode", "syn", "--rate", str(rate),
           "--duration", str(seconds)]
    return topo.popen("attacker", *cmd, stdout=subprocess.PIPE, text=True)


def wait_until(what, predicate, timeout=10.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")
