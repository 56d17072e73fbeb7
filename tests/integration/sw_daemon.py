"""Runs the synwarden daemon inside the firewall namespace of a Topology, and reads its state.

- write_secrets(): a static secrets file for the protected host (random keys, the machine's
  real jiffies/HZ/CLOCK_MONOTONIC, since the "host" namespace shares this kernel's clocks).
- Daemon: writes the JSON config, starts `synwarden run`, waits until it serves, asks for
  statistics with SIGUSR1 (one JSON line on stdout each), stops it with SIGTERM.
- established_flows(): the pinned established map, read with bpftool.
"""
import json
import os
import queue
import re
import secrets as pyrandom
import signal
import subprocess
import threading
import time
import zlib

from sw_topology import IPV4, IPV6, MACS, run


def _jiffies():
    with open("/proc/timer_list") as f:
        for line in f:
            if line.startswith("jiffies:"):
                return int(line.split()[1])
    raise RuntimeError("no jiffies line in /proc/timer_list")


def _hz():
    try:
        with open("/proc/config.gz", "rb") as f:
            m = re.search(rb"^CONFIG_HZ=(\d+)$", zlib.decompress(f.read(), 31), re.M)
            if m:
                return int(m.group(1))
    except OSError:
        pass
    j0, t0 = _jiffies(), time.monotonic()
    time.sleep(0.5)
    rate = (_jiffies() - j0) / (time.monotonic() - t0)
    return min((100, 250, 300, 1000), key=lambda hz: abs(hz - rate))


def write_secrets(path):
    """A static secrets file in the core loader's format, with random keys: the host's kernel
    holds other secrets, so it resets every ACK the firewall forwards. Tests using it judge the
    firewall (its counters, the client's view of the SYN-ACK) and drop the host's RSTs
    (sw_harness.host_rst_guard) when a client must survive them; tests of acceptance by the
    host's kernel run the agent instead."""
    hexkey = lambda: pyrandom.token_hex(16)
    doc = {
        "syncookie_secret": [hexkey(), hexkey()],
        "syncookie6_secret": [hexkey(), hexkey()],
        "ts_offset": "per-connection",
        "net_secret": hexkey(),
        "tcp_timestamps": 1, "tcp_sack": 1, "tcp_window_scaling": 1, "tcp_ecn": 2,
        "mss": 1460, "mss6": 1440, "rcv_wscale": 7,
        "jiffies": _jiffies(), "hz": _hz(), "mono_ms": int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000),
    }
    # The daemon refuses a secrets file others could read (it holds the host's cookie keys).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    return doc


def base_config(topo, secrets_path, port=8080, **overrides):
    cfg = {
        "interface": "e0",
        "bpffs_pin_dir": os.path.join(topo.bpffs, "synwarden"),
        "keep_dataplane_on_exit": False,
        "secrets_reload_interval_ms": 500,
        # The tests name the datapath they specify; the *_xdp variants override it.
        "datapath": "afxdp",
        "protected_hosts": [
            {"address": IPV4["host"], "mac": MACS["host"], "secrets_file": secrets_path,
             "ports": [port]},
            {"address": IPV6["host"], "mac": MACS["host"], "secrets_file": secrets_path,
             "ports": [port]},
        ],
    }
    cfg.update(overrides)
    return cfg


class Daemon:
    def __init__(self, topo, binary, config, name="synwarden", role="firewall"):
        """role: the topology node it runs in (test_ecmp.py runs two boxes)."""
        self.topo = topo
        self.role = role
        self.binary = binary
        self.config_path = os.path.join(topo.workdir, f"{name}.json")
        self.log_path = os.path.join(topo.workdir, f"{name}.log")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        self.proc = None
        self.lines = queue.Queue()
        self.returncode = None

    def start(self, timeout=15, expect_running=True):
        self._log = open(self.log_path, "w")
        self.proc = self.topo.popen(self.role, self.binary, "run", "--config", self.config_path,
                                    stdout=subprocess.PIPE, stderr=self._log, text=True)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        if not expect_running:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "synwarden info: running:" in self.log():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"synwarden exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"synwarden did not report running within {timeout}s:\n{self.log()}")

    def _read_stdout(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stats(self, timeout=5):
        """SIGUSR1 -> the daemon prints one JSON report; returns it."""
        self.proc.send_signal(signal.SIGUSR1)
        return self._next_report("stats", timeout)

    def _next_report(self, event, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                report = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if report.get("event") == event:
                return report
        raise RuntimeError(f"no '{event}' report from synwarden within {timeout}s:\n{self.log()}")

    def stop(self, timeout=15):
        """SIGTERM; returns the final report (None if the daemon printed none)."""
        self.proc.send_signal(signal.SIGTERM)
        self.returncode = self.proc.wait(timeout=timeout)
        try:
            return self._next_report("final", 2)
        except RuntimeError:
            return None
        finally:
            self._log.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def worker_total(report, counter):
    return sum(w["counters"][counter] for w in report["workers"])


def xsk_total(report, counter):
    return sum((w.get("xsk") or {}).get(counter, 0) for w in report["workers"])


def xdp_packets(report):
    """The XDP program's frames by reason in a stats report (the SIGUSR1 line is GET /stats'
    document: {"xdp": {"packets": {...}, "bytes": {...}, "monitor_would": {...}}})."""
    return report.get("xdp", {}).get("packets", {})


def xdp(report, reason):
    return xdp_packets(report).get(reason, 0)


def established_flows(pin_dir):
    """Entries of the pinned established map as dicts (sport/dport host order, vlan ids)."""
    path = os.path.join(pin_dir, "sw_flows")
    out = run(["bpftool", "-j", "map", "dump", "pinned", path]).stdout
    flows = []
    for entry in json.loads(out):
        key = bytes(int(b, 16) for b in entry["key"])
        flows.append({
            "sport": int.from_bytes(key[32:34], "big"),
            "dport": int.from_bytes(key[34:36], "big"),
            "vlan_outer": int.from_bytes(key[36:38], "little"),
            "family": key[40],
        })
    return flows
