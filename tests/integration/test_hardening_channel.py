#!/usr/bin/env python3
"""Specification: the secret channel refuses everything but the genuine peer, counts it by
reason, never answers it, and keeps serving the genuine daemon.

The whole product runs (agent in bpf mode on the host, the daemon polling it once a second). The
attacker, who knows the wire format (userspace/core/include/synwarden/channel.h) and in some
cases a sealed request it captured, sends the agent's UDP port one datagram of each class:
  truncated (short, and cut inside the body), oversized, bad magic, wrong version, wrong type,
  reserved bits set, padded (length mismatch), sealed with another key (wrong key), tampered in
  transit (auth failed), replayed (a request the agent already answered), stale (sent ten
  minutes ago, and ten minutes in the future);
then forges replies to the daemon's pollers, from the agent's address and port (the pollers'
sockets are connected to it): bad magic, wrong version, a request instead of a reply, truncated,
padded, reserved bits, another key, tampered, oversized (IP-fragmented), and a correctly sealed
reply that echoes the wrong nonce (a captured old reply). Asserted:
  - the agent logs each rejection under its reason (the first per reason at once, with the
    sender's address and no content) and answers none of them: the attacker's socket receives a
    reply only for its one genuine request, which proves the forging code speaks the protocol;
  - the daemon counts every forged reply under its reason (synwarden_agent_replies_total);
  - a burst of 80 genuine requests is cut by the agent's reply rate limit (counted);
  - afterwards the agent still answers the genuine daemon (replies "ok" keep coming, the
    secrets are fresh again) and new connections complete; the agent's total of rejected
    datagrams at SIGTERM equals what was sent; no key appears in either log.
"""
import json
import re
import secrets as pyrandom
import struct
import subprocess
import sys
import time

from scapy.all import IP, UDP, Ether, fragment  # Debian's python3-scapy

import sw_hardening as H
from sw_e2e import AGENT_PORT, FIREWALL_V4
from sw_harness import Checks, PYTHON
from sw_topology import IPV4, IPV6, MACS, Topology

# Sends datagrams from one UDP socket in the attacker namespace and reports the replies.
_CLIENT = r"""
import json, select, socket, sys, time
dst = (sys.argv[1], int(sys.argv[2]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
for line in sys.stdin:
    msg = json.loads(line)
    for d in msg["send"]:
        s.sendto(bytes.fromhex(d), dst)
    replies, deadline = [], time.monotonic() + msg["wait"]
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        if r:
            replies.append(s.recv(65535).hex())
    print(json.dumps(replies), flush=True)
"""


class ChannelClient:
    def __init__(self, topo):
        self.proc = topo.popen("attacker", PYTHON, "-c", _CLIENT, IPV4["host"], str(AGENT_PORT),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, datagrams, wait=0.3):
        self.proc.stdin.write(json.dumps({"send": [d.hex() for d in datagrams],
                                          "wait": wait}) + "\n")
        self.proc.stdin.flush()
        return [bytes.fromhex(r) for r in json.loads(self.proc.stdout.readline())]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def agent_cases(key):
    """(reason, datagram) for the agent; `captured` is a genuine request of the firewall's
    format that the attacker captured (never sent before)."""
    other = pyrandom.token_bytes(32)
    now = int(time.time() * 1000)
    captured = H.request(key)
    body_flip = bytearray(H.request(key))
    body_flip[-3] ^= 0x40
    nonce_flip = bytearray(H.request(key))
    nonce_flip[25] ^= 0x01
    return [
        ("truncated", captured[:12]),
        ("truncated", H.request(key)[:-5]),
        ("oversized", H.header(key, H.REQUEST, 5000) + bytes(5000)),
        ("bad_magic", pyrandom.token_bytes(68)),
        ("wrong_version", H.request(key, version=2)),
        ("wrong_type", H.reply(key, pyrandom.token_bytes(24))),
        ("malformed", H.request(key, reserved=1)),
        ("malformed", H.seal(key, H.header(key, H.REQUEST, 24 + 16 + 16),
                             struct.pack("!QQ", now, 0))),  # a body of the wrong size
        ("length_mismatch", H.request(key) + b"\0\0\0\0"),
        ("wrong_key", H.request(other)),
        ("auth_failed", bytes(body_flip)),
        ("auth_failed", bytes(nonce_flip)),
        ("stale", H.request(key, sent_unix_ms=now - 600_000)),
        ("stale", H.request(key, sent_unix_ms=now + 600_000)),
    ]


def reply_cases(key):
    """(reason, datagram) forged as replies from the agent to a poller."""
    other = pyrandom.token_bytes(32)
    tampered = bytearray(H.reply(key, pyrandom.token_bytes(24)))
    tampered[-1] ^= 0x80
    return [
        ("bad_magic", b"XXXX" + pyrandom.token_bytes(80)),
        ("wrong_version", H.header(key, H.REPLY, 64, version=9) + pyrandom.token_bytes(64)),
        ("wrong_type", H.request(key)),
        ("truncated", H.reply(key, pyrandom.token_bytes(24))[:30]),
        ("length_mismatch", H.reply(key, pyrandom.token_bytes(24)) + b"\0"),
        ("malformed", H.header(key, H.REPLY, 64, reserved=0x100) + pyrandom.token_bytes(64)),
        ("wrong_key", H.reply(other, pyrandom.token_bytes(24))),
        ("auth_failed", bytes(tampered)),
        ("replayed", H.reply(key, pyrandom.token_bytes(24), b'{"forged": true}')),
        ("oversized", H.header(key, H.REPLY, 6000) + bytes(6000)),
    ]


def poller_ports(topo):
    """Local UDP ports of the daemon's sockets connected to the agent."""
    out = topo.sh("firewall", "ss", "-Hunap").stdout
    return sorted({int(m.group(1)) for m in re.finditer(
        rf"{re.escape(FIREWALL_V4)}:(\d+)\s+{re.escape(IPV4['host'])}:{AGENT_PORT}\s.*synwarden",
        out)})


def replies_by_result(metrics):
    counts = {}
    for m in re.finditer(r'^synwarden_agent_replies_total\{host="[^"]+",result="(\w+)"\} (\S+)$',
                         metrics, re.M):
        counts[m.group(1)] = counts.get(m.group(1), 0) + float(m.group(2))
    return counts


def main():
    ap = H.argument_parser()
    args = ap.parse_args()
    checks = Checks()
    print("== hardening: attacks on the secret channel ==")
    with Topology(args.bpf_dir, firewall_queues=1) as topo:
        scenario = H.HardeningScenario(topo, args.synwarden, args.agent, args.synflood)
        try:
            scenario.start()
            with open(scenario.agent_key, "rb") as f:
                key = f.read()
            keys = H.agent_key_state(scenario.agent_pin_dir()) + [key]
            client = ChannelClient(topo)

            # The attacker's genuine request (it has the key here) proves the forging code
            # speaks the protocol: the agent answers it, and only it.
            genuine = H.request(key)
            answered = client.send([genuine], wait=1.0)
            opened = H.open_sealed(key, answered[0]) if len(answered) == 1 else None
            echoes = opened is not None and opened[:24] == genuine[20:44]
            replay = client.send([genuine], wait=0.5)

            cases = agent_cases(key)
            unanswered = client.send([d for _, d in cases], wait=1.0)
            time.sleep(0.5)
            agent_log_attacks = scenario.agent_log()

            # Forged replies to the daemon's pollers, from the agent's address and port.
            ports = poller_ports(topo)
            metrics0 = replies_by_result(scenario.metrics())
            sender = H.FrameSender(topo)
            forged = reply_cases(key)
            for _, datagram in forged:
                # The attacker's own MAC: the bridge must not learn the host's MAC on its port.
                packet = (Ether(dst=MACS["firewall"], src=MACS["attacker"])
                          / IP(src=IPV4["host"], dst=FIREWALL_V4)
                          / UDP(sport=AGENT_PORT, dport=ports[0]) / datagram)
                for frame in fragment(packet, fragsize=1400):
                    sender.send(bytes(frame))
            sender.close()
            time.sleep(1.0)
            metrics1 = replies_by_result(scenario.metrics())

            # A burst of fresh genuine requests: the reply rate limit cuts it.
            burst = client.send([H.request(key) for _ in range(80)], wait=1.5)
            client.close()

            # Afterwards the genuine daemon is served again.
            ok_before = replies_by_result(scenario.metrics()).get("ok", 0)
            time.sleep(3.5)
            ok_after = replies_by_result(scenario.metrics()).get("ok", 0)
            legit = [H.banner_probe(topo, IPV4["host"], 3.0), H.banner_probe(topo, IPV6["host"], 3.0)]
            scenario.stop()
        finally:
            daemon_log, agent_log = H.stop_and_collect_logs(scenario)

    checks.check("the agent answers a genuine request, echoing its nonce inside the sealed reply",
                 echoes, f"{len(answered)} replies")
    checks.check("the same request replayed is not answered", replay == [], f"{len(replay)}")
    logged = H.agent_rejections(agent_log_attacks)
    print("agent rejections logged:", json.dumps(logged))
    checks.check("replayed request: counted as replayed", logged.get("replayed") == 1,
                 json.dumps(logged))
    for reason in sorted({r for r, _ in cases}):
        checks.check(f"agent: {reason} datagram(s) refused and logged under '{reason}'",
                     logged.get(reason, 0) >= 1, json.dumps(logged))
    checks.check(f"agent: none of the {len(cases)} refused datagrams was answered",
                 unanswered == [], f"{len(unanswered)} replies")
    lines = [l for l in agent_log_attacks.splitlines() if "channel: rejected" in l]
    checks.check("agent: rejections are logged with the sender's address and reason only",
                 lines and all(re.search(r"channel: rejected \d+ datagram\(s\) as \w+, latest "
                                         r"from 192\.0\.2\.2:\d+( \(.*\))?$", l) for l in lines),
                 "\n".join(lines[:3]))
    checks.check("agent: at most one log line per reason while they repeat within 10 s",
                 len(lines) == len(set(re.search(r" as (\w+)", l).group(1) for l in lines)),
                 f"{len(lines)} lines")

    print(f"daemon pollers on ports {ports}; replies by result before {json.dumps(metrics0)} "
          f"after {json.dumps(metrics1)}")
    for reason, _ in forged:
        grew = metrics1.get(reason, 0) - metrics0.get(reason, 0)
        checks.check(f"daemon: a forged reply counted as {reason}", grew >= 1, f"+{grew}")
    total_grew = sum(metrics1.get(r, 0) - metrics0.get(r, 0) for r in metrics1 if r != "ok")
    checks.check(f"daemon: exactly the {len(forged)} forged replies were refused",
                 total_grew == len(forged), f"{total_grew}")

    limited = 80 - len(burst)
    checks.check("the rate-limited requests were counted and logged as rate_limited",
                 H.agent_rejections(agent_log).get("rate_limited", 0) >= 1,
                 json.dumps(H.agent_rejections(agent_log)))
    checks.check("a burst of 80 genuine requests is cut by the reply rate limit (burst 40)",
                 40 <= len(burst) < 80, f"{len(burst)} answered")
    checks.check("afterwards the agent answers the genuine daemon again",
                 ok_after - ok_before >= 4, f"+{ok_after - ok_before} ok replies in 3.5 s")
    checks.check("afterwards new IPv4/IPv6 connections complete", all(r["ok"] for r in legit),
                 str(legit))
    m = re.search(r"(\d+) replies sent, (\d+) datagrams rejected", agent_log)
    rejected = int(m.group(2)) if m else -1
    # Refused: the replay, every attack case, the burst's rate-limited requests, and at most
    # the one or two daemon polls that met the emptied bucket.
    expected = 1 + len(cases) + limited
    checks.check("the agent's total of rejected datagrams matches what was sent",
                 expected <= rejected <= expected + 3, f"{rejected} rejected, {expected} sent")
    leaks = H.leaked({"daemon log": daemon_log, "agent log": agent_log}, keys)
    checks.check("no secret material (agent keys, channel key) in the logs", not leaks,
                 str(leaks[:5]))
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
