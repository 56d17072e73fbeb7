#include "oracle_syns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "synwarden/clock_now.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"

namespace synwarden::vmtest {
namespace {

// Client MSS values around every table boundary of both families, plus 0 (ignored by Linux).
constexpr std::array<uint16_t, 20> kMssValues{0,    1,    88,   535,  536,  537,  1219,
                                              1220, 1299, 1300, 1419, 1420, 1439, 1440,
                                              1459, 1460, 1461, 8940, 9000, 65535};

UniqueFd listen_on(int family, uint16_t port) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = 0;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc < 0 || ::listen(fd.get(), 128) < 0)
    throw std::runtime_error("cannot listen on port " + std::to_string(port) + ": " +
                             std::strerror(errno));
  return fd;
}

std::string random_client(bool v6, std::mt19937_64& rng) {
  char text[INET6_ADDRSTRLEN];
  if (!v6) {
    const unsigned net = rng() % 2 ? 0xc6336400u : 0xcb007100u;  // 198.51.100/24, 203.0.113/24
    const uint32_t addr = htonl(net | static_cast<uint32_t>(1 + rng() % 254));
    ::inet_ntop(AF_INET, &addr, text, sizeof text);
  } else {
    in6_addr a{};
    const uint64_t lo = rng();
    a.s6_addr[0] = 0x20, a.s6_addr[1] = 0x01, a.s6_addr[2] = 0x0d, a.s6_addr[3] = 0xb8;
    a.s6_addr[5] = 0x01;  // 2001:db8:1::/48
    std::memcpy(&a.s6_addr[8], &lo, 8);
    a.s6_addr[6] = static_cast<uint8_t>(rng());
    a.s6_addr[7] = static_cast<uint8_t>(rng());
    ::inet_ntop(AF_INET6, &a, text, sizeof text);
  }
  return text;
}

// Waits for the kernel's SYN-ACK answering `syn`; other frames (IPv6 MLD, ...) are skipped.
size_t await_synack(const TapDevice& tap, const ParsedFrame& syn, uint8_t* buf, size_t cap) {
  for (int attempts = 0; attempts < 64; ++attempts) {
    const size_t n = tap.receive(buf, cap, 3000);
    if (n == 0) return 0;
    ParsedFrame f;
    if (parse_frame(buf, n, f) != Verdict::kOk) continue;
    const bool synack =
        (f.tcp_flags & (tcpflag::kSyn | tcpflag::kAck)) == (tcpflag::kSyn | tcpflag::kAck);
    if (synack && f.sport == syn.dport && f.dport == syn.sport &&
        std::memcmp(f.daddr, syn.saddr, 16) == 0)
      return n;
  }
  return 0;
}

}  // namespace

OracleListeners::OracleListeners() {
  for (uint16_t port : kOracleListenPorts) {
    fds_.push_back(listen_on(AF_INET, port));
    fds_.push_back(listen_on(AF_INET6, port));
  }
}

void configure_oracle_tap(const TapDevice& tap) {
  for (const char* a : kOracleHostV4)
    run_ip({"addr", "add", std::string(a) + "/24", "dev", tap.name()});
  for (const char* a : kOracleHostV6)
    run_ip({"addr", "add", std::string(a) + "/64", "dev", tap.name()});
  run_ip({"route", "add", "198.51.100.0/24", "dev", tap.name()});
  run_ip({"route", "add", "203.0.113.0/24", "dev", tap.name()});
  run_ip({"-6", "route", "add", "2001:db8:1::/48", "dev", tap.name()});
}

std::vector<uint8_t> make_oracle_syn(const MacAddress& host_mac, bool v6, unsigned index,
                                     bool ecn_edge, std::mt19937_64& rng) {
  const unsigned combo = index % 32;
  FrameBuilder b;
  b.macs(kOraclePeerMac, host_mac);
  const std::string client = random_client(v6, rng);
  const char* host = v6 ? kOracleHostV6[rng() % 2] : kOracleHostV4[rng() % 2];
  if (v6) {
    b.ipv6(client, host);
  } else {
    b.ipv4(client, host);
  }
  b.ports(static_cast<uint16_t>(1024 + rng() % 64000),
          kOracleListenPorts[rng() % kOracleListenPorts.size()]);
  b.seq(static_cast<uint32_t>(rng()));
  b.window(static_cast<uint16_t>(1 + rng() % 65535));

  std::vector<std::vector<uint8_t>> options;
  if (combo & 1) {
    const uint16_t mss = kMssValues[rng() % kMssValues.size()];
    options.push_back({2, 4, static_cast<uint8_t>(mss >> 8), static_cast<uint8_t>(mss)});
  }
  if (combo & 2) {
    // 0..14 are valid; 15 and 255 must be clamped to 14 by the host.
    const unsigned r = static_cast<unsigned>(rng() % 18);
    const uint8_t ws = r < 15 ? static_cast<uint8_t>(r) : (r == 15 ? 15 : (r == 16 ? 14 : 255));
    options.push_back({3, 3, ws});
  }
  if (combo & 4) options.push_back({4, 2});
  if (combo & 8) {
    std::vector<uint8_t> ts{8, 10};
    const uint64_t v = rng();
    for (int i = 0; i < 8; ++i) ts.push_back(static_cast<uint8_t>(v >> (8 * i)));
    options.push_back(ts);
  }
  std::shuffle(options.begin(), options.end(), rng);
  for (const auto& o : options) {
    if (rng() % 4 == 0) b.nop();
    b.raw_option_bytes(o);
  }

  uint8_t flags = tcpflag::kSyn;
  if (combo & 16) {
    flags |= tcpflag::kEce | tcpflag::kCwr;
  } else if (rng() % 8 == 0) {
    flags |= rng() % 2 ? tcpflag::kEce : tcpflag::kCwr;  // half an ECN setup: no ECN
  }
  b.flags(flags);
  if (ecn_edge) {
    // tcp_ecn_create_request(): an ECT-marked SYN is only ECN-capable with a reserved bit set.
    b.tos(static_cast<uint8_t>(rng() % 4));
    b.reserved_bits(static_cast<uint8_t>(rng() % 2));
  }
  return b.build();
}

std::optional<ExchangeRecord> exchange_syn(const TapDevice& tap, const std::vector<uint8_t>& syn) {
  ParsedFrame parsed;
  if (parse_frame(syn.data(), syn.size(), parsed) != Verdict::kOk)
    throw std::logic_error("exchange_syn was given an unparsable SYN");
  std::vector<uint8_t> reply(2048);
  ExchangeRecord r;
  r.t_send_ns = monotonic_ns();
  tap.send(syn.data(), syn.size());
  const size_t n = await_synack(tap, parsed, reply.data(), reply.size());
  r.t_recv_ns = monotonic_ns();
  if (n == 0) return std::nullopt;
  r.syn = syn;
  r.synack.assign(reply.begin(), reply.begin() + static_cast<std::ptrdiff_t>(n));
  return r;
}

}  // namespace synwarden::vmtest
