// sw_vm_accept (guest): the kernel accepts cookie ACKs for SYNs it never saw while the
// synwarden_secrets gate is on, and refuses them while it is off.
//
// Topology, all inside the guest:
//   client netns [swc0 TAP] <-> AcceptForwarder (engine SYN-ACKs) <-> [sws0 TAP] host (init ns)
// The client is the guest kernel's own TCP stack in a separate network namespace (ECN
// requested, Linux's usual SYN options); the host listens with tcp_syncookies=1 and never gets a
// SYN. For IPv4 and IPv6, gate on: accept() returns, 128 KiB flow each way intact (a wrong ts_off
// would make the client's PAWS drop the host's segments), and both ends' TCP_INFO agree on the
// negotiated options. Gate off: the host answers the ACK with a reset and accept() stays empty.
//
// Prints one line per check and "accept: N passed, M failed"; exits non-zero on any failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "accept_forwarder.h"
#include "guest_net.h"
#include "synwarden/kmod_secrets.h"

namespace sw = synwarden;
namespace vt = synwarden::vmtest;

namespace {

constexpr const char* kGateParam = "/sys/module/synwarden_secrets/parameters/accept_cookies";
constexpr size_t kTransfer = 128 * 1024;
constexpr uint16_t kPort = 8080;

struct Endpoint {
  int family;
  const char* host;
  const char* label;
};
constexpr Endpoint kEndpoints[] = {{AF_INET, "192.0.2.1", "IPv4"},
                                   {AF_INET6, "2001:db8::1", "IPv6"}};

unsigned g_passed = 0, g_failed = 0;

void check(bool ok, const std::string& what) {
  (ok ? g_passed : g_failed)++;
  std::cout << (ok ? "PASS " : "FAIL ") << what << std::endl;
}

uint8_t pattern(size_t i, uint8_t salt) { return static_cast<uint8_t>((i * 131 + salt) & 0xff); }

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Sends kTransfer bytes of pattern `out_salt`, reads kTransfer bytes of `in_salt`. Returns an
// empty string on success, otherwise what went wrong.
std::string exchange(int fd, uint8_t out_salt, uint8_t in_salt, bool send_first) {
  std::vector<uint8_t> buf(kTransfer);
  const auto do_send = [&]() -> std::string {
    for (size_t i = 0; i < kTransfer; ++i) buf[i] = pattern(i, out_salt);
    size_t off = 0;
    while (off < kTransfer) {
      const ssize_t n = ::send(fd, buf.data() + off, kTransfer - off, MSG_NOSIGNAL);
      if (n <= 0) return std::string("send: ") + std::strerror(errno);
      off += static_cast<size_t>(n);
    }
    return {};
  };
  const auto do_recv = [&]() -> std::string {
    size_t off = 0;
    while (off < kTransfer) {
      const ssize_t n = ::recv(fd, buf.data() + off, kTransfer - off, 0);
      if (n == 0) return "peer closed after " + std::to_string(off) + " bytes";
      if (n < 0) return std::string("recv: ") + std::strerror(errno);
      off += static_cast<size_t>(n);
    }
    for (size_t i = 0; i < kTransfer; ++i)
      if (buf[i] != pattern(i, in_salt)) return "data corrupted at byte " + std::to_string(i);
    return {};
  };
  std::string err = send_first ? do_send() : do_recv();
  if (err.empty()) err = send_first ? do_recv() : do_send();
  return err;
}

std::string tcp_info_text(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return "tcp_info unavailable";
  std::ostringstream s;
  s << "ts=" << ((ti.tcpi_options & TCPI_OPT_TIMESTAMPS) ? 1 : 0)
    << " sack=" << ((ti.tcpi_options & TCPI_OPT_SACK) ? 1 : 0)
    << " wscale=" << ((ti.tcpi_options & TCPI_OPT_WSCALE) ? 1 : 0)
    << " ecn=" << ((ti.tcpi_options & TCPI_OPT_ECN) ? 1 : 0)
    << " snd_wscale=" << unsigned(ti.tcpi_snd_wscale)
    << " rcv_wscale=" << unsigned(ti.tcpi_rcv_wscale);
  return s.str();
}

// ---- client namespace (child process) -----------------------------------------------------

void send_line(int sock, const std::string& line) {
  const std::string l = line + "\n";
  if (::write(sock, l.data(), l.size()) != static_cast<ssize_t>(l.size()))
    throw std::runtime_error("control socket write failed");
}

std::string read_line(int sock) {
  std::string line;
  char c = 0;
  while (::read(sock, &c, 1) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  throw std::runtime_error("control socket closed");
}

// The test service's address (ep.host, kPort) in `ss`; returns its length.
socklen_t service_address(const Endpoint& ep, sockaddr_storage& ss) {
  if (ep.family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(kPort);
    ::inet_pton(AF_INET, ep.host, &a->sin_addr);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(kPort);
  ::inet_pton(AF_INET6, ep.host, &a->sin6_addr);
  return sizeof *a;
}

// One connection attempt from the client namespace. Reply: "ok <tcp_info>" or "err <reason>".
std::string client_connect(const Endpoint& ep, bool expect_established) {
  sw::UniqueFd fd(::socket(ep.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  set_timeouts(fd.get(), 8);
  sockaddr_storage ss{};
  const socklen_t sl = service_address(ep, ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), sl) < 0) {
    // The host's reset of the cookie ACK can reach the socket before connect() returns.
    if (errno == ECONNRESET && !expect_established) return "ok reset";
    return std::string("err connect: ") + std::strerror(errno);
  }
  if (!expect_established) {
    // The client believes the handshake done; the host must reset the cookie ACK + data.
    const char probe[] = "probe";
    ::send(fd.get(), probe, sizeof probe, MSG_NOSIGNAL);
    char b[16];
    const ssize_t n = ::recv(fd.get(), b, sizeof b, 0);
    if (n < 0 && errno == ECONNRESET) return "ok reset";
    return n < 0 ? std::string("err recv: ") + std::strerror(errno) : "err host answered data";
  }
  const std::string info = tcp_info_text(fd.get());
  const std::string err = exchange(fd.get(), 0x11, 0x22, true);
  return err.empty() ? "ok " + info : "err " + err;
}

[[noreturn]] void client_main(int ctl) {
  try {
    if (::unshare(CLONE_NEWNET) < 0) throw std::runtime_error("unshare(CLONE_NEWNET) failed");
    vt::run_ip({"link", "set", "lo", "up"});
    vt::write_sysctl("net/ipv4/tcp_ecn", "1");  // request ECN: the cookie must carry it
    // A smaller receive buffer limit than the host's gives the client window scale 5
    // (ilog2(1 MiB) - 15) against the host's 7, so each side's scale must come out of the
    // cookie's TSval bits, not coincide by default.
    vt::write_sysctl("net/ipv4/tcp_rmem", "4096 131072 1048576");
    vt::TapDevice tap("swc0", 1500);
    vt::run_ip({"addr", "add", "198.51.100.2/24", "dev", "swc0"});
    vt::run_ip({"addr", "add", "2001:db8:1::2/64", "dev", "swc0"});
    vt::run_ip({"route", "add", "default", "dev", "swc0"});
    vt::run_ip({"-6", "route", "add", "default", "dev", "swc0"});
    // Hand the TAP fd and its MAC to the parent, which plays the wire.
    char mac[6];
    std::memcpy(mac, tap.mac().data(), 6);
    iovec iov{mac, sizeof mac};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    const int tap_fd = tap.fd();
    std::memcpy(CMSG_DATA(cm), &tap_fd, sizeof tap_fd);
    if (::sendmsg(ctl, &msg, 0) < 0) throw std::runtime_error("sendmsg of the TAP fd failed");
    for (;;) {
      const std::string cmd = read_line(ctl);  // "<0|1 endpoint> <0|1 expect established>"
      if (cmd == "quit") break;
      const Endpoint& ep = kEndpoints[cmd[0] == '1' ? 1 : 0];
      send_line(ctl, client_connect(ep, cmd[2] == '1'));
    }
    ::_exit(0);
  } catch (const std::exception& e) {
    std::cerr << "client namespace: " << e.what() << "\n";
    ::_exit(1);
  }
}

// ---- host side (parent) ---------------------------------------------------------------------

sw::UniqueFd receive_tap_fd(int ctl, sw::MacAddress& mac) {
  char buf[6];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  if (::recvmsg(ctl, &msg, 0) != 6) throw std::runtime_error("no TAP fd from the client namespace");
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) throw std::runtime_error("no SCM_RIGHTS from client");
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  std::memcpy(mac.data(), buf, 6);
  return sw::UniqueFd(fd);
}

sw::UniqueFd listen_on(const Endpoint& ep) {
  sw::UniqueFd fd(::socket(ep.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  const socklen_t sl = service_address(ep, ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), sl) < 0 || ::listen(fd.get(), 16) < 0)
    throw std::runtime_error(std::string("listen on ") + ep.host + ": " + std::strerror(errno));
  return fd;
}

sw::UniqueFd accept_within(int listener, int timeout_ms) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return sw::UniqueFd();
  return sw::UniqueFd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

void set_gate(bool on) { vt::write_file(kGateParam, on ? "1" : "0"); }

void run_case(const Endpoint& ep, bool gate_on, int ctl, const vt::AcceptForwarder& fw,
              unsigned host_wscale) {
  const std::string name = std::string(ep.label) + (gate_on ? " gate on" : " gate off");
  set_gate(gate_on);
  sw::UniqueFd listener = listen_on(ep);
  const uint64_t opened_before = sw::read_kmod_secrets().gate_opened;
  const uint64_t answered_before = fw.syns_answered();
  send_line(ctl, std::string(&ep == &kEndpoints[1] ? "1" : "0") + (gate_on ? " 1" : " 0"));

  sw::UniqueFd conn = accept_within(listener.get(), gate_on ? 10000 : 3000);
  std::string server_info, server_err = "accept() returned nothing";
  if (conn.get() >= 0) {
    set_timeouts(conn.get(), 8);
    server_info = tcp_info_text(conn.get());
    server_err = exchange(conn.get(), 0x22, 0x11, false);
  }
  const std::string client = read_line(ctl);
  const uint64_t opened = sw::read_kmod_secrets().gate_opened - opened_before;
  check(fw.syns_answered() > answered_before,
        name + ": the forwarder answered the client's SYN with an engine cookie SYN-ACK");
  if (gate_on) {
    check(conn.get() >= 0, name + ": accept() returned the connection made from the cookie ACK");
    check(server_err.empty(), name + ": 128 KiB client->host and host->client intact (" +
                                  (server_err.empty() ? "ok" : server_err) + ")");
    check(client.rfind("ok ", 0) == 0, name + ": client side: " + client);
    check(opened >= 1, name + ": the module opened the gate " + std::to_string(opened) + " time(s)");
    // The host decoded the client's options from the cookie's TSval: both ends must agree.
    const std::string expect_host = "ts=1 sack=1 wscale=1 ecn=1";
    check(server_info.rfind(expect_host, 0) == 0,
          name + ": host TCP_INFO " + server_info + " (expected " + expect_host + " ...)");
    const auto field = [](const std::string& s, const std::string& key) {
      const size_t p = s.find(key + "=");
      if (p == std::string::npos) return std::string("?");
      const size_t start = p + key.size() + 1;
      return s.substr(start, s.find(' ', start) - start);
    };
    check(field(client, "rcv_wscale") == "5" && field(server_info, "snd_wscale") == "5" &&
              field(server_info, "rcv_wscale") == std::to_string(host_wscale) &&
              field(client, "snd_wscale") == std::to_string(host_wscale),
          name + ": window scales carried through the cookie: client offers 5, host " +
              std::to_string(host_wscale) + " (host " + server_info + " / client " + client + ")");
  } else {
    check(conn.get() < 0, name + ": accept() stays empty (" +
                              (conn.get() < 0 ? std::string("refused") : "ACCEPTED") + ")");
    check(client == "ok reset", name + ": the client's cookie ACK was reset (" + client + ")");
    check(opened == 0, name + ": the gate stayed shut (" + std::to_string(opened) + " openings)");
  }
}

}  // namespace

int main() {
  int ctl_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl_pair) < 0) {
    std::cerr << "sw_vm_accept: socketpair failed\n";
    return 1;
  }
  // Fork before any thread exists; the child becomes the client namespace.
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(ctl_pair[0]);
    client_main(ctl_pair[1]);
  }
  ::close(ctl_pair[1]);
  const int ctl = ctl_pair[0];
  try {
    vt::write_sysctl("net/ipv4/tcp_syncookies", "1");  // cookies allowed, never sent by the host
    vt::TapDevice host_tap("sws0", 1500);
    vt::run_ip({"addr", "add", "192.0.2.1/24", "dev", "sws0"});
    vt::run_ip({"addr", "add", "2001:db8::1/64", "dev", "sws0"});
    vt::run_ip({"route", "add", "198.51.100.0/24", "dev", "sws0"});
    vt::run_ip({"-6", "route", "add", "2001:db8:1::/64", "dev", "sws0"});
    sw::MacAddress client_mac{};
    sw::UniqueFd client_fd = receive_tap_fd(ctl, client_mac);
    vt::TapDevice client_tap("swc0", std::move(client_fd), client_mac);

    const sw::KmodSecrets k = sw::read_kmod_secrets();
    const sw::HostSecrets secrets =
        sw::to_host_secrets(k, sw::read_tcp_sysctls(), 1460, 1440, sw::read_rcv_wscale(),
                            sw::KmodStandIns::random());
    // As the firewall would: the sample is valid at the local time it was taken.
    const sw::HostClock clock(secrets.clock, secrets.clock.mono_ms);
    vt::AcceptForwarder fw(client_tap, host_tap, client_mac, host_tap.mac(), secrets, clock);

    for (const Endpoint& ep : kEndpoints) {
      run_case(ep, true, ctl, fw, secrets.rcv_wscale);
      run_case(ep, false, ctl, fw, secrets.rcv_wscale);
    }
    check(fw.syns_leaked() == 0, "no SYN reached the host, no SYN-ACK build failed (" +
                                     std::to_string(fw.syns_leaked()) + ")");
    set_gate(false);
    send_line(ctl, "quit");
  } catch (const std::exception& e) {
    check(false, std::string("setup: ") + e.what());
    ::kill(child, SIGKILL);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client namespace process exited cleanly");
  std::cout << "accept: " << g_passed << " passed, " << g_failed << " failed" << std::endl;
  return g_failed == 0 ? 0 : 1;
}
