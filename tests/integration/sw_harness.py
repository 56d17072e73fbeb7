"""Pieces shared by the integration tests: a check list that prints PASS/FAIL lines, captures,
the host's RST guard, a listener and the real TCP client, all run inside a Topology."""
import json
import os
import subprocess

import sw_capture

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, whatever python3 the PATH offers
PORT = 8080


class Checks:
    """Collects named expectations; the test fails if any does (ctest also greps 'FAIL:')."""

    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, what, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'}: {what}" + (f" -- {detail}" if detail else ""),
              flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 and self.passed > 0 else 1


def start_capture(topo, role, name):
    out = os.path.join(topo.workdir, f"{name}.capture.json")
    proc = topo.popen(role, PYTHON, os.path.join(HERE, "sw_capture.py"), "--iface", "e0",
                      "--out", out, stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"capture in {role} did not start")
    return proc, out


def stop_capture(capture):
    proc, out = capture
    proc.terminate()
    proc.wait(timeout=10)
    return sw_capture.load(out)["records"]


def host_rst_guard(topo):
    """Counts and drops the host's RSTs so the client's connection survives to send data."""
    rules = ("add table inet swit\n"
             "add chain inet swit out { type filter hook output priority 0; }\n"
             "add rule inet swit out tcp flags & rst == rst counter drop\n")
    subprocess.run(topo.cmd("host", "nft", "-f", "-"), input=rules, text=True, check=True)


def host_rst_count(topo):
    out = topo.sh("host", "nft", "-j", "list", "chain", "inet", "swit", "out").stdout
    for item in json.loads(out)["nftables"]:
        for expr in item.get("rule", {}).get("expr", []):
            if "counter" in expr:
                return expr["counter"]["packets"]
    return 0


def start_listener(topo, address):
    """A listening socket on the host, so its RSTs come from the cookie check, not a closed port."""
    family = "socket.AF_INET6" if ":" in address else "socket.AF_INET"
    return topo.popen("host", PYTHON, "-c",
                      f"import socket,time\ns=socket.socket({family})\n"
                      f"s.bind(('{address}',{PORT})); s.listen(); time.sleep(300)")


def client_args(dst, **options):
    args = [PYTHON, os.path.join(HERE, "sw_client.py"), "--dst", dst, "--port", str(PORT)]
    for key, value in options.items():
        args += [f"--{key}", str(value)]
    return args


def run_client(topo, dst, **options):
    return json.loads(topo.sh("client", *client_args(dst, **options)).stdout)
