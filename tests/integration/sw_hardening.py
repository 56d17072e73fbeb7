"""Shared pieces of the hardening tests (test_hardening_*.py): the end-to-end scenario
of sw_e2e.py with the fail policy and poll timing the test chooses, a raw-frame sender in the
attacker namespace, a host-side tripwire that counts frames carrying a marker address, quick
legitimate probes, the daemon's /metrics, the agent's rejection log lines, the secret
channel's wire format (for forging datagrams) and the secret material a run must never log.

Standard library plus Debian's python3-scapy (test frames are built with it) and libsodium
through ctypes (the channel's XChaCha20-Poly1305; libsodium is a dependency of the product).
"""
import argparse
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import secrets as pyrandom
import signal
import struct
import subprocess
import time

import sw_control as C
import sw_daemon as D
from sw_e2e import AGENT_PORT, API_PORT, PORTS, Scenario, wait_for
from sw_harness import PYTHON
from sw_servers import BANNER, BANNER_PORT, pong
from sw_topology import IPV4, IPV6, MACS, run


def argument_parser():
    """The options every hardening test takes (tests/integration/CMakeLists.txt); a test adds
    its own and calls parse_args()."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--synwarden", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--synflood", required=True)
    ap.add_argument("--bpf-dir", required=True)
    ap.add_argument("--synwardenctl", help="the CLI (tests that check `synwardenctl health`)")
    ap.add_argument("--datapath", choices=("afxdp", "xdp"), default="afxdp",
                    help="the daemon's cookie datapath (config \"datapath\")")
    return ap


def stop_and_collect_logs(scenario, show=True):
    """Kills what is left of the scenario's daemon; returns (daemon log, agent log), printed
    unless show is False. Called in the tests' `finally`, so a failure still shows both."""
    daemon_log = ""
    if scenario.daemon:
        scenario.daemon.kill()
        daemon_log = scenario.daemon.log()
        if show:
            print("daemon log:\n" + daemon_log)
    agent_log = scenario.agent_log()
    if show:
        print("agent log:\n" + agent_log)
    return daemon_log, agent_log


class HardeningScenario(Scenario):
    """sw_e2e.Scenario (agent in bpf mode, real services, daemon polling the agent) with the
    host's fail policy, poll interval and hold time chosen by the test."""

    def __init__(self, topo, synwarden, agent, synflood, fail="closed", poll_ms=1000,
                 hold_ms=30000, datapath="afxdp"):
        super().__init__(topo, synwarden, agent, synflood, datapath=datapath)
        self.fail, self.poll_ms, self.hold_ms = fail, poll_ms, hold_ms
        self.agent_runs = 0

    def start(self, queues_note=""):
        topo = self.topo
        # (sw_topology turns the bridge's br_netfilter off: malformed frames reach the firewall.)
        # A spoofing attacker never answers the SYN-ACKs sent to its MAC for addresses it does
        # not own; its kernel would (ICMP unreachable to the protected host, through the
        # firewall), which is not attack traffic.
        rules = ("add table inet swhard\n"
                 "add chain inet swhard out { type filter hook output priority 0; }\n"
                 "add rule inet swhard out icmp type destination-unreachable drop\n"
                 "add rule inet swhard out icmpv6 type destination-unreachable drop\n")
        subprocess.run(topo.cmd("attacker", "nft", "-f", "-"), input=rules, text=True,
                       check=True)
        super().start(queues_note)

    def _start_daemon(self):
        def host(address):
            return {"address": address, "mac": MACS["host"], "ports": PORTS,
                    "agent": {"address": f"{IPV4['host']}:{AGENT_PORT}",
                              "key_file": self.firewall_key, "poll_interval_ms": self.poll_ms,
                              "hold_ms": self.hold_ms, "fail": self.fail}}
        config = {
            "interface": "e0",
            "bpffs_pin_dir": os.path.join(self.topo.bpffs, "synwarden"),
            "keep_dataplane_on_exit": False,
            "api": {"port": API_PORT, "persist_changes": False},
            "datapath": self.datapath,
            "protected_hosts": [host(IPV4["host"]), host(IPV6["host"])],
        }
        self.daemon = D.Daemon(self.topo, self.synwarden, config)
        self.daemon.start(timeout=20)

    def _start_agent(self):
        if self.agent_runs == 0:
            super()._start_agent()
        else:
            # A later run appends to the same log, so the whole run's log can be checked.
            self._agent_log = open(self.agent_log_path, "a")
            offset = len(self.agent_log())
            self.agent = self.topo.popen("host", self.agent_bin, "run", "--config",
                                         self.agent_config, stdout=self._agent_log,
                                         stderr=subprocess.STDOUT)
            wait_for(lambda: "serving secrets" in self.agent_log()[offset:]
                     or self.agent.poll() is not None, 15, "synwarden-agent to serve again")
            if self.agent.poll() is not None:
                raise RuntimeError(f"synwarden-agent exited:\n{self.agent_log()}")
        self.agent_runs += 1

    def agent_pin_dir(self):
        with open(self.agent_config) as f:
            return json.load(f)["pin_dir"]

    def kill_agent(self):
        """SIGKILL: no clean-up runs (the tc program and the pinned key state stay)."""
        self.agent.kill()
        self.agent.wait()

    def restart_agent(self, new_keys):
        """Starts the agent again; new_keys simulates a host reboot: the pinned key state is
        gone (bpffs does not survive a reboot), so the agent generates new keys."""
        if new_keys:
            os.unlink(os.path.join(self.agent_pin_dir(), "sw_agent_state_v1"))
        self._start_agent()

    def metrics(self):
        status, text = C.http(self.topo, "GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"GET /metrics answered {status}: {text[:300]}")
        return text


# -- raw frames from the attacker ----------------------------------------------------------------
_SENDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
print("ready", flush=True)
for line in sys.stdin:
    frame_hex, count = line.split()
    frame = bytes.fromhex(frame_hex)
    for _ in range(int(count)):
        s.send(frame)
    print("sent", flush=True)
"""


class FrameSender:
    """One AF_PACKET socket in a namespace, sending the exact bytes it is given (no qdisc
    rewriting: checksum and VLAN offloads are off on the topology's veths)."""

    def __init__(self, topo, role="attacker", interface="e0"):
        self.proc = topo.popen(role, PYTHON, "-c", _SENDER, interface, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the raw frame sender in {role} did not start")

    def send(self, frame, count=1):
        self.proc.stdin.write(f"{bytes(frame).hex()} {count}\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "sent":
            raise RuntimeError("the raw frame sender failed")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


_TRIPWIRE = r"""
import select, signal, socket, sys
markers = [bytes.fromhex(m) for m in sys.argv[3].split(",")]
host_mac = bytes.fromhex(sys.argv[2].replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[1], 0))
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
print("ready", flush=True)
hits, samples = 0, []
while not stop:
    try:
        ready, _, _ = select.select([s], [], [], 0.1)
    except InterruptedError:
        continue
    while ready:
        try:
            frame, addr = s.recvfrom(65535, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
        if addr[2] == 4 or frame[:6] != host_mac:  # outgoing, or not addressed to the host
            continue
        if any(m in frame for m in markers):
            hits += 1
            if len(samples) < 5:
                samples.append(frame[:80].hex())
print(hits, " ".join(samples), flush=True)
"""


class Tripwire:
    """Counts frames delivered to the host's MAC on its e0 that carry one of the marker byte
    strings (the source addresses the malformed frames use): what the host's NIC would hand its
    stack, checked below every layer of the host's own parsing."""

    def __init__(self, topo, markers):
        self.proc = topo.popen("host", PYTHON, "-c", _TRIPWIRE, "e0", MACS["host"],
                               ",".join(m.hex() for m in markers), stdout=subprocess.PIPE,
                               text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the host tripwire did not start")

    def stop(self):
        """(hits, [hex of the first frames])."""
        self.proc.send_signal(signal.SIGTERM)
        out = self.proc.communicate(timeout=10)[0].split()
        return int(out[0]), out[1:]


# -- legitimate probes ---------------------------------------------------------------------------
_PROBE = r"""
import json, socket, sys, time
dst, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
t0 = time.monotonic()
try:
    s = socket.create_connection((dst, port), timeout=timeout)
    s.settimeout(timeout)
    f = s.makefile("rb")
    banner = f.readline().decode()
    s.sendall(b"PING probe\r\n")
    reply = f.readline().decode()
    s.close()
    print(json.dumps({"ok": True, "banner": banner, "reply": reply,
                      "seconds": time.monotonic() - t0}))
except OSError as e:
    print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}",
                      "seconds": time.monotonic() - t0}))
"""


_PROBER = r"""
import json, socket, sys, time
dst, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print("ready", flush=True)
t0, attempts, last = time.monotonic(), 0, ""
while time.monotonic() - t0 < limit:
    attempts += 1
    start = time.monotonic()
    try:
        s = socket.create_connection((dst, port), timeout=1.0)
        s.settimeout(3.0)
        f = s.makefile("rb")
        banner = f.readline().decode()
        s.sendall(b"PING probe\r\n")
        reply = f.readline().decode()
        s.close()
        print(json.dumps({"ok": True, "connect_started": start, "attempts": attempts,
                          "banner": banner, "reply": reply}), flush=True)
        sys.exit(0)
    except OSError as e:
        last = f"{type(e).__name__}: {e}"
    time.sleep(0.1)
print(json.dumps({"ok": False, "attempts": attempts, "error": last}), flush=True)
"""


class RecoveryProber:
    """Tries a banner exchange from the client every ~0.1 s (connect timeout 1 s: a dropped SYN
    is not retried within it) until one completes, from one long-lived process so that the time
    it reports does not include process start-up on a loaded machine. `result()` gives the
    CLOCK_MONOTONIC time at which the successful attempt started."""

    def __init__(self, topo, dst, limit_s):
        self.proc = topo.popen("client", PYTHON, "-c", _PROBER, dst, str(BANNER_PORT),
                               str(limit_s), stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the recovery prober did not start")

    def result(self, timeout):
        out = json.loads(self.proc.communicate(timeout=timeout)[0])
        if out["ok"]:
            out["ok"] = out["banner"] == BANNER and out["reply"] == pong("probe")
        return out


def banner_probe(topo, dst, timeout=1.0):
    """One banner exchange from the client with a short timeout (no SYN retransmission within
    1 s): {"ok", "error"?, "seconds"}; ok only if the exact banner and PONG came back."""
    out = topo.sh("client", PYTHON, "-c", _PROBE, dst, str(BANNER_PORT), str(timeout),
                  timeout=30).stdout
    result = json.loads(out)
    if result["ok"]:
        result["ok"] = result["banner"] == BANNER and result["reply"] == pong("probe")
    return result


# -- observations --------------------------------------------------------------------------------
def agent_rejections(log):
    """{reason: datagrams} from the agent's "channel: rejected N datagram(s) as REASON" lines."""
    counts = {}
    for n, reason in re.findall(r"channel: rejected (\d+) datagram\(s\) as (\w+)", log):
        counts[reason] = counts.get(reason, 0) + int(n)
    return counts


# The XDP program's reason (bpf/synwarden_shared.h) for each worker decision it also takes in the
# "xdp" datapath. The AF_XDP datapath never counts these reasons, so adding them to the worker
# counter they mirror gives one name per outcome whichever datapath ran.
XDP_TWINS = {
    "xdp_synack": ("synack_built", "syn_received"),
    "drop_cookie_syn_rate": ("syn_rate_limited", "syn_received"),
    "drop_syn_checksum": ("dropped_bad_checksum", "syn_received"),
    "xdp_ack_valid": ("ack_valid", "ack_received"),
    "xdp_ack_valid_previous": ("ack_valid", "ack_received"),
    "drop_cookie_bad": ("ack_bad_cookie", "ack_received"),
    "drop_cookie_expired": ("ack_cookie_expired", "ack_received"),
    "drop_cookie_option": ("ack_option_disabled", "ack_received"),
    "drop_bad_tcp_option": ("dropped_unparsable",),
    "drop_no_keys": ("dropped_fail_closed",),
    "fwd_no_keys": ("forwarded_fail_open",),
    "fwd_unprotected_port": ("forwarded_unprotected_port",),
    "xdp_ack_recovered": ("flow_recovered_timestamp", "ack_received"),
}


def counter_deltas(after, before):
    """Worker counters and XDP reasons of two daemon stats reports, as one delta dict; the worker
    counters include their XDP twins (XDP_TWINS), so a test reads the same names whichever
    datapath ran."""
    out = {}
    for name in after["workers"][0]["counters"]:
        out[name] = D.worker_total(after, name) - D.worker_total(before, name)
    for reason, value in D.xdp_packets(after).items():
        out[reason] = value - D.xdp(before, reason)
    for reason, twins in XDP_TWINS.items():
        for name in twins:
            out[name] = out.get(name, 0) + out.get(reason, 0)
    return out


# -- the secret channel's wire format (userspace/core/include/synwarden/channel.h) ---------------
MAGIC, VERSION, REQUEST, REPLY = b"SWSC", 1, 1, 2
NONCE, TAG = 24, 16
KEY_ID_CONTEXT = b"synwarden secret channel key id v1"

_sodium = None


def _libsodium():
    global _sodium
    if _sodium is None:
        _sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
        if _sodium.sodium_init() < 0:
            raise RuntimeError("sodium_init failed")
    return _sodium


def key_id(key):
    """crypto_generichash(8 bytes, context, key): keyed BLAKE2b, as ChannelKey::derive_id()."""
    return hashlib.blake2b(KEY_ID_CONTEXT, digest_size=8, key=key).digest()


def header(key, kind, body_len, version=VERSION, reserved=0):
    return MAGIC + bytes([version, kind]) + struct.pack("!H", reserved) + key_id(key) + \
        struct.pack("!I", body_len)


def seal(key, head, plain, nonce=None):
    """head | nonce | XChaCha20-Poly1305(plain, ad=head)."""
    nonce = nonce or pyrandom.token_bytes(NONCE)
    out = ctypes.create_string_buffer(len(plain) + TAG)
    out_len = ctypes.c_ulonglong(0)
    rc = _libsodium().crypto_aead_xchacha20poly1305_ietf_encrypt(
        out, ctypes.byref(out_len), plain, ctypes.c_ulonglong(len(plain)), head,
        ctypes.c_ulonglong(len(head)), None, nonce, key)
    if rc != 0:
        raise RuntimeError("crypto_aead_xchacha20poly1305_ietf_encrypt failed")
    return head + nonce + out.raw[:out_len.value]


def open_sealed(key, datagram):
    """The plaintext of a datagram sealed with `key`, or None."""
    head, nonce, body = datagram[:20], datagram[20:20 + NONCE], datagram[20 + NONCE:]
    out = ctypes.create_string_buffer(max(1, len(body)))
    out_len = ctypes.c_ulonglong(0)
    rc = _libsodium().crypto_aead_xchacha20poly1305_ietf_decrypt(
        out, ctypes.byref(out_len), None, body, ctypes.c_ulonglong(len(body)), head,
        ctypes.c_ulonglong(len(head)), nonce, key)
    return out.raw[:out_len.value] if rc == 0 else None


def request(key, sent_unix_ms=None, **head):
    plain = struct.pack("!Q", int(time.time() * 1000) if sent_unix_ms is None else sent_unix_ms)
    return seal(key, header(key, REQUEST, NONCE + len(plain) + TAG, **head), plain)


def reply(key, echoed_nonce, payload=b"{}"):
    plain = echoed_nonce + payload
    return seal(key, header(key, REPLY, NONCE + len(plain) + TAG), plain)


# -- secret material that must never be logged ---------------------------------------------------
def agent_key_state(pin_dir):
    """The 16-byte SipHash keys of every generation in the agent's pinned state map
    (struct sw_agent_state, bpf/host/host_shared.h: two keysets of 5 keys, then the
    generation), read with bpftool."""
    out = run(["bpftool", "-j", "map", "dump", "pinned",
               os.path.join(pin_dir, "sw_agent_state_v1")]).stdout
    raw = bytes(int(b, 16) for b in json.loads(out)[0]["value"])
    keys = []
    for keyset in (raw[0:104], raw[104:208]):
        generation = struct.unpack_from("<Q", keyset, 80)[0]
        if generation:
            keys += [keyset[i * 16:(i + 1) * 16] for i in range(5)]
    return keys


def secret_patterns(keys):
    """Every way a key could be printed: hex (both cases) of the whole key and of each 8-byte
    half in memory and in numeric order, the halves in decimal, base64 of the whole key."""
    patterns = set()
    for key in keys:
        patterns |= {key.hex(), key.hex().upper(), base64.b64encode(key).decode()}
        for i in range(0, len(key), 8):
            half = key[i:i + 8]
            patterns |= {half.hex(), half[::-1].hex(), half.hex().upper(),
                         half[::-1].hex().upper()}
            number = int.from_bytes(half, "little")
            if number >= 10 ** 12:  # a short decimal could occur by chance
                patterns.add(str(number))
    return patterns


def leaked(texts, keys):
    """[(source, pattern)] of any secret pattern found in any of the named texts."""
    found = []
    for pattern in secret_patterns(keys):
        for source, text in texts.items():
            if pattern in text:
                found.append((source, pattern[:8] + "..."))
    return found
