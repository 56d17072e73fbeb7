"""The four SYN answerers the benchmark compares, each set up on the same topology.

In every scenario the answering work happens in the firewall namespace's e0 (its threaded NAPI
on the firewall core(s), see bench_net.py), behind the same bridge, for the same flood:
  (a) linux     the firewall namespace *is* the protected host 192.0.2.10: its own kernel
                answers every SYN with a cookie (tcp_syncookies=2) — Linux alone.
  (b) synproxy  the firewall namespace routes to the host (one-armed router) with nftables
                SYNPROXY in its forward hook; the host routes replies back through it.
  (c) synwarden the daemon on e0 (XDP + AF_XDP workers), polling the host's synwarden-agent
                (BPF mode, so the host's kernel accepts the firewall's cookie ACKs) from the
                firewall's own address.
  (c2) synwarden_xdp  the same daemon and agent with config "datapath": "xdp": the XDP program
                answers SYNs (XDP_TX) and checks cookie ACKs itself; the workers stay bound for
                what XDP leaves to them.
  (d) xdp_tx    bpf/reflector.bpf.c on e0: swaps addresses and returns the SYN as a SYN-ACK with
                XDP_TX. No cookie, nothing forwarded: the ceiling of this topology, not a
                firewall, so it has no legitimate-client numbers.
"""
import json
import os
import subprocess
import time

import sw_daemon as D
from sw_topology import IPV4, MACS

PORT = 8080
FIREWALL_IP = "192.0.2.3"  # the firewall's own address (router in (b), agent channel in (c))
FLOOD_PREFIX = "198.51.100.0/24"
AGENT_PORT = 7070


def _wait_for(what, predicate, timeout, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout}s\n{log()}")


class Scenario:
    key = ""
    name = ""
    title = ""
    server_role = "host"   # where the legitimate clients' echo server runs
    legit = True           # whether legitimate connections can succeed at all

    def __init__(self, tools):
        self.tools = tools   # argparse namespace: binaries and object paths

    def setup(self, topo, net):
        raise NotImplementedError

    def details(self):
        """Scenario-specific facts for the report (answered counts, drops), after the flood."""
        return {}

    def stop(self):
        pass


class LinuxSyncookies(Scenario):
    key, name, title = "a", "linux", "Linux answering SYNs itself (tcp_syncookies=2)"
    server_role = "firewall"

    def setup(self, topo, net):
        # The protected address moves into the firewall namespace: its kernel is the host here.
        topo.ip("host", "addr", "del", f"{IPV4['host']}/24", "dev", "e0")
        topo.ip("firewall", "addr", "add", f"{IPV4['host']}/24", "dev", "e0")
        topo.ip("firewall", "route", "add", FLOOD_PREFIX, "via", IPV4["attacker"])
        topo.sh("firewall", "sysctl", "-qw", "net.ipv4.tcp_syncookies=2",
                "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.e0.rp_filter=0")
        self._topo = topo

    def details(self):
        out = self._topo.sh("firewall", "nstat", "-asz", "TcpExtSyncookiesSent",
                            "TcpExtSyncookiesRecv", "TcpExtListenDrops").stdout
        return _nstat(out)


class NftSynproxy(Scenario):
    key, name, title = "b", "synproxy", "nftables SYNPROXY on the firewall"

    RULES = f"""
table inet swbench {{
  chain sw_raw {{
    type filter hook prerouting priority raw; policy accept;
    ip daddr {IPV4['host']} tcp dport {PORT} tcp flags & (syn | ack) == syn notrack
  }}
  chain sw_forward {{
    type filter hook forward priority filter; policy accept;
    ip daddr {IPV4['host']} tcp dport {PORT} ct state invalid,untracked synproxy mss 1460 wscale 7 timestamp sack-perm
    ct state invalid drop
  }}
}}
"""

    def setup(self, topo, net):
        topo.ip("firewall", "addr", "add", f"{FIREWALL_IP}/24", "dev", "e0")
        topo.ip("firewall", "route", "add", FLOOD_PREFIX, "via", IPV4["attacker"])
        subprocess.run(topo.cmd("firewall", "nft", "-f", "-"), input=self.RULES, text=True,
                       check=True)
        # One-armed router: forwarding out of the interface a packet came in on is the job here,
        # so no ICMP redirects; SYNPROXY's documented prerequisite nf_conntrack_tcp_loose=0.
        topo.sh("firewall", "sysctl", "-qw", "net.ipv4.ip_forward=1",
                "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.e0.send_redirects=0",
                "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.e0.rp_filter=0",
                "net.netfilter.nf_conntrack_tcp_loose=0", "net.ipv4.tcp_syncookies=1",
                "net.ipv4.tcp_timestamps=1")
        # SYNPROXY rewrites sequence numbers for the connection's life: the host's replies must
        # come back through the firewall, so the host reaches the client via the firewall's MAC.
        topo.ip("host", "neigh", "replace", IPV4["client"], "lladdr", MACS["firewall"], "dev",
                "e0", "nud", "permanent")
        self._topo = topo

    def details(self):
        out = self._topo.sh("firewall", "nstat", "-asz", "TcpExtSyncookiesSent",
                            "TcpExtSyncookiesRecv", "TcpExtSyncookiesFailed").stdout
        return _nstat(out)


class Synwarden(Scenario):
    key, name, title = "c", "synwarden", "synwarden (XDP + AF_XDP workers)"
    datapath = "afxdp"
    limits = {}

    def setup(self, topo, net):
        t = self.tools
        self._topo = topo
        self.daemon = self.agent = self._agent_log_file = None
        topo.ip("firewall", "addr", "add", f"{FIREWALL_IP}/24", "dev", "e0")
        key = os.path.join(topo.workdir, "agent.key")
        subprocess.run([t.agent, "genkey", "--out", key], check=True, capture_output=True)
        self.agent_config = os.path.join(topo.workdir, "agent.json")
        agent_address = f"{IPV4['host']}:{AGENT_PORT}"
        with open(self.agent_config, "w") as f:
            json.dump({"listen": agent_address, "key_file": key, "mode": "bpf",
                       "interfaces": ["e0"], "ports": [PORT],
                       "pin_dir": os.path.join(topo.bpffs, "agent")}, f)
        self.agent_log = os.path.join(topo.workdir, "agent.log")
        self._agent_log_file = open(self.agent_log, "w")
        self.agent = topo.popen("host", t.agent, "run", "--config", self.agent_config,
                                stdout=self._agent_log_file, stderr=self._agent_log_file)
        net.add_world_process(self.agent.pid)
        _wait_for("synwarden-agent did not start serving", lambda: "serving secrets" in
                  _read(self.agent_log), 15, lambda: _read(self.agent_log))

        # The integration tests' config, with the host's agent instead of a secrets file.
        config = D.base_config(topo, "/dev/null", PORT)
        config["protected_hosts"] = config["protected_hosts"][:1]   # the bench floods IPv4
        host = config["protected_hosts"][0]
        del host["secrets_file"]
        host["agent"] = {"address": agent_address, "key_file": key}
        config["queues"] = list(range(topo.firewall_queues))
        config["worker_cpus"] = [net.fw_cpus[q % len(net.fw_cpus)] for q in config["queues"]]
        config["datapath"] = self.datapath
        config.setdefault("limits", {}).update(self.limits)
        self.daemon = D.Daemon(topo, t.synwarden, config)
        self.daemon.start()
        # Until the first reply the host's fail policy applies: no flood before that.
        _wait_for("synwarden got no secrets from the agent", lambda: "-> fresh" in
                  self.daemon.log(), 15, lambda: self.daemon.log() + _read(self.agent_log))
        net.add_firewall_process(self.daemon.proc.pid)
        self._before = self.daemon.stats()

    def pid(self):
        return self.daemon.proc.pid

    def details(self):
        after = self.daemon.stats()
        per_worker = [w["counters"]["synack_built"] - b["counters"]["synack_built"]
                      for w, b in zip(after["workers"], self._before["workers"])]
        lost = sum(D.xsk_total(after, k) - D.xsk_total(self._before, k)
                   for k in ("rx_dropped", "rx_ring_full"))
        agent = self._topo.sh("host", self.tools.agent, "stats", "--config",
                              self.agent_config, check=False).stdout
        xdp = {k: D.xdp(after, k) - D.xdp(self._before, k)
               for k in ("xdp_synack", "xdp_ack_valid", "xsk_syn", "drop_cookie_syn_rate",
                         "xsk_xdp_unsupported", "drop_xdp_unsupported")}
        return {"synack_built_per_worker": per_worker, "xsk_rx_lost": lost, "xdp": xdp,
                "ack_valid": D.worker_total(after, "ack_valid")
                - D.worker_total(self._before, "ack_valid"),
                "host_agent": dict(line.split() for line in agent.splitlines()
                                   if len(line.split()) == 2)}

    def stop(self):
        if self.daemon:
            self.daemon.stop()
            self.daemon.kill()
        if self.agent and self.agent.poll() is None:
            self.agent.terminate()
            self.agent.wait(timeout=10)
        if self._agent_log_file:
            self._agent_log_file.close()


class SynwardenXdp(Synwarden):
    key, name, title = "c2", "synwarden_xdp", "synwarden, XDP datapath (SYN-ACKs by XDP_TX)"
    datapath = "xdp"


class SynwardenXdpNoHint(SynwardenXdp):
    """(c2) with limits.flow_hint false: every SYN looked up in the flow table, as before the
    hint (docs/flow-hint.md). Not in the default set; for an A/B of the hint in one run."""
    key, name, title = "c2n", "synwarden_xdp_nohint", "synwarden, XDP datapath, no flow hint"
    limits = {"flow_hint": False}


class XdpReflector(Scenario):
    key, name, title = "d", "xdp_tx", "XDP_TX reflector (address swap only; ceiling)"
    legit = False

    def setup(self, topo, net):
        topo.ip("firewall", "link", "set", "dev", "e0", "xdpdrv", "obj", self.tools.reflector,
                "sec", "xdp")


SCENARIOS = {cls.name: cls for cls in (LinuxSyncookies, NftSynproxy, Synwarden, SynwardenXdp,
                                        SynwardenXdpNoHint, XdpReflector)}


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _nstat(text):
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("TcpExt"):
            out[parts[0][6:]] = int(parts[1])
    return out
