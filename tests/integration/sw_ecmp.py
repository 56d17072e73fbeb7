"""Two firewall boxes behind a BGP router, as an operator runs them (test_ecmp.py):

    client   203.0.113.1 ---- router ---- LAN bridge: box A 192.0.2.3 (synwarden, XDP on e0)
             (and the flood)  cli: 203.0.113.254      box B 192.0.2.4 (synwarden, XDP on e0)
                              lan: 192.0.2.254        host  192.0.2.10 (agent, services)

The router runs FRR's zebra + bgpd (AS 64600, `maximum-paths 2`, L4 multipath hash) and learns
192.0.2.10/32 from both boxes (AS 64601, each announcing it with itself as next hop while
`synwardenctl health` passes, through tools/route-watch). Its ECMP route sends each client flow
to one box; the box answers SYNs with cookies out of its LAN port and forwards valid ACKs to the
host's MAC, as in the one-box topology (sw_topology.py, whose kernel quirks apply here too). The
host answers the clients through the router directly.

A lab quirk of the router's hashing: Linux's fib_multipath_hash() takes an skb's existing L4
hash when it has one, and a frame that a client's socket sent through a veth still carries that
socket's hash (sk_txhash), which TCP re-randomises after a retransmission timeout. So here a
flow whose segments were lost for a while (box A down, not yet withdrawn) may come back on the
other box than a header hash would choose: more moves between boxes than a real router makes,
which only adds recoveries. (Checked once: for 100 streams on box A, the header-hash choice that
`ip route get ... ipproto tcp sport P dport 9000` names agreed with the box actually carrying
the flow for 49, i.e. chance.) The test therefore counts the flows each box actually holds.

EcmpTopology offers Topology's interface (cmd, sh, popen, ip, workdir, bpffs) with the roles
client, firewall (box A), firewall_b (box B), host, router and switch, so sw_e2e.Scenario and
sw_daemon.Daemon run in it unchanged.
"""
import json
import os
import subprocess
import time

from sw_topology import MACS, Topology, run

ROUTER_LAN, ROUTER_CLI, CLIENT = "192.0.2.254", "203.0.113.254", "203.0.113.1"
BOX = {"firewall": "192.0.2.3", "firewall_b": "192.0.2.4"}
BOX_MAC = {"firewall": MACS["firewall"], "firewall_b": "02:53:57:00:00:04"}
ROUTER_MAC = {"lan": "02:53:57:00:00:fe", "cli": "02:53:57:00:01:fe"}
ROUTER_AS, BOX_AS = 64600, 64601
FLOOD_SOURCES = "198.51.100.0/24"
ROUTE_WATCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools",
                           "route-watch", "synwarden-route-watch")


class EcmpTopology(Topology):
    def __init__(self, bpf_dir):
        super().__init__(bpf_dir, firewall_queues=1, host_rps=True)
        self.ns["router"] = f"swit{self.tag}ro"
        self.ns["firewall_b"] = f"swit{self.tag}fb"

    def build(self):
        self._built = True
        for role in ("switch", "router", "client", "firewall", "firewall_b", "host"):
            run(["ip", "netns", "add", self.ns[role]])
            self.ip(role, "link", "set", "lo", "up")
        self.ip("switch", "link", "add", "br0", "type", "bridge")
        self.ip("switch", "link", "set", "br0", "up")
        self.sh("switch", "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", check=False)
        lan = {"router": ("pro", "lan", ROUTER_MAC["lan"]),
               "firewall": ("pfa", "e0", BOX_MAC["firewall"]),
               "firewall_b": ("pfb", "e0", BOX_MAC["firewall_b"]),
               "host": ("pho", "e0", MACS["host"])}
        for role, (port, dev, mac) in lan.items():
            self.ip("switch", "link", "add", port, "type", "veth", "peer", "name", dev, "netns",
                    self.ns[role])
            self.ip("switch", "link", "set", port, "master", "br0")
            self.ip(role, "link", "set", dev, "address", mac)
            self.sh("switch", "ethtool", "-K", port, "tx", "off", "txvlan", "off")
            self.sh(role, "ethtool", "-K", dev, "tx", "off", "txvlan", "off", "rxvlan", "off")
            self.ip("switch", "link", "set", port, "up")
            self.ip(role, "link", "set", dev, "up")
        # XDP_TX out of a box lands on its bridge-side peer: it needs an XDP program (NAPI).
        for port in ("pfa", "pfb"):
            self.ip("switch", "link", "set", "dev", port, "xdpdrv", "obj",
                    os.path.join(self.bpf_dir, "xdp_pass.bpf.o"), "sec", "xdp")
        self.ip("router", "link", "add", "cli", "type", "veth", "peer", "name", "e0", "netns",
                self.ns["client"])
        self.ip("router", "link", "set", "cli", "address", ROUTER_MAC["cli"])
        self.ip("client", "link", "set", "e0", "address", MACS["client"])
        self.sh("router", "ethtool", "-K", "cli", "tx", "off")
        self.sh("client", "ethtool", "-K", "e0", "tx", "off")
        self.ip("router", "link", "set", "cli", "up")
        self.ip("client", "link", "set", "e0", "up")

        self.ip("router", "addr", "add", f"{ROUTER_LAN}/24", "dev", "lan")
        self.ip("router", "addr", "add", f"{ROUTER_CLI}/24", "dev", "cli")
        self.ip("client", "addr", "add", f"{CLIENT}/24", "dev", "e0")
        self.ip("client", "route", "add", "default", "via", ROUTER_CLI)
        self.ip("firewall_b", "addr", "add", f"{BOX['firewall_b']}/24", "dev", "e0")
        self.ip("host", "addr", "add", "192.0.2.10/24", "dev", "e0")
        self.ip("host", "-6", "addr", "add", "2001:db8::10/64", "dev", "e0", "nodad")
        self.ip("host", "route", "add", "default", "via", ROUTER_LAN)
        # The router: forwards, hashes multipath routes on the 4-tuple, and does not judge the
        # flood's spoofed sources (whose SYN-ACKs it discards).
        self.sh("router", "sysctl", "-qw", "net.ipv4.ip_forward=1",
                "net.ipv4.fib_multipath_hash_policy=1", "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.lan.rp_filter=0",
                "net.ipv4.conf.cli.rp_filter=0")
        self.ip("router", "route", "add", "blackhole", FLOOD_SOURCES)
        cpus = os.cpu_count() or 1
        self.sh("host", "sh", "-c",
                f"echo {(1 << cpus) - 1:x} > /sys/class/net/e0/queues/rx-0/rps_cpus")
        os.makedirs(self.bpffs, exist_ok=True)
        run(["mount", "-t", "bpf", "bpf", self.bpffs])
        # FRR's daemons run as user frr: they must reach their directories under the workdir.
        os.chmod(self.workdir, 0o711)

    def teardown(self):
        built = self._built
        super().teardown()  # kills every process started with popen(), removes the rest
        if built:
            for role in ("router", "firewall_b"):
                run(["ip", "netns", "del", self.ns[role]], check=False)

    # -- facts -----------------------------------------------------------------------------------
    def router_next_hops(self, prefix="192.0.2.10"):
        """The next-hop addresses of the router's route to `prefix` (empty: none or connected)."""
        routes = json.loads(self.ip("router", "-j", "route", "show", prefix).stdout or "[]")
        hops = set()
        for r in routes:
            if r.get("protocol") != "bgp":
                continue
            if "gateway" in r:
                hops.add(r["gateway"])
            for nh in r.get("nexthops", []):
                hops.add(nh["gateway"])
        return hops


class Frr:
    """zebra + bgpd of one namespace: own config, pid files, zserv and vty sockets (FRR 8.4:
    -f, -i, -z, --vty_socket; no TCP vty), in the foreground so the topology reaps them."""

    def __init__(self, topo, role, bgpd_conf):
        self.topo, self.role = topo, role
        self.dir = os.path.join(topo.workdir, f"frr-{role}")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o777)
        with open(os.path.join(self.dir, "zebra.conf"), "w") as f:
            f.write(f"hostname {role}\n")
        with open(os.path.join(self.dir, "bgpd.conf"), "w") as f:
            f.write(bgpd_conf)
        for name in ("zebra.conf", "bgpd.conf"):
            os.chmod(os.path.join(self.dir, name), 0o644)
        zserv = os.path.join(self.dir, "zserv.api")
        for daemon in ("zebra", "bgpd"):
            args = [f"/usr/lib/frr/{daemon}", "-f", os.path.join(self.dir, f"{daemon}.conf"),
                    "-i", os.path.join(self.dir, f"{daemon}.pid"), "-z", zserv,
                    "--vty_socket", self.dir, "-P", "0",
                    "--log", f"file:{os.path.join(self.dir, daemon + '.log')}"]
            topo.popen(role, *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if daemon == "zebra":
                deadline = time.monotonic() + 10
                while not os.path.exists(zserv) and time.monotonic() < deadline:
                    time.sleep(0.05)

    def vtysh_command(self):
        return f"vtysh --vty_socket {self.dir}"

    def vtysh(self, *commands):
        args = ["vtysh", "--vty_socket", self.dir]
        for c in commands:
            args += ["-c", c]
        return self.topo.sh(self.role, *args).stdout


def router_bgpd():
    neighbors = "".join(f" neighbor {ip} remote-as {BOX_AS}\n neighbor {ip} timers connect 1\n"
                        for ip in BOX.values())
    return (f"router bgp {ROUTER_AS}\n bgp router-id {ROUTER_LAN}\n no bgp ebgp-requires-policy\n"
            f" timers bgp 1 3\n{neighbors} address-family ipv4 unicast\n  maximum-paths 2\n"
            " exit-address-family\n")


def box_bgpd(role):
    # No `network` line: tools/route-watch adds it while `synwardenctl health` passes.
    return (f"router bgp {BOX_AS}\n bgp router-id {BOX[role]}\n no bgp ebgp-requires-policy\n"
            " no bgp network import-check\n timers bgp 1 3\n"
            f" neighbor {ROUTER_LAN} remote-as {ROUTER_AS}\n neighbor {ROUTER_LAN} timers connect 1\n")


def start_route_watch(topo, role, frr, synwardenctl, prefix, interval=0.5):
    """tools/route-watch in the box's namespace; its log is <workdir>/route-watch-<role>.log."""
    log = open(os.path.join(topo.workdir, f"route-watch-{role}.log"), "w")
    return topo.popen(role, "sh", ROUTE_WATCH, "--asn", str(BOX_AS), "--prefix", prefix,
                      "--interval", str(interval), "--vtysh", frr.vtysh_command(),
                      "--ctl", synwardenctl, stdout=log, stderr=subprocess.STDOUT)

