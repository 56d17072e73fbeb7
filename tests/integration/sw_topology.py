"""Network-namespace topology for synwarden's integration tests.

One L2 segment (a bridge in its own "switch" namespace) with four nodes, each a namespace with one
veth port "e0" into the bridge:

    client    192.0.2.1    2001:db8::1     real Linux TCP client
    attacker  192.0.2.2    2001:db8::2     flood generator (spoofed sources)
    firewall  (no address)                 synwarden + XDP on e0 (firewall_queues RX queues)
    host      192.0.2.10   2001:db8::10    the protected host, its own kernel

Why a bridge: it is the deployment docs/deployment.md describes. The firewall has one NIC on the same
segment as the protected host; it answers SYNs out of that NIC and forwards valid ACKs to the
host's MAC out of the same NIC. The client's and attacker's neighbour entries for the protected
addresses point at the firewall's MAC, which is how operators divert traffic (static ARP/ND on the
router). The host answers clients directly (asymmetric), as it would behind a router.

Kernel quirks handled here (docs/try-on-veth.md explains them for users):
- XDP_TX out of the firewall's veth lands in the XDP ring of its bridge-side peer, and veth only
  schedules that peer's NAPI when the peer has an XDP program (veth_xdp_flush()); GRO alone
  gives it NAPI but leaves such frames waiting for unrelated traffic. An XDP_PASS program
  (xdp_pass.bpf.c) is attached there.
- veth offloads would hand XDP half-finished frames: TX checksum offload is off on every port so
  frames carry real checksums, and TX VLAN offload is off so 802.1Q tags sit in the frame data
  (where XDP and AF_XDP see them) instead of in skb metadata.
- VLAN runs: this kernel has neither VLAN devices (CONFIG_VLAN_8021Q) nor bridge VLAN filtering,
  so a tc program (vlan_tag.bpf.c) on the client's and the host's e0 acts as a switch access
  port: it tags their frames with the VLAN id on egress and strips it on ingress. The segment
  between them and the firewall carries 802.1Q-tagged frames; the attacker sends tagged frames
  itself (synflood --vlan).
- One flow, two CPUs (host_rps=True): a real NIC's RSS hashes every segment of a 4-tuple to one
  RX queue, so the host's kernel handles a flow's segments one after the other. A veth has no
  RSS: the host takes each frame on whichever CPU forwarded it through the bridge, which is the
  CPU its sender (client or firewall) ran on. A client's final ACK (sent from softirq) and its
  first data segment (sent by the application, ~10 us later) can then be checked as SYN
  cookies on two CPUs at once; the kernel creates the socket once and drops the loser
  (tcp_v4_syn_recv_sock(): found_dup_sk), which costs the client a 200 ms retransmission when
  the loser is the data. RPS on the host's e0 hashes flows to CPUs as RSS would.
Every name carries a per-run tag; everything is removed on exit, also after failures.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

ROLES = ("client", "attacker", "firewall", "host")
MACS = {
    "client": "02:53:57:00:00:01",
    "attacker": "02:53:57:00:00:02",
    "firewall": "02:53:57:00:00:03",
    "host": "02:53:57:00:00:10",
}
IPV4 = {"client": "192.0.2.1", "attacker": "192.0.2.2", "host": "192.0.2.10"}
IPV6 = {"client": "2001:db8::1", "attacker": "2001:db8::2", "host": "2001:db8::10"}


def run(cmd, check=True, capture=True, timeout=60):
    """Runs a command; raises with its output if it fails and check is set."""
    result = subprocess.run(cmd, capture_output=capture, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"command failed ({result.returncode}): {' '.join(cmd)}\n"
                           f"stdout: {result.stdout}\nstderr: {result.stderr}")
    return result


class Topology:
    """Context manager: builds the namespaces on enter, removes them on exit."""

    def __init__(self, bpf_dir, vlan=None, firewall_queues=1, host_rps=False):
        """bpf_dir: where the build put xdp_pass.bpf.o and the VLAN taggers vlan_push.bpf.o /
        vlan_pop.bpf.o (built for the VLAN id the tests use); vlan: the VLAN id of the client and
        host segment, or None for untagged; host_rps: the host steers each flow to one CPU, as a
        real NIC's RSS does (see the module comment)."""
        tag = f"{os.getpid() % 100000:05d}"
        self.tag = tag
        self.vlan = vlan
        self.bpf_dir = bpf_dir
        self.firewall_queues = firewall_queues  # RX queues of the firewall's e0 (one worker each)
        self.host_rps = host_rps
        for obj in ("xdp_pass.bpf.o", "vlan_push.bpf.o", "vlan_pop.bpf.o"):
            if not os.path.exists(os.path.join(bpf_dir, obj)):
                raise FileNotFoundError(f"{obj} not found in {bpf_dir}: build the tests first")
        self.ns = {role: f"swit{tag}{role[:2]}" for role in ROLES}
        self.ns["switch"] = f"swit{tag}sw"
        self.workdir = tempfile.mkdtemp(prefix=f"swit{tag}-")
        self.bpffs = os.path.join(self.workdir, "bpffs")
        self._built = False
        self._procs = []
        atexit.register(self.teardown)
        # ctest's timeout sends SIGTERM: turn it into an exit so teardown still runs.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    # -- commands inside a namespace ----------------------------------------------------------
    def cmd(self, role, *args):
        return ["ip", "netns", "exec", self.ns[role], *args]

    def sh(self, role, *args, check=True, timeout=60):
        return run(self.cmd(role, *args), check=check, timeout=timeout)

    def popen(self, role, *args, **kwargs):
        """A background process in the namespace; killed at teardown if still running."""
        proc = subprocess.Popen(self.cmd(role, *args), **kwargs)
        self._procs.append(proc)
        return proc

    def ip(self, role, *args, check=True):
        return run(["ip", "-n", self.ns[role], *args], check=check)


    # -- build / teardown ------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.build()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    def build(self):
        self._built = True
        for role in ("switch", *ROLES):
            run(["ip", "netns", "add", self.ns[role]])
            self.ip(role, "link", "set", "lo", "up")
        self.ip("switch", "link", "add", "br0", "type", "bridge")
        self.ip("switch", "link", "set", "br0", "up")
        # A switch forwards frames without judging their IP headers; the kernel bridge's
        # br_netfilter (on by default in every namespace where it is built in) validates IPv4/IPv6
        # headers first and would silently drop malformed frames before the firewall saw them.
        # Without br_netfilter (a module not loaded) the keys do not exist and nothing filters.
        self.sh("switch", "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0",
                "net.bridge.bridge-nf-call-ip6tables=0", "net.bridge.bridge-nf-call-arptables=0",
                check=False)
        for role in ROLES:
            port = f"p{role[:2]}"
            queues = self.firewall_queues if role == "firewall" else 1
            self.ip("switch", "link", "add", port, "numtxqueues", str(queues), "numrxqueues",
                    str(queues), "type", "veth", "peer", "name", "e0", "numtxqueues",
                    str(queues), "numrxqueues", str(queues), "netns", self.ns[role])
            self.ip("switch", "link", "set", port, "master", "br0")
            self.ip(role, "link", "set", "e0", "address", MACS[role])
            self.sh("switch", "ethtool", "-K", port, "tx", "off", "txvlan", "off")
            self.sh(role, "ethtool", "-K", "e0", "tx", "off", "txvlan", "off", "rxvlan", "off")
            # IPv6 addresses usable at once (no duplicate address detection delay).
            self.sh(role, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0")
            self.ip("switch", "link", "set", port, "up")
            self.ip(role, "link", "set", "e0", "up")
        # XDP_TX from the firewall's e0 is received by its peer "pfi": see the module comment.
        self.ip("switch", "link", "set", "dev", "pfi", "xdpdrv", "obj",
                os.path.join(self.bpf_dir, "xdp_pass.bpf.o"), "sec", "xdp")
        if self.host_rps:
            cpus = os.cpu_count() or 1
            mask = f"{(1 << cpus) - 1:x}"
            groups = [mask[max(0, i - 8):i] for i in range(len(mask), 0, -8)][::-1]
            self.sh("host", "sh", "-c",
                    f"echo {','.join(groups)} > /sys/class/net/e0/queues/rx-0/rps_cpus")
        for role in ("client", "attacker", "host"):
            self.ip(role, "addr", "add", f"{IPV4[role]}/24", "dev", "e0")
            self.ip(role, "-6", "addr", "add", f"{IPV6[role]}/64", "dev", "e0", "nodad")
        if self.vlan:
            push = os.path.join(self.bpf_dir, "vlan_push.bpf.o")
            pop = os.path.join(self.bpf_dir, "vlan_pop.bpf.o")
            for role in ("client", "host"):
                self.sh(role, "tc", "qdisc", "add", "dev", "e0", "clsact")
                self.sh(role, "tc", "filter", "add", "dev", "e0", "egress", "bpf", "da", "obj",
                        push, "sec", "tc")
                self.sh(role, "tc", "filter", "add", "dev", "e0", "ingress", "bpf", "da", "obj",
                        pop, "sec", "tc")
        for role in ("client", "attacker"):
            # The operator's diversion: the protected addresses resolve to the firewall.
            self.ip(role, "neigh", "replace", IPV4["host"], "lladdr", MACS["firewall"], "dev",
                    "e0", "nud", "permanent")
            self.ip(role, "-6", "neigh", "replace", IPV6["host"], "lladdr", MACS["firewall"],
                    "dev", "e0", "nud", "permanent")
        os.makedirs(self.bpffs, exist_ok=True)
        # A bpffs of the test's own, in the root mount namespace: pins survive the daemon's
        # `ip netns exec` mount namespace, and nothing outside the test is touched.
        run(["mount", "-t", "bpf", "bpf", self.bpffs])

    def teardown(self):
        if not self._built:
            return
        self._built = False
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for role in (*ROLES, "switch"):
            run(["ip", "netns", "del", self.ns[role]], check=False)
        run(["umount", self.bpffs], check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- facts about the running topology ------------------------------------------------------
    def xdp_attached(self, role="firewall"):
        """The id of the XDP program attached to the node's e0, or None."""
        out = self.ip(role, "-j", "-d", "link", "show", "e0").stdout
        link = json.loads(out)[0]
        xdp = link.get("xdp")
        if not xdp:
            return None
        prog = xdp.get("prog") or {}
        return prog.get("id") or xdp.get("attached", [{}])[0].get("prog", {}).get("id")
