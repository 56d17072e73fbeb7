"""The whole product in one Topology, shared by test_e2e.py and the demo (scripts/demo.sh):

    host      synwarden-agent in bpf mode (tc program on e0) or kmod mode (the synwarden_secrets
              module, loaded by the caller), secret channel on 192.0.2.10:7070,
              the real services of sw_servers.py, nft counters of what reaches its TCP stack
    firewall  synwarden with both host addresses protected, secrets polled from the agent,
              management address 192.0.2.3 (the XDP program passes what is not for a protected
              address to the firewall's own stack, so the poller's replies arrive normally)
    attacker  synflood at its maximum rate, random sources from documentation prefixes
    client    curl and the clients of sw_e2e_clients.py

The client's tcp_rmem gives it window scale 9 (unlike the host's), so the host's TCP_INFO proves
the client's own option values crossed the firewall inside the cookie.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import sw_daemon as D
from sw_harness import PYTHON
from sw_servers import BANNER_PORT, ECHO_PORT, HTTP_PORT
from sw_topology import IPV4, IPV6, MACS

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT_PORT = 7070
API_PORT = 9477
FIREWALL_V4 = "192.0.2.3"
FLOOD_PREFIX = {"4": "198.51.100.0/24", "6": "2001:db8:f100::/48"}
CLIENT_RMEM = "4096 131072 16777216"  # ilog2(16 MiB) - 15 = window scale 9
CLIENT_WSCALE = 9
PORTS = [HTTP_PORT, BANNER_PORT, ECHO_PORT]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


class Scenario:
    def __init__(self, topo, synwarden, agent, synflood, limits=None, datapath="afxdp",
                 host_mode="bpf"):
        self.topo, self.synwarden, self.agent_bin, self.synflood = topo, synwarden, agent, synflood
        self.host_mode = host_mode  # the agent's "mode": bpf or kmod
        self.limits = limits or {}
        self.datapath = datapath
        self.work = topo.workdir
        self.agent_key = os.path.join(self.work, "agent.key")
        self.firewall_key = os.path.join(self.work, "firewall-web1.key")
        self.agent_config = os.path.join(self.work, "agent.json")
        self.agent_log_path = os.path.join(self.work, "agent.log")
        self.tcp_info_path = os.path.join(self.work, "host-tcp-info.jsonl")
        self.agent = self.servers = self.daemon = None

    # -- set-up ----------------------------------------------------------------------------------
    def start(self, queues_note=""):
        topo = self.topo
        topo.ip("firewall", "addr", "add", f"{FIREWALL_V4}/24", "dev", "e0")
        topo.sh("client", "sysctl", "-qw", f"net.ipv4.tcp_rmem={CLIENT_RMEM}")
        self._host_counters()
        self._start_agent()
        self._start_servers()
        self._start_daemon()

    def _start_agent(self):
        run_cmd = [self.agent_bin, "genkey", "--out", self.agent_key]
        subprocess.run(run_cmd, check=True, capture_output=True)
        # The firewall's copy of the host's key (an operator copies it over a secure channel).
        shutil.copyfile(self.agent_key, self.firewall_key)
        os.chmod(self.firewall_key, 0o600)
        with open(self.agent_config, "w") as f:
            json.dump({"listen": f"{IPV4['host']}:{AGENT_PORT}", "key_file": self.agent_key,
                       "mode": self.host_mode, "interfaces": ["e0"], "ports": PORTS,
                       "pin_dir": os.path.join(self.topo.bpffs, "agent")}, f)
        self._agent_log = open(self.agent_log_path, "w")
        self.agent = self.topo.popen("host", self.agent_bin, "run", "--config", self.agent_config,
                                     stdout=self._agent_log, stderr=subprocess.STDOUT)
        wait_for(lambda: "serving secrets" in self.agent_log() or self.agent.poll() is not None,
                 15, "synwarden-agent to serve secrets")
        if self.agent.poll() is not None:
            raise RuntimeError(f"synwarden-agent exited:\n{self.agent_log()}")

    def host_wscale(self):
        """The window scale the agent reports for the host (its log: "window scale N")."""
        match = re.search(r"window scale (\d+)", self.agent_log())
        if not match:
            raise RuntimeError(f"the agent log names no window scale:\n{self.agent_log()}")
        return int(match.group(1))

    def agent_log(self):
        with open(self.agent_log_path) as f:
            return f.read()

    def _start_servers(self):
        self.servers = self.topo.popen("host", PYTHON, os.path.join(HERE, "sw_servers.py"),
                                       "--tcp-info-out", self.tcp_info_path,
                                       stdout=subprocess.PIPE, text=True)
        if self.servers.stdout.readline().strip() != "ready":
            raise RuntimeError("the host's services did not start")

    def _host_counters(self):
        """nft counters (no drops) of what reaches the host's own TCP stack."""
        rules = ("add table inet swe2e\n"
                 "add chain inet swe2e pre { type filter hook prerouting priority -300; }\n"
                 "add rule inet swe2e pre tcp flags & (syn | ack) == syn counter "
                 "comment \"syn\"\n"
                 f"add rule inet swe2e pre ip saddr {FLOOD_PREFIX['4']} counter comment \"attack\"\n"
                 f"add rule inet swe2e pre ip6 saddr {FLOOD_PREFIX['6']} counter "
                 "comment \"attack\"\n")
        subprocess.run(self.topo.cmd("host", "nft", "-f", "-"), input=rules, text=True,
                       check=True)

    def _start_daemon(self):
        def host(address):
            return {"address": address, "mac": MACS["host"], "ports": PORTS,
                    "agent": {"address": f"{IPV4['host']}:{AGENT_PORT}",
                              "key_file": self.firewall_key, "poll_interval_ms": 1000,
                              "fail": "closed"}}
        config = {
            "interface": "e0",
            "bpffs_pin_dir": os.path.join(self.topo.bpffs, "synwarden"),
            "keep_dataplane_on_exit": False,
            "api": {"port": API_PORT, "persist_changes": False},
            "limits": self.limits,
            "datapath": self.datapath,
            "protected_hosts": [host(IPV4["host"]), host(IPV6["host"])],
        }
        self.daemon = D.Daemon(self.topo, self.synwarden, config)
        self.daemon.start(timeout=20)

    # -- traffic ---------------------------------------------------------------------------------
    def flood(self, family, seconds):
        """synflood at its maximum rate (--rate 0) for `seconds`; returns the process."""
        dst = IPV6["host"] if family == "6" else IPV4["host"]
        return self.topo.popen("attacker", self.synflood, "--interface", "e0", "--dst-mac",
                               MACS["firewall"], "--dst", dst, "--dst-port", str(HTTP_PORT),
                               "--src-prefix", FLOOD_PREFIX[family], "--rate", "0",
                               "--duration", str(seconds), stdout=subprocess.PIPE, text=True)

    def clients(self, command, dst, count, **options):
        args = [PYTHON, os.path.join(HERE, "sw_e2e_clients.py"), command, "--dst", dst,
                "--count", str(count)]
        for key, value in options.items():
            args += [f"--{key}", str(value)]
        return json.loads(self.topo.sh("client", *args, timeout=600).stdout.splitlines()[-1])

    def start_streams(self, dst, count, seconds, double=False):
        args = [PYTHON, os.path.join(HERE, "sw_e2e_clients.py"), "streams", "--dst", dst,
                "--count", str(count), "--seconds", str(seconds)] + (["--double"] if double else [])
        proc = self.topo.popen("client", *args, stdout=subprocess.PIPE, text=True)
        if json.loads(proc.stdout.readline()).get("kind") != "streams-started":
            raise RuntimeError("the stream clients did not start")
        return proc

    @staticmethod
    def end_streams(procs, timeout=60):
        """Stops stream clients of start_streams() once the scenario they span is over (SIGTERM:
        each stream finishes the chunk under way, its echo checked) and returns their summaries.
        A stream whose `seconds` ran out earlier has already ended; its summary is the same."""
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        return [json.loads(p.communicate(timeout=timeout)[0].splitlines()[-1]) for p in procs]

    def set_protection(self, address, on):
        """POST /hosts/{ip}/protect on the daemon's local API (what `synwardenctl protect` does)."""
        out = self.topo.sh("firewall", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                           "-X", "POST", "-H", "Content-Type: application/json",
                           "-d", json.dumps({"protection": on}),
                           f"http://127.0.0.1:{API_PORT}/hosts/{address}/protect").stdout
        if out.strip() != "200":
            raise RuntimeError(f"protect {'on' if on else 'off'} {address}: HTTP {out}")

    # -- observations ----------------------------------------------------------------------------
    def host_snmp(self):
        """The host namespace's TCP MIB counters (/proc/net/snmp and netstat are per netns)."""
        out = self.topo.sh("host", "cat", "/proc/net/snmp", "/proc/net/netstat").stdout.splitlines()
        counters = {}
        for header, values in zip(out[0::2], out[1::2]):
            proto, names = header.split(":", 1)
            for name, value in zip(names.split(), values.split(":", 1)[1].split()):
                counters[f"{proto}.{name}"] = int(value)
        return counters

    def host_nft(self):
        out = self.topo.sh("host", "nft", "-j", "list", "chain", "inet", "swe2e", "pre").stdout
        counts = {"syn": 0, "attack": 0}
        for item in json.loads(out)["nftables"]:
            rule = item.get("rule")
            if not rule:
                continue
            for expr in rule.get("expr", []):
                if "counter" in expr:
                    counts[rule.get("comment", "?")] += expr["counter"]["packets"]
        return counts

    def host_tcp_info(self):
        with open(self.tcp_info_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def agent_stats(self):
        out = self.topo.sh("host", self.agent_bin, "stats", "--config", self.agent_config).stdout
        return {name: int(value) for name, value in (line.split() for line in out.splitlines())}

    def stop(self):
        """Stops the daemon and the agent (SIGTERM: the agent detaches its tc program)."""
        final = self.daemon.stop() if self.daemon else None
        if self.agent and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            self.agent.wait(timeout=10)
        if self.servers and self.servers.poll() is None:
            self.servers.send_signal(signal.SIGTERM)
            self.servers.wait(timeout=10)
        return final


def totals(report):
    """Firewall-wide numbers of a daemon stats report, for summaries (either datapath: the
    workers' counts plus the XDP program's own SYN-ACKs and valid cookie ACKs)."""
    w = lambda name: D.worker_total(report, name)
    xdp = D.xdp_packets(report)
    worker_drops = sum(w(name) for name in (
        "syn_rate_limited", "syn_build_failed", "ack_bad_cookie", "ack_cookie_expired",
        "ack_option_disabled", "dropped_fail_closed", "dropped_rst_fin", "dropped_bad_flags",
        "dropped_unknown_host", "dropped_unparsable", "dropped_bad_checksum", "tx_ring_full"))
    socket_drops = D.xsk_total(report, "rx_dropped") + D.xsk_total(report, "rx_ring_full")
    xdp_drops = sum(v for k, v in xdp.items() if k.startswith("drop_") or k.endswith("_no_socket"))
    return {"synacks": w("synack_built") + xdp.get("xdp_synack", 0),
            "acks_valid": (w("ack_valid") + xdp.get("xdp_ack_valid", 0)
                           + xdp.get("xdp_ack_valid_previous", 0)),
            "dropped": worker_drops + socket_drops + xdp_drops, "socket_drops": socket_drops,
            "syns": w("syn_received")}


def delta(after, before):
    return {k: after[k] - before.get(k, 0) for k in after}
