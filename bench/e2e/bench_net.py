"""The benchmark's additions to the integration topology (tests/integration/sw_topology.py).

Where the work happens on veth, and how this file makes it measurable:
- A frame sent into a veth is processed by the receiving side either in the sender's own context
  (netif_rx backlog, run as a softirq on the sender's CPU) or, when the receiver has NAPI (an XDP
  program or GRO on it), by that receiver's NAPI poll, which is scheduled on the sender's CPU too.
  Left alone, the firewall's XDP program and its kernel TCP/netfilter path would run on
  whichever core the generator happens to use, and per-core CPU numbers would mean nothing.
- So the answering side is given its own execution context: GRO on the firewall's e0 (so veth
  keeps NAPI with or without XDP) and threaded NAPI (`/sys/class/net/e0/threaded`): one kernel
  thread per RX queue runs the XDP program, AF_XDP redirects, GRO and the whole kernel receive
  path (TCP cookies, netfilter SYNPROXY) of that queue. Those threads, and the daemon's threads,
  are pinned to the firewall's core(s): that is "the firewall pinned to one core".
- The bridge-side peer of the firewall (pfi) gets threaded NAPI too, pinned to the generator's
  core, with the SYN-ACK sink (bpf/synack_sink.bpf.c) as its XDP program: what the firewall sends
  is counted there and the flood's answers dropped, so neither the bridge nor the attacker's
  stack spends the generator's core on them, and the firewall's own TX ends where a NIC's would.
- Scheduling. This machine is shared with other builds, and a thread of the normal class is
  often not scheduled within the ~0.1-1 ms that a 256-frame veth ring lasts under a flood, so
  frames would be lost to the scheduler rather than to the firewall, and a generator that only
  runs in time slices lets the firewall's ring run dry between them. So every thread of the
  benchmark runs SCHED_FIFO, which the other builds' normal-class tasks cannot delay (the
  kernel's RT throttling still leaves them 5 % of each core). From the top:
    RT_WIRE   pfi's NAPI threads (the wire back to the attacker: count and drop)
    RT_WORKER a daemon's worker threads ("sw-q*"): they only ever have work their NAPI thread
              handed them, so under overload frames are dropped at the ring's entrance (as a
              NIC drops when its ring is full) instead of the NAPI thread starving the worker
    RT_NAPI   the firewall's NAPI threads (where a real NIC's softirq would run)
    RT_WORLD  this script and what it starts: clients, echo server, agent (mostly asleep)
    RT_GEN    the generator: always runnable, it gets whatever the rest leaves of its core
- Firewall CPU = the CPU time (/proc/<tid>/schedstat, ns, exact) of exactly those threads: the
  NAPI threads of the firewall's e0 plus every thread of the daemon. That is immune to the other
  builds sharing this machine. /proc/stat per core is recorded beside it as a cross-check (it
  includes whatever else ran on that core).
"""
import json
import os
import time

from bpf_maps import PerCpuCounters
from sw_topology import IPV4, MACS, run

# SCHED_FIFO priorities, see the module comment.
RT_GEN = 40
RT_WORLD = 45
RT_NAPI = 50
RT_WORKER = 51
RT_WIRE = 52


# -- threads and CPU time -----------------------------------------------------------------------
def thread_cpu_ns(tid):
    """Nanoseconds the thread has run on a CPU (first field of schedstat); 0 once it is gone."""
    try:
        with open(f"/proc/{tid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def process_tids(pid):
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def kthreads(prefix):
    """Pids of kernel threads whose name starts with prefix, e.g. "napi/e0-"."""
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and comm(p).startswith(prefix))


def pin(tid, cpus, rt):
    """Affinity (None: keep) and SCHED_FIFO priority."""
    if cpus is not None:
        os.sched_setaffinity(tid, set(cpus))
    os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(rt))


def per_cpu_jiffies():
    """{cpu: (busy, total)} from /proc/stat (busy = total less idle and iowait)."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            values = [int(v) for v in fields[:8]]
            total = sum(values)
            out[int(name[3:])] = (total - values[3] - values[4], total)
    return out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


# -- the bench's topology additions ---------------------------------------------------------------
class BenchNet:
    """Wraps a built Topology: gives the firewall's e0 threaded NAPI on its own core(s), meters
    what the firewall sends at pfi, and snapshots counters and CPU time."""

    def __init__(self, topo, fw_cpus, world_cpu, sink_obj):
        self.topo = topo
        self.fw_cpus = list(fw_cpus)
        self.world_cpu = world_cpu
        self.sink_obj = sink_obj
        self.napi_threads = []     # firewall e0's NAPI threads, one per RX queue
        self.peer_threads = []     # pfi's NAPI threads (the firewall's TX lands there)
        self.extra_pids = []       # processes counted as firewall CPU (the daemon)
        self._sink_maps = None
        self._sink = None          # PerCpuCounters of the sink's sink_counters
        self._generator = None     # PerCpuCounters of xdpflood's frames-sent counter

    def prepare(self):
        topo = self.topo
        # The meter replaces the topology's XDP_PASS program on pfi (same role, plus counting).
        topo.ip("switch", "link", "set", "dev", "pfi", "xdpdrv", "off")
        topo.ip("switch", "link", "set", "dev", "pfi", "xdpdrv", "obj", self.sink_obj, "sec", "xdp")
        self._sink_maps = self._find_sink_maps()
        self._sink = PerCpuCounters(self._sink_maps["sink_counters"])
        mac = [int(b, 16) for b in MACS["attacker"].split(":")] + [1, 0]
        run(["bpftool", "map", "update", "id", str(self._sink_maps["sink_mac"]), "key", "0", "0",
             "0", "0", "value", *[str(b) for b in mac]])
        # Static neighbours everywhere the answers go, so no ARP competes with the flood.
        for role in ("firewall", "host"):
            for peer in ("client", "attacker", "host"):
                if peer != role:
                    topo.ip(role, "neigh", "replace", IPV4[peer], "lladdr", MACS[peer], "dev",
                            "e0", "nud", "permanent")
        # Threaded NAPI on both ends of the firewall's port.
        topo.sh("firewall", "ethtool", "-K", "e0", "gro", "on")
        topo.sh("switch", "ethtool", "-K", "pfi", "tso", "off", "gso", "off")
        before_fw, before_peer = set(kthreads("napi/e0-")), set(kthreads("napi/pfi-"))
        topo.sh("firewall", "sh", "-c", "echo 1 > /sys/class/net/e0/threaded")
        topo.sh("switch", "sh", "-c", "echo 1 > /sys/class/net/pfi/threaded")
        self.napi_threads = self._new_threads("napi/e0-", before_fw, topo.firewall_queues)
        self.peer_threads = self._new_threads("napi/pfi-", before_peer, topo.firewall_queues)
        for i, tid in enumerate(self.napi_threads):
            pin(tid, [self.fw_cpus[i % len(self.fw_cpus)]], rt=RT_NAPI)
        for tid in self.peer_threads:
            pin(tid, [self.world_cpu], rt=RT_WIRE)

    @staticmethod
    def _new_threads(prefix, before, expected):
        deadline = time.monotonic() + 5
        while True:
            # Sorted by NAPI id, which follows RX queue order: thread i serves queue i.
            new = sorted((t for t in kthreads(prefix) if t not in before),
                         key=lambda t: int(comm(t).rsplit("-", 1)[1]))
            if len(new) == expected or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if len(new) != expected:
            raise RuntimeError(f"expected {expected} new '{prefix}*' NAPI threads, found {new}: "
                               "does this kernel support threaded NAPI on veth?")
        return new

    def _find_sink_maps(self):
        link = json.loads(self.topo.ip("switch", "-j", "-d", "link", "show", "pfi").stdout)[0]
        prog_id = link["xdp"]["prog"]["id"]
        prog = json.loads(run(["bpftool", "-j", "prog", "show", "id", str(prog_id)]).stdout)
        maps = {}
        for map_id in prog.get("map_ids", []):
            info = json.loads(run(["bpftool", "-j", "map", "show", "id", str(map_id)]).stdout)
            maps[info["name"]] = map_id
        if "sink_counters" not in maps or "sink_mac" not in maps:
            raise RuntimeError(f"SYN-ACK sink maps not found on pfi's program {prog_id}: {maps}")
        return maps

    def add_world_process(self, pid, rt=RT_WORLD, keep_affinity=False):
        """A process of the outside world (clients, agent; the generator with rt=RT_GEN and
        its self-pinned threads kept where they are)."""
        for tid in process_tids(pid):
            pin(tid, None if keep_affinity else [self.world_cpu], rt)

    def add_firewall_process(self, pid):
        """Counts the process's threads as firewall CPU and keeps them on the firewall cores:
        workers ("sw-q*", pinned by the daemon itself) at RT_WORKER, the rest (control, API:
        mostly asleep) at RT_WORLD."""
        self.extra_pids.append(pid)
        for tid in process_tids(pid):
            cpus = os.sched_getaffinity(tid)
            if not cpus <= set(self.fw_cpus):
                cpus = self.fw_cpus
            pin(tid, cpus, RT_WORKER if comm(tid).startswith("sw-q") else RT_WORLD)

    # -- snapshots ------------------------------------------------------------------------------
    def watch_generator(self, counter_map_id):
        """Counts what the generator (xdpflood) sent, live, from its per-CPU counter map."""
        self._generator = PerCpuCounters(counter_map_id)

    def sink_counts(self):
        return {"synack_dropped": self._sink.read(0), "synack_passed": self._sink.read(1),
                "other": self._sink.read(2)}

    def ethtool_stats(self, role, dev):
        """veth's own counters, per-queue ones summed (rx_queue_0_xdp_tx -> xdp_tx)."""
        out = {}
        for line in self.topo.sh(role, "ethtool", "-S", dev).stdout.splitlines()[1:]:
            name, _, value = line.strip().partition(": ")
            if name.startswith(("rx_queue_", "tx_queue_")):
                name = name.split("_", 3)[0] + "_" + name.split("_", 3)[3]
            out[name] = out.get(name, 0) + int(value)
        return out

    def snapshot(self):
        """Every counter a rate is made of, read within microseconds of one timestamp (no
        tools forked: /proc and bpf(2) only); then veth's own counters for diagnosis."""
        snap = {
            "t": time.monotonic(),
            "napi_ns": {tid: thread_cpu_ns(tid) for tid in self.napi_threads},
            "proc_ns": {pid: sum(thread_cpu_ns(t) for t in process_tids(pid))
                        for pid in self.extra_pids},
            "sink": self.sink_counts(),
            "offered": self._generator.read(0) if self._generator else 0,
            "cpu": per_cpu_jiffies(),
        }
        snap["veth"] = {"fw": self.ethtool_stats("firewall", "e0"),
                        "pfi": self.ethtool_stats("switch", "pfi")}
        return snap


def delta(a, b):
    """What happened between snapshots a and b, as rates and core counts."""
    secs = b["t"] - a["t"]
    napi = sum(b["napi_ns"][t] - a["napi_ns"][t] for t in a["napi_ns"]) / 1e9 / secs
    procs = sum(b["proc_ns"][p] - a["proc_ns"][p] for p in a["proc_ns"]) / 1e9 / secs
    cores = {cpu: round((busy - a["cpu"][cpu][0]) / max(1, total - a["cpu"][cpu][1]), 3)
             for cpu, (busy, total) in b["cpu"].items()}
    veth = {side: {k: v - a["veth"][side].get(k, 0) for k, v in b["veth"][side].items()
                   if k != "peer_ifindex" and v != a["veth"][side].get(k, 0)}
            for side in b["veth"]}
    return {
        "seconds": secs,
        "offered_pps": (b["offered"] - a["offered"]) / secs,
        "synack_pps": (b["sink"]["synack_dropped"] - a["sink"]["synack_dropped"]) / secs,
        # Generator frames e0's full RX ring refused: the firewall did not keep up.
        "ring_full_pps": veth["pfi"].get("tx_xdp_xmit_errors", 0) / secs,
        "legit_synacks": b["sink"]["synack_passed"] - a["sink"]["synack_passed"],
        "fw_cores": napi + procs,
        "fw_cores_napi": napi,
        "fw_cores_proc": procs,
        "core_busy": cores,
        "veth": veth,
    }
