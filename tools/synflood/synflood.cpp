// synflood: a bounded SYN (or wrong-cookie ACK) flood out of one interface, for tests and
// benchmarks. hping3 manages ~0.1-0.2 Mpps from one core; this sends batches of prebuilt frames
// with sendmmsg() on an AF_PACKET socket that bypasses the qdisc, patching only the randomised
// fields (source address, source port, sequence/ack numbers) and both checksums per frame.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>

#include "synwarden/checksum.h"
#include "synwarden/clock_now.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"
#include "synwarden/packet_bytes.h"

namespace {

using synwarden::MacAddress;
using synwarden::monotonic_ns;
using synwarden::unix_time_ms;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct Options {
  std::string interface;
  std::string dst_mac;
  std::string dst;
  uint16_t dst_port = 80;
  std::string src_prefix;
  uint16_t vlan = 0;
  std::string mode = "syn";
  uint64_t rate = 0;      // packets per second, 0 = as fast as possible
  double duration = 0;    // seconds, 0 = until --count or a signal
  uint64_t count = 0;     // packets, 0 = until --duration or a signal
  uint32_t batch = 64;
  uint64_t seed = 1;
};

// xorshift64*: fast, good enough to spread sources over a prefix; not for cryptography.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

struct Prefix {
  bool ipv6 = false;
  uint8_t base[16] = {};
  unsigned bits = 0;
};

Prefix parse_prefix(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw std::invalid_argument("--src-prefix needs /LEN: " + text);
  Prefix p;
  const std::string addr = text.substr(0, slash);
  p.bits = static_cast<unsigned>(std::stoul(text.substr(slash + 1)));
  if (inet_pton(AF_INET, addr.c_str(), p.base) == 1) {
    if (p.bits > 32) throw std::invalid_argument("IPv4 prefix length > 32: " + text);
  } else if (inet_pton(AF_INET6, addr.c_str(), p.base) == 1) {
    p.ipv6 = true;
    if (p.bits > 128) throw std::invalid_argument("IPv6 prefix length > 128: " + text);
  } else {
    throw std::invalid_argument("--src-prefix is not an address/len: " + text);
  }
  return p;
}

// Writes a random address inside `p` to `out` (4 or 16 bytes).
void random_address(const Prefix& p, Rng& rng, uint8_t* out) {
  const unsigned len = p.ipv6 ? 16 : 4;
  for (unsigned i = 0; i < len; ++i) {
    const unsigned fixed = p.bits > i * 8 ? std::min(8u, p.bits - i * 8) : 0;
    const uint8_t mask = static_cast<uint8_t>(fixed == 0 ? 0 : 0xFF << (8 - fixed));
    out[i] = static_cast<uint8_t>((p.base[i] & mask) | (rng.next() & ~mask));
  }
}

MacAddress interface_mac(int sock, const std::string& name) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFHWADDR, &ifr) != 0) {
    throw std::system_error(errno, std::generic_category(), "SIOCGIFHWADDR on " + name);
  }
  MacAddress mac{};
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

std::vector<uint8_t> build_template(const Options& o, const Prefix& src, const MacAddress& smac) {
  synwarden::FrameBuilder b;
  b.macs(smac, synwarden::parse_mac(o.dst_mac));
  if (o.vlan != 0) b.vlan(synwarden::ethertype::kVlan, o.vlan);
  char src_text[INET6_ADDRSTRLEN];
  inet_ntop(src.ipv6 ? AF_INET6 : AF_INET, src.base, src_text, sizeof src_text);
  if (src.ipv6) b.ipv6(src_text, o.dst);
  else b.ipv4(src_text, o.dst);
  b.ports(40000, o.dst_port);
  if (o.mode == "syn") {
    // A Linux client's SYN, so the worker exercises the full option path (MSS, SACK, TS, WS).
    b.flags(synwarden::tcpflag::kSyn).linux_syn_options(1460, 1, 7);
  } else if (o.mode == "synack") {
    // What a server answers to a SYN: spoofed, it claims the protected host opened a connection.
    b.flags(synwarden::tcpflag::kSyn | synwarden::tcpflag::kAck).linux_syn_options(1460, 1, 7);
  } else {
    b.flags(synwarden::tcpflag::kAck).timestamp(1, 1);
  }
  return b.build();
}

// Patches one frame with fresh random fields and recomputes its checksums.
// Offset of the timestamp option's TSval from the TCP header in `tcp` (0: none).
size_t timestamp_offset(const uint8_t* tcp, size_t header_len) {
  for (size_t i = 20; i + 10 <= header_len;) {
    if (tcp[i] == 0) break;
    if (tcp[i] == 1) {
      ++i;
      continue;
    }
    if (tcp[i] == 8 && tcp[i + 1] == 10) return i + 2;
    if (tcp[i + 1] < 2) break;
    i += tcp[i + 1];
  }
  return 0;
}

void randomise(uint8_t* f, const synwarden::ParsedFrame& t, const Prefix& src, bool ack_mode,
               size_t ts_at, Rng& rng) {
  using namespace synwarden;
  const bool v6 = t.family == IpFamily::kIpv6;
  uint8_t* l3 = f + t.l3_offset;
  uint8_t* saddr = l3 + (v6 ? 8 : 12);
  uint8_t* daddr = l3 + (v6 ? 24 : 16);
  random_address(src, rng, saddr);
  uint8_t* tcp = f + t.l4_offset;
  const uint64_t r = rng.next();
  store_be16(tcp + 0, static_cast<uint16_t>(1024 + (r % 64512)));
  store_be32(tcp + 4, static_cast<uint32_t>(r >> 32));
  if (ack_mode) store_be32(tcp + 8, static_cast<uint32_t>(rng.next()));
  if (ts_at != 0) {  // plain ACKs: random TSval and TSecr, as a forger who knows nothing sends
    const uint64_t ts = rng.next();
    store_be32(tcp + ts_at, static_cast<uint32_t>(ts));
    store_be32(tcp + ts_at + 4, static_cast<uint32_t>(ts >> 32) | 1);  // TSecr 0 means "none"
  }
  const size_t tcp_len = t.tcp_header_len + t.payload_len;
  store_be16(tcp + 16, 0);
  if (v6) {
    store_be16(tcp + 16, tcp_checksum_v6(saddr, daddr, tcp, tcp_len));
  } else {
    store_be16(l3 + 10, 0);
    store_be16(l3 + 10, ipv4_header_checksum(l3, t.ip_header_len));
    store_be16(tcp + 16, tcp_checksum_v4(saddr, daddr, tcp, tcp_len));
  }
}

int run(const Options& o) {
  const Prefix src = parse_prefix(o.src_prefix);
  const bool ack_mode = o.mode != "syn";  // ACK and SYN-ACK: random acknowledgment numbers
  const int ifindex = static_cast<int>(if_nametoindex(o.interface.c_str()));
  if (ifindex == 0) throw std::runtime_error("interface not found: " + o.interface);
  const int sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: TX only
  if (sock < 0) throw std::system_error(errno, std::generic_category(), "socket(AF_PACKET)");
  const int one = 1;
  // Skip the qdisc: the flood should measure the receiver, not the sender's queueing.
  setsockopt(sock, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = ifindex;
  if (bind(sock, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) {
    throw std::system_error(errno, std::generic_category(), "bind AF_PACKET to " + o.interface);
  }

  const std::vector<uint8_t> tmpl = build_template(o, src, interface_mac(sock, o.interface));
  synwarden::ParsedFrame parsed;
  if (synwarden::parse_frame(tmpl.data(), tmpl.size(), parsed) != synwarden::Verdict::kOk) {
    throw std::logic_error("synflood built a frame its own parser rejects");
  }
  const size_t ts_at =
      o.mode == "ack" ? timestamp_offset(tmpl.data() + parsed.l4_offset, parsed.tcp_header_len) : 0;
  std::vector<std::vector<uint8_t>> frames(o.batch, tmpl);
  std::vector<iovec> iov(o.batch);
  std::vector<mmsghdr> msgs(o.batch);
  for (uint32_t i = 0; i < o.batch; ++i) {
    iov[i] = {frames[i].data(), frames[i].size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  Rng rng{o.seed * 0x9E3779B97F4A7C15ull + 1};
  uint64_t sent = 0, errors = 0;
  // Wall-clock bounds of the flood, for tests that compare them with the daemon's log times.
  const uint64_t start_unix_ms = unix_time_ms();
  const uint64_t start = monotonic_ns();
  const uint64_t end = o.duration > 0 ? start + static_cast<uint64_t>(o.duration * 1e9) : 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    const uint64_t now = monotonic_ns();
    if (end != 0 && now >= end) break;
    uint64_t want = o.batch;
    if (o.count != 0) want = std::min<uint64_t>(want, o.count - sent);
    if (want == 0) break;
    if (o.rate != 0) {
      const uint64_t allowed = (now - start) * o.rate / 1'000'000'000ull + 1;
      if (sent >= allowed) {
        const timespec pause{0, 200'000};
        nanosleep(&pause, nullptr);
        continue;
      }
      want = std::min(want, allowed - sent);
    }
    for (uint64_t i = 0; i < want; ++i) randomise(frames[i].data(), parsed, src, ack_mode, ts_at, rng);
    const int n = sendmmsg(sock, msgs.data(), static_cast<unsigned>(want), 0);
    if (n < 0) {
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
        throw std::system_error(errno, std::generic_category(), "sendmmsg on " + o.interface);
      }
      ++errors;
      continue;
    }
    sent += static_cast<uint64_t>(n);
  }
  const double seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
  const uint64_t end_unix_ms = unix_time_ms();
  std::printf("{\"mode\":\"%s\",\"sent\":%llu,\"send_errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f,"
              "\"start_unix_ms\":%llu,\"end_unix_ms\":%llu}\n",
              o.mode.c_str(), static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(errors), seconds,
              seconds > 0 ? static_cast<double>(sent) / seconds : 0.0,
              static_cast<unsigned long long>(start_unix_ms),
              static_cast<unsigned long long>(end_unix_ms));
  close(sock);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"synflood: bounded SYN / wrong-cookie ACK flood for synwarden tests"};
  Options o;
  app.add_option("--interface", o.interface, "interface to send on")->required();
  app.add_option("--dst-mac", o.dst_mac, "destination MAC (the firewall's)")->required();
  app.add_option("--dst", o.dst, "protected IPv4/IPv6 address")->required();
  app.add_option("--dst-port", o.dst_port, "protected TCP port");
  app.add_option("--src-prefix", o.src_prefix, "random sources from this prefix")->required();
  app.add_option("--vlan", o.vlan, "802.1Q VLAN id (0 = untagged)")->check(CLI::Range(0, 4094));
  app.add_option("--mode", o.mode,
                 "syn, ack (ACKs with random cookies and timestamps) or synack (spoofed SYN-ACKs)")
      ->check(CLI::IsMember({"syn", "ack", "synack"}));
  app.add_option("--rate", o.rate, "packets per second, 0 = unlimited");
  app.add_option("--duration", o.duration, "seconds to run");
  app.add_option("--count", o.count, "packets to send");
  app.add_option("--batch", o.batch, "frames per sendmmsg")->check(CLI::Range(1, 1024));
  app.add_option("--seed", o.seed, "random seed");
  CLI11_PARSE(app, argc, argv);
  if (o.duration <= 0 && o.count == 0) {
    std::fprintf(stderr, "synflood: give --duration and/or --count so the flood ends\n");
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synflood: %s\n", e.what());
    return 1;
  }
}
