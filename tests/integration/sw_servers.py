"""The protected host's real services for the end-to-end test and the demo, run in the host
namespace: `python3 sw_servers.py --tcp-info-out FILE` serves until SIGTERM, dual-stack (one
IPv6 socket with IPV6_V6ONLY off takes IPv4 too):

    HTTP_PORT    HTTP/1.0 (Python's http.server): GET /obj/<n> answers http_body(n)
    BANNER_PORT  server speaks first: "220 ..." banner, then "PING <token>" -> "PONG <token> <digest>"
    ECHO_PORT    echoes every byte back (long-lived streams)

Every accepted banner connection's TCP_INFO (the host kernel's view of what the handshake
negotiated) is appended to --tcp-info-out as one JSON line. Prints "ready" once all listen.

Backlogs are large on purpose: a connection the firewall validated is handed to the listener's
accept queue, and Python's default of 5 would overflow it under a parallel client burst.
"""
import argparse
import hashlib
import http.server
import json
import signal
import socket
import socketserver
import struct
import sys
import threading

HTTP_PORT, BANNER_PORT, ECHO_PORT = 8080, 2525, 9000
BACKLOG = 1024
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE = 1, 2, 4


def http_body(n):
    """The exact body of /obj/<n>: about 3 KB, so every response spans several segments."""
    line = f"synwarden e2e object {n} {hashlib.sha256(str(n).encode()).hexdigest()}\n"
    return (line * (3000 // len(line) + 1)).encode()


def pong(token):
    return f"PONG {token} {hashlib.sha256(token.encode()).hexdigest()[:16]}\r\n"


BANNER = "220 synwarden-e2e banner service ready\r\n"


def tcp_info(sock):
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    _state, _ca, _retr, _probes, _backoff, options, wscale, _flags = struct.unpack_from("8B", raw, 0)
    _rto, _ato, snd_mss, rcv_mss = struct.unpack_from("4I", raw, 8)
    return {
        "timestamps": bool(options & TCPI_OPT_TIMESTAMPS),
        "sack": bool(options & TCPI_OPT_SACK),
        "wscale": bool(options & TCPI_OPT_WSCALE),
        "snd_wscale": wscale & 0x0F,  # the client's window scale, as the host uses it
        "rcv_wscale": wscale >> 4,    # the host's own, as its SYN-ACK (the firewall's) announced
        "snd_mss": snd_mss,
    }


class DualStack:
    address_family = socket.AF_INET6
    request_queue_size = BACKLOG
    allow_reuse_address = True
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class HttpServer(DualStack, http.server.ThreadingHTTPServer):
    pass


class TcpServer(DualStack, socketserver.ThreadingTCPServer):
    pass


class HttpHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) != 3 or parts[1] != "obj" or not parts[2].isdigit():
            self.send_error(404)
            return
        body = http_body(int(parts[2]))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class BannerHandler(socketserver.StreamRequestHandler):
    info_lock = threading.Lock()
    info_out = None

    def handle(self):
        info = tcp_info(self.request)
        info["client"] = self.client_address[0]
        with self.info_lock:
            self.info_out.write(json.dumps(info) + "\n")
            self.info_out.flush()
        self.wfile.write(BANNER.encode())
        line = self.rfile.readline(200).decode(errors="replace").strip()
        if line.startswith("PING "):
            self.wfile.write(pong(line[5:]).encode())


DOUBLE_ECHO = b"DOUBLE\n"  # first bytes of a connection that wants every byte back twice


class EchoHandler(socketserver.BaseRequestHandler):
    """Echoes every byte; a connection that starts with DOUBLE_ECHO gets each chunk back twice
    (the host then sends more than it receives, so the connection's ACK and sequence numbers
    drift apart and its segments stop looking like the handshake's cookie)."""

    def handle(self):
        first = self.request.recv(65536)
        copies = 1
        if first.startswith(DOUBLE_ECHO):
            first, copies = first[len(DOUBLE_ECHO):], 2
            if not first:  # the marker arrived alone: the stream's data follows
                first = self.request.recv(65536)
        data = first
        while data:
            self.request.sendall(data * copies)
            data = self.request.recv(65536)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp-info-out", required=True)
    args = ap.parse_args()
    BannerHandler.info_out = open(args.tcp_info_out, "a")
    servers = [HttpServer(("::", HTTP_PORT), HttpHandler),
               TcpServer(("::", BANNER_PORT), BannerHandler),
               TcpServer(("::", ECHO_PORT), EchoHandler)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    for server in servers:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
