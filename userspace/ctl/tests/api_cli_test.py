#!/usr/bin/env python3
"""Contract of synwardenctl's API commands (status, health, hosts, protect, mode, stats, top, reload) against a
stand-in for the daemon's API: a local HTTP server that answers with recorded /status and /stats
shapes and records every request. Checks what synwardenctl sends (method, path, JSON body,
Content-Type), what it prints (tables by default, --json for scripts), its exit status and
error messages, and that `top` computes per-second rates from the daemon's own timestamps.
A second, unhealthy stand-in box checks `--api URL,URL` / SYNWARDEN_API lists: output prefixed
per box, exit status the worst box's, malformed lists refused naming the entry.

Usage: api_cli_test.py PATH/TO/synwardenctl
"""
import http.server
import json
import os
import subprocess
import sys
import threading

CTL = sys.argv[1]

STATUS = {
    "pid": 4242, "uptime_ms": 303000, "started_unix_ms": 0,
    "interface": {"name": "eth1", "ifindex": 3, "mac": "02:53:57:00:00:03", "rx_queues": 2},
    "workers": [{"queue": 0, "cpu": 0, "mode": "driver copy"},
                {"queue": 1, "cpu": 1, "mode": "driver copy"}],
    "dataplane": {"program_id": 77, "pin_dir": "/sys/fs/bpf/synwarden/eth1",
                  "adopted_maps": ["sw_flows", "sw_hosts"]},
    "snapshot_version": 5,
    "config": {"path": "/etc/synwarden/synwarden.json", "persist_changes": True,
               "unsaved_changes": True, "last_persist_error": "the config file changed on disk",
               "pending_restart": ["limits.ring_size"],
               "last_reload": {"trigger": "SIGHUP", "ok": False, "unix_ms": 0,
                               "error": "config key 'protected_hosts[1].mac': expected a MAC"},
               "reloads": {"ok": 1, "failed": 1}},
    "hosts": [
        {"address": "192.0.2.10", "protection": True,
         "secrets": {"source": "file", "location": "/etc/synwarden/web1.json", "state": "fresh",
                     "last_update_age_ms": 1500, "last_error": None}},
        {"address": "2001:db8::10", "protection": False,
         "mode": {"configured": "auto", "effective": "pass"},
         "secrets": {"source": "agent", "location": "[2001:db8::10]:7070", "state": "no_secrets",
                     "last_update_age_ms": None, "last_error": "agent silent for 30.0 s"}}],
}
HOSTS = {"hosts": [
    {"address": "192.0.2.10", "mac": "02:00:5e:00:53:10", "secrets_file": "/etc/s.json",
     "ports": [80, 443], "protection": True, "policy": {"fail": "open"}},
    {"address": "2001:db8::10", "mac": "02:00:5e:00:53:10",
     "agent": {"address": "[2001:db8::10]:7070", "key_file": "/k"}, "protection": False,
     "policy": {"fail": "closed"}}]}


def stats(n):
    """The n-th /stats answer: one second later each time, host A +500 SYN/s, B +20 SYN/s."""
    def host(address, syn_rate, protection):
        return {"address": address, "protection": protection, "secrets_state": "fresh",
                "counters": {"syn": syn_rate * n, "ack": 10 * n, "synack": (syn_rate - 5) * n,
                             "ack_valid": 4 * n, "ack_invalid": 6 * n, "forwarded": 1 * n,
                             "rate_limited": 5 * n, "shed": 3 * n, "dropped": 2 * n}}
    return {"taken_at_ms": 10_000 + 1000 * n, "uptime_ms": 1000 * n, "snapshot_version": 1,
            "hosts": [host("2001:db8::10", 20, False), host("192.0.2.10", 500, True)],
            "workers": [{"queue": 0, "cpu": 0, "mode": "driver copy", "xsk": {"rx_dropped": 3},
                         "counters": {"rx_packets": 600 * n, "synack_built": 495 * n,
                                      "ack_valid": 4 * n, "ack_bad_cookie": 6 * n,
                                      "tx_sent": 499 * n, "tx_ring_full": 0}}],
            "xdp": {"packets": {"fwd_established": 100 * n, "fwd_learned": 0, "xsk_syn": 520 * n,
                                "xsk_ack": 16 * n, "drop_bad_flags": 3 * n, "drop_malformed": 1 * n,
                                "pass_non_ip": 0},
                    "bytes": {"fwd_established": 6000 * n, "xsk_syn": 31200 * n,
                              "xsk_ack": 960 * n, "drop_bad_flags": 180 * n,
                              "drop_malformed": 60 * n, "fwd_learned": 0, "pass_non_ip": 0}},
            "established_flows": 1234,
            "synack_budget": {"pps": 50, "burst": 0, "prefix_v4": 24, "prefix_v6": 48,
                              "top": [{"prefix": "198.51.100.0/24", "dropped": 900 * n,
                                       "answered": 50 * n}]}}


HEALTHY = {"healthy": True, "stale_hosts": [], "checks": [
    {"name": "dataplane", "ok": True, "detail": "XDP program id 77 attached on eth1"},
    {"name": "workers", "ok": True, "detail": "2 AF_XDP worker(s) bound (queue 0, 1)"},
    {"name": "secrets", "ok": True, "detail": "2 host(s) with usable secrets"}]}
UNHEALTHY = {"healthy": False, "checks": [
    {"name": "dataplane", "ok": True, "detail": "XDP program id 78 attached on eth1"},
    {"name": "workers", "ok": True, "detail": "1 AF_XDP worker(s) bound (queue 0)"},
    {"name": "secrets", "ok": False,
     "detail": "192.0.2.10 expired (last secrets 12 s ago)"}],
    "stale_hosts": [{"address": "192.0.2.10", "state": "expired", "age_ms": 12500,
                     "last_error": "agent silent for 12.5 s"}]}


class Api(http.server.BaseHTTPRequestHandler):
    requests = []
    stats_calls = 0

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length).decode() if length else ""
        Api.requests.append({"method": self.command, "path": self.path, "body": body,
                             "content_type": self.headers.get("Content-Type")})
        routes = {
            ("GET", "/status"): (200, STATUS),
            ("GET", "/hosts"): (200, HOSTS),
            ("POST", "/hosts"): (201, {"host": json.loads(body or "{}"), "persisted": False,
                                       "persist_note": "runtime only"}),
            ("DELETE", "/hosts/192.0.2.10"): (200, {"removed": "192.0.2.10", "persisted": True,
                                                    "persist_note": ""}),
            ("POST", "/hosts/192.0.2.10/protect"): (200, {"address": "192.0.2.10",
                                                          "protection": True, "changed": True,
                                                          "persisted": True, "persist_note": ""}),
            ("POST", "/hosts/192.0.2.10/mode"): (200, {"address": "192.0.2.10", "mode": "monitor",
                                                       "protection": False, "changed": True,
                                                       "persisted": False,
                                                       "persist_note": "runtime only"}),
            ("POST", "/hosts/192.0.2.99/protect"): (404, {"error": "host 192.0.2.99 is not a "
                                                                   "protected host"}),
            ("POST", "/reload"): (200, {"reloaded": True, "snapshot_version": 6, "changes": {
                "added": ["198.51.100.7"], "removed": [],
                "changed": [{"address": "192.0.2.10", "keys": ["protection", "ports"]}],
                "restart_required": ["limits.ring_size"]}}),
        }
        routes[("GET", "/lists/deny")] = (200, {"list": "deny", "count": 2, "groups": [
            {"prefixes": ["198.51.100.0/24"]}, {"host": "192.0.2.10", "prefixes": ["2001:db8::/32"]}]})
        routes[("POST", "/lists/deny")] = (200, {"list": "deny", "added": 2, "already_listed": 1,
                                                 "count": 3, "persisted": True, "persist_note": ""})
        routes[("DELETE", "/lists/allow")] = (404, {"error": "10.0.0.0/8 is not in the allow list; "
                                                             "nothing was removed"})
        if (self.command, self.path) == ("GET", "/health"):
            return self.answer(200, HEALTHY)
        if (self.command, self.path) == ("GET", "/stats"):
            Api.stats_calls += 1
            return self.answer(200, stats(Api.stats_calls))
        status, body = routes.get((self.command, self.path), (404, {"error": "no such resource"}))
        self.answer(status, body)

    do_GET = do_POST = do_DELETE = handle_any

    def log_message(self, *args):
        pass


class SickApi(Api):
    """A second box: unhealthy (503 with its checks), otherwise the same answers."""
    def handle_any(self):
        if (self.command, self.path) == ("GET", "/health"):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            Api.requests.append({"method": "GET", "path": "/health (sick)", "body": "",
                                 "content_type": None})
            return self.answer(503, UNHEALTHY)
        return super().handle_any()

    do_GET = do_POST = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
threading.Thread(target=server.serve_forever, daemon=True).start()
API = f"http://127.0.0.1:{server.server_address[1]}"
sick = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SickApi)
threading.Thread(target=sick.serve_forever, daemon=True).start()
SICK = f"http://127.0.0.1:{sick.server_address[1]}"
# A port nothing listens on: bound, then closed.
_probe = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
DEAD = f"http://127.0.0.1:{_probe.server_address[1]}"
_probe.server_close()


def run(*args, ok=True, env=None):
    p = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=30,
                       env={**os.environ, **(env or {})})
    if ok and p.returncode != 0:
        sys.exit(f"FAIL: synwardenctl {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def check(cond, what, detail=""):
    if not cond:
        sys.exit(f"FAIL: {what}\n{detail}")
    print(f"ok: {what}")


def last_request():
    return Api.requests[-1]


# status
out = run("status", "--api", API).stdout
check("synwarden pid 4242, up 5m03s" in out, "status: pid and uptime", out)
check("worker queue 1 on CPU 1, AF_XDP driver copy" in out, "status: worker modes", out)
check("API changes NOT saved to the file" in out and "pending restart: limits.ring_size" in out,
      "status: unsaved API changes and pending restart keys are visible", out)
check("REFUSED" in out and "protected_hosts[1].mac" in out, "status: a refused reload and why", out)
lines = {l.split()[0]: l for l in out.splitlines() if l.startswith(("192.0.2.10", "2001:db8"))}
check(lines["192.0.2.10"].split()[1:5] == ["on", "fresh", "file", "1.5s"],
      "status: per-host protection, secrets state, source and age", lines["192.0.2.10"])
check(lines["2001:db8::10"].split()[1] == "auto:pass",
      "status: a host in mode auto shows auto and its current state", lines["2001:db8::10"])
check("no_secrets" in lines["2001:db8::10"] and "agent silent for 30.0 s" in lines["2001:db8::10"],
      "status: a host without secrets shows the source's error", lines["2001:db8::10"])
check(json.loads(run("status", "--api", API, "--json").stdout) == STATUS,
      "status --json prints the API's document unchanged")
check("synwarden pid" in run("status", env={"SYNWARDEN_API": API}).stdout,
      "SYNWARDEN_API sets the API address")

# health: exit 0 healthy, 1 unhealthy (503 is an answer, its checks printed), 2 unreachable
p = run("health", "--api", API)
check(p.returncode == 0 and p.stdout.startswith("healthy\n")
      and "dataplane ok   XDP program id 77 attached on eth1" in p.stdout,
      "health: a healthy box prints its checks and exits 0", p.stdout)
p = run("health", "--api", SICK, ok=False)
check(p.returncode == 1 and p.stdout.startswith("UNHEALTHY")
      and "secrets   FAIL 192.0.2.10 expired" in p.stdout
      and "stale host 192.0.2.10: expired, secrets 12.5s old, agent silent for 12.5 s" in p.stdout,
      "health: an unhealthy box (503) prints the failing check and the stale host, exits 1",
      p.stdout + p.stderr)
p = run("health", "--api", SICK, "--json", ok=False)
check(p.returncode == 1 and json.loads(p.stdout) == UNHEALTHY, "health --json: the API's document")
p = run("health", "--api", DEAD, ok=False)
check(p.returncode == 2 and "cannot get an answer" in p.stderr,
      "health: an unreachable API exits 2", p.stderr)

# several boxes: --api URL,URL and SYNWARDEN_API lists
p = run("health", "--api", f"{API},{SICK}", ok=False)
lines = p.stdout.splitlines()
check(p.returncode == 1 and f"{API}: healthy" in lines and f"{SICK}: UNHEALTHY" in lines
      and all(l.startswith((API + ": ", SICK + ": ")) for l in lines)
      and lines.index(f"{API}: healthy") < lines.index(f"{SICK}: UNHEALTHY"),
      "health over two boxes: every line prefixed with its box, in order; exit = worst (1)",
      p.stdout)
p = run("health", "--api", f"{API},{SICK},{DEAD}", ok=False)
check(p.returncode == 2 and f"{DEAD}: synwardenctl: GET /health on {DEAD}" in p.stderr
      and f"{SICK}: UNHEALTHY" in p.stdout,
      "health over three boxes, one unreachable: its error prefixed on stderr, exit 2, the "
      "others still asked", p.stdout + p.stderr)
p = run("health", env={"SYNWARDEN_API": f"{API},{API}/"}, ok=False)
check(p.returncode != 0 and "names the same box twice" in p.stderr,
      "SYNWARDEN_API takes the same list syntax (a box given twice is refused)", p.stderr)
p = run("health", "--api", API, env={"SYNWARDEN_API": f"{SICK}"})
check(p.returncode == 0 and p.stdout.startswith("healthy"), "--api wins over SYNWARDEN_API")
p = run("status", "--api", f"{API},{SICK}")
check(f"{API}: synwarden pid 4242" in p.stdout and f"{SICK}: synwarden pid 4242" in p.stdout
      and f"{SICK}: 192.0.2.10" in p.stdout, "status over two boxes, prefixed", p.stdout)
before = len(Api.requests)
p = run("protect", "on", "192.0.2.10", "--api", f"{API},{SICK}")
check(len(Api.requests) == before + 2 and all(r["path"] == "/hosts/192.0.2.10/protect"
                                              for r in Api.requests[before:])
      and f"{SICK}: protection on for 192.0.2.10" in p.stdout,
      "protect over two boxes posts to each", p.stdout)
p = run("protect", "off", "192.0.2.99", "--api", f"{API},{SICK}", ok=False)
check(p.returncode == 1 and p.stderr.count("404 host 192.0.2.99 is not a protected host") == 2,
      "a command refused by both boxes exits 1 with both errors", p.stderr)
before = len(Api.requests)
for bad, entry in [(f"{API},", "entry 2 is empty"),
                   (f"{API},ftp://127.0.0.1:1", 'entry 2 "ftp://127.0.0.1:1"'),
                   (f"http://127.0.0.1:99999,{API}", 'entry 1 "http://127.0.0.1:99999"'),
                   (f"{API},http://127.0.0.1:9477/status", 'entry 2 "http://127.0.0.1:9477/status"'),
                   ("http://user@127.0.0.1:9477", 'entry 1 "http://user@127.0.0.1:9477"'),
                   ("http://[2001:db8::1:9477", 'entry 1 "http://[2001:db8::1:9477"'),
                   ("https://127.0.0.1:9477", 'entry 1 "https://127.0.0.1:9477"'),
                   ("127.0.0.1:9477", 'entry 1 "127.0.0.1:9477"')]:
    p = run("status", "--api", bad, ok=False)
    check(p.returncode != 0 and entry in p.stderr and len(Api.requests) == before,
          f"--api {bad!r} is refused naming the entry, before any request", p.stderr)
p = run("top", "--once", "--api", f"{API},{SICK}", ok=False)
check(p.returncode != 0 and "top watches one box" in p.stderr, "top refuses several boxes", p.stderr)
p = run("health", "--api", "http://[::1]:1,http://localhost:1", ok=False)
check(p.returncode == 2 and "http://[::1]:1: synwardenctl:" in p.stderr
      and "http://localhost:1: synwardenctl:" in p.stderr,
      "bracketed IPv6 and names are accepted URLs", p.stderr)

# hosts
out = run("hosts", "list", "--api", API).stdout
check("80,443" in out and "agent [2001:db8::10]:7070" in out and "off (pass)" in out,
      "hosts list: ports, secrets source and pass mode", out)
out = run("hosts", "add", "192.0.2.11", "--mac", "02:00:5e:00:53:11", "--secrets-file", "/etc/b.json",
          "--port", "443", "--port", "80", "--pass", "--fail", "closed", "--api", API).stdout
req = last_request()
check(req["method"] == "POST" and req["path"] == "/hosts"
      and req["content_type"] == "application/json"
      and json.loads(req["body"]) == {"address": "192.0.2.11", "mac": "02:00:5e:00:53:11",
                                      "secrets_file": "/etc/b.json", "ports": [443, 80],
                                      "protection": False, "policy": {"fail": "closed"}},
      "hosts add posts the host in the config file's form, as JSON", json.dumps(req))
check("added host 192.0.2.11" in out and "NOT saved to the config file: runtime only" in out,
      "hosts add says whether the change was saved", out)
spec = '{"address": "192.0.2.12", "mac": "02:00:5e:00:53:12", "agent": {"address": "192.0.2.12:7070", "key_file": "/k"}}'
run("hosts", "add", "--spec", spec, "--api", API)
check(json.loads(last_request()["body"])["agent"]["address"] == "192.0.2.12:7070",
      "hosts add --spec sends a full host object (agent hosts)")
missing = run("hosts", "add", "192.0.2.13", "--api", API, ok=False)
check(missing.returncode != 0 and "--mac and --secrets-file" in missing.stderr,
      "hosts add without --mac/--secrets-file is refused before any request", missing.stderr)
out = run("hosts", "del", "192.0.2.10", "--api", API).stdout
check(last_request()["method"] == "DELETE" and last_request()["path"] == "/hosts/192.0.2.10"
      and "removed host 192.0.2.10" in out and "saved to the config file" in out, "hosts del")

# protect
out = run("protect", "on", "192.0.2.10", "--api", API).stdout
req = last_request()
check(req["path"] == "/hosts/192.0.2.10/protect" and json.loads(req["body"]) == {"protection": True}
      and req["content_type"] == "application/json", "protect on posts {\"protection\": true}")
check("protection on for 192.0.2.10" in out, "protect prints the new state", out)
before = len(Api.requests)
bad = run("protect", "maybe", "192.0.2.10", "--api", API, ok=False)
check(bad.returncode != 0 and len(Api.requests) == before,
      "protect accepts only on|off, refusing anything else before any request", bad.stderr)
unknown = run("protect", "off", "192.0.2.99", "--api", API, ok=False)
check(unknown.returncode == 1 and "404 host 192.0.2.99 is not a protected host" in unknown.stderr
      and "POST /hosts/192.0.2.99/protect" in unknown.stderr,
      "an API refusal exits 1 and shows the request and the daemon's error", unknown.stderr)

# mode
out = run("mode", "192.0.2.10", "monitor", "--api", API).stdout
req = last_request()
check(req["method"] == "POST" and req["path"] == "/hosts/192.0.2.10/mode"
      and json.loads(req["body"]) == {"mode": "monitor"}
      and req["content_type"] == "application/json", "mode posts {\"mode\": M}", json.dumps(req))
check("mode monitor for 192.0.2.10" in out and "NOT saved to the config file: runtime only" in out,
      "mode prints the new mode and that it was not saved", out)
before = len(Api.requests)
bad = run("mode", "192.0.2.10", "block", "--api", API, ok=False)
check(bad.returncode != 0 and len(Api.requests) == before,
      "mode accepts only protect|pass|monitor|auto, refusing anything else before any request",
      bad.stderr)

# Addresses go into the URL path: anything but exactly an address is refused before any request
# ("%00" would reach the daemon as a NUL byte, "/" as another path).
before = len(Api.requests)
for address in ["198.51.100.10%00", "198.51.100.10/../reload", "198.51.100.10 ", "192.0.2.10x"]:
    for args in (["protect", "off", address], ["hosts", "del", address]):
        refused = run(*args, "--api", API, ok=False)
        check(refused.returncode != 0 and "expected an IPv4 or IPv6 address" in refused.stderr
              and len(Api.requests) == before,
              f"synwardenctl {' '.join(args)!r} is refused before any request", refused.stderr)
dup = run("hosts", "add", "--spec", '{"address": "192.0.2.12", "protection": true, "protection": false}',
          "--api", API, ok=False)
check(dup.returncode != 0 and "duplicate key 'protection'" in dup.stderr and len(Api.requests) == before,
      "hosts add --spec with a repeated key is refused before any request", dup.stderr)

# reload
out = run("reload", "--api", API).stdout
check(last_request()["method"] == "POST" and last_request()["path"] == "/reload"
      and last_request()["content_type"] == "application/json", "reload posts /reload as JSON")
check("added:   198.51.100.7" in out and "192.0.2.10 (protection, ports)" in out
      and "waiting for a restart: limits.ring_size" in out, "reload lists what changed", out)

# stats and top
Api.stats_calls = 0
out = run("stats", "--api", API).stdout
row = next(l for l in out.splitlines() if l.startswith("192.0.2.10"))
check(row.split() == ["192.0.2.10", "on", "500", "10", "495", "4", "6", "1", "5", "3", "2"],
      "stats: per-host counters in columns", row)
check("drop_bad_flags" in out and "pass_non_ip" not in out and "established flows: 1234" in out,
      "stats: XDP reasons that counted something, and the flow count", out)
Api.stats_calls = 0
lines = run("top", "--json", "--iterations", "2", "--interval", "0.1", "--api", API).stdout.splitlines()
check(len(lines) == 2, "top --iterations 2 prints two refreshes", "\n".join(lines))
view = json.loads(lines[1])
first = view["hosts"][0]
check(view["interval_s"] == 1.0, "top: rates use the daemon's taken_at_ms, not wall time")
check(first["address"] == "192.0.2.10" and first["syn_per_s"] == 500 and first["synack_per_s"] == 495
      and first["ack_valid_per_s"] == 4 and first["ack_invalid_per_s"] == 6
      and first["forwarded_per_s"] == 5 and first["dropped_per_s"] == 10,
      "top: per-host SYN, SYN-ACK, valid/invalid ACK, forwarded (incl. valid ACKs) and dropped "
      "(incl. rate-limited and shed) per second, busiest host first", json.dumps(view["hosts"]))
check(view["xdp"]["fwd_established_per_s"] == 100 and view["xdp"]["xsk_syn_per_s"] == 520
      and view["xdp"]["dropped_per_s"] == 4, "top: XDP totals per second", json.dumps(view["xdp"]))
Api.stats_calls = 0
out = run("top", "--once", "--interval", "0.1", "--api", API).stdout
row = next(l for l in out.splitlines() if l.startswith("192.0.2.10"))
check(row.split() == ["192.0.2.10", "on", "fresh", "500", "495", "4.0", "6.0", "5.0", "10.0"]
      and "\x1b[" not in out, "top --once: one table, no screen clearing when piped", row)

# source lists
out = run("list", "show", "deny", "--api", API).stdout
check("198.51.100.0/24" in out and "global" in out and "host 192.0.2.10" in out
      and "2 prefixes in the deny list" in out, "list show: prefixes with their scope", out)
prefix_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"synwardenctl-list-{os.getpid()}")
with open(prefix_file, "w") as f:
    f.write("# blocked\n  203.0.113.0/24  \n\n2001:db8:1::/48\n")
out = run("list", "add", "deny", "198.51.100.0/24", "--host", "192.0.2.10", "--file", prefix_file,
          "--api", API).stdout
os.unlink(prefix_file)
req = last_request()
check(req["method"] == "POST" and req["path"] == "/lists/deny" and req["content_type"] == "application/json"
      and json.loads(req["body"]) == {"prefixes": ["198.51.100.0/24", "203.0.113.0/24", "2001:db8:1::/48"],
                                      "host": "192.0.2.10"},
      "list add: one bulk request with the arguments' and the file's prefixes", json.dumps(req))
check("added 2 prefixes to the deny list (1 already listed, 3 in total)" in out
      and "saved to the config file" in out, "list add reports the answer", out)
refused = run("list", "del", "allow", "10.0.0.0/8", "--api", API, ok=False)
check(refused.returncode == 1 and last_request()["method"] == "DELETE"
      and json.loads(last_request()["body"]) == {"prefixes": ["10.0.0.0/8"]}
      and "not in the allow list" in refused.stderr, "list del sends a DELETE with a body", refused.stderr)
before = len(Api.requests)
for args in (["list", "add", "block", "10.0.0.0/8"], ["list", "add", "deny"],
             ["list", "add", "deny", "10.0.0.0/8", "--host", "192.0.2.10/24"]):
    bad = run(*args, "--api", API, ok=False)
    check(bad.returncode != 0 and len(Api.requests) == before,
          f"synwardenctl {' '.join(args)!r} is refused before any request", bad.stderr)
out = run("stats", "--api", API).stdout
check("most limited source prefixes" in out and "198.51.100.0/24" in out,
      "stats shows the SYN-ACK budget's most limited prefixes", out)
Api.stats_calls = 0
out = run("top", "--once", "--interval", "0.1", "--api", API).stdout
check("most limited source prefixes" in out and "198.51.100.0/24" in out and "1800" in out,
      "top shows the SYN-ACK budget's most limited prefixes", out)

# no daemon
server.shutdown()
server.server_close()
sick.shutdown()
sick.server_close()
down = run("status", "--api", API, ok=False)
check(down.returncode == 1 and "cannot get an answer" in down.stderr
      and "is synwarden running" in down.stderr, "an unreachable API is reported as such",
      down.stderr)
print("all synwardenctl API checks passed")
