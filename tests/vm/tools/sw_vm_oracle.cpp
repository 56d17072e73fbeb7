// sw_vm_oracle (guest side of the oracle test): makes the guest kernel answer SYNs with its own
// SYN cookies and records, for each SYN, the exact SYN frame, the kernel's SYN-ACK frame, the
// CLOCK_MONOTONIC bracket around the exchange, and per phase the kernel's secrets as the
// firewall would receive them (module file + sysctls, as HostSecrets JSON). oracle_compare
// replays every record through synwarden's engine on the build machine.
//
// The kernel is reached through a TAP device: the SYNs are written as frames "from the wire"
// and the SYN-ACKs read back, so the kernel sees exactly the bytes recorded.
//
// Usage: sw_vm_oracle --out FILE [--per-combo N] [--seed N]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "guest_net.h"
#include "kmod_secrets_file.h"
#include "oracle_record.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"
#include "synwarden/secrets.h"

namespace sw = synwarden;
namespace vt = synwarden::vmtest;

namespace {

constexpr const char* kTap = "swo0";
const std::array<const char*, 2> kHostV4{"192.0.2.1", "192.0.2.2"};
const std::array<const char*, 2> kHostV6{"2001:db8::1", "2001:db8::2"};
constexpr std::array<uint16_t, 4> kListenPorts{80, 443, 8080, 50000};
constexpr sw::MacAddress kPeerMac{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01};  // the "client side"

// Client MSS values around every table boundary of both families, plus 0 (ignored by Linux).
constexpr std::array<uint16_t, 20> kMssValues{0,    1,    88,   535,  536,  537,  1219,
                                              1220, 1299, 1300, 1419, 1420, 1439, 1440,
                                              1459, 1460, 1461, 8940, 9000, 65535};

// One run of SYNs under one set of sysctls and one device MTU.
struct Phase {
  const char* name;
  unsigned mtu;
  int tcp_timestamps, tcp_sack, tcp_window_scaling, tcp_ecn;
  unsigned syns_per_family;
  bool ecn_edge;  // vary the IP ECN field and TCP reserved bits of ECN-setup SYNs
};

// Listening sockets on every port, both families, for the whole run.
class Listeners {
 public:
  Listeners() {
    for (uint16_t port : kListenPorts) {
      fds_.push_back(listen_on(AF_INET, port));
      fds_.push_back(listen_on(AF_INET6, port));
    }
  }

 private:
  static vt::UniqueFd listen_on(int family, uint16_t port) {
    vt::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
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
  std::vector<vt::UniqueFd> fds_;
};

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

// The SYN for record `index`: its option combination is index % 32 (MSS, WS, SACK_PERM, TS,
// ECE+CWR), so every combination is covered equally; values and option order are random.
std::vector<uint8_t> make_syn(const sw::MacAddress& host_mac, bool v6, unsigned index,
                              bool ecn_edge, std::mt19937_64& rng) {
  const unsigned combo = index % 32;
  sw::FrameBuilder b;
  b.macs(kPeerMac, host_mac);
  const std::string client = random_client(v6, rng);
  const char* host = v6 ? kHostV6[rng() % 2] : kHostV4[rng() % 2];
  if (v6) {
    b.ipv6(client, host);
  } else {
    b.ipv4(client, host);
  }
  b.ports(static_cast<uint16_t>(1024 + rng() % 64000), kListenPorts[rng() % kListenPorts.size()]);
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

  uint8_t flags = sw::tcpflag::kSyn;
  if (combo & 16) {
    flags |= sw::tcpflag::kEce | sw::tcpflag::kCwr;
  } else if (rng() % 8 == 0) {
    flags |= rng() % 2 ? sw::tcpflag::kEce : sw::tcpflag::kCwr;  // half an ECN setup: no ECN
  }
  b.flags(flags);
  if (ecn_edge) {
    // tcp_ecn_create_request(): an ECT-marked SYN is only ECN-capable with a reserved bit set.
    b.tos(static_cast<uint8_t>(rng() % 4));
    b.reserved_bits(static_cast<uint8_t>(rng() % 2));
  }
  return b.build();
}

// Waits for the kernel's SYN-ACK answering `syn`; other frames (IPv6 MLD, ...) are skipped.
size_t await_synack(const vt::TapDevice& tap, const sw::ParsedFrame& syn, uint8_t* buf,
                    size_t cap) {
  for (int attempts = 0; attempts < 64; ++attempts) {
    const size_t n = tap.receive(buf, cap, 3000);
    if (n == 0) return 0;
    sw::ParsedFrame f;
    if (sw::parse_frame(buf, n, f) != sw::Verdict::kOk) continue;
    const bool synack = (f.tcp_flags & (sw::tcpflag::kSyn | sw::tcpflag::kAck)) ==
                        (sw::tcpflag::kSyn | sw::tcpflag::kAck);
    if (synack && f.sport == syn.dport && f.dport == syn.sport &&
        std::memcmp(f.daddr, syn.saddr, 16) == 0)
      return n;
  }
  return 0;
}

void configure_tap(const vt::TapDevice& tap) {
  for (const char* a : kHostV4) vt::run_ip({"addr", "add", std::string(a) + "/24", "dev", tap.name()});
  for (const char* a : kHostV6) vt::run_ip({"addr", "add", std::string(a) + "/64", "dev", tap.name()});
  vt::run_ip({"route", "add", "198.51.100.0/24", "dev", tap.name()});
  vt::run_ip({"route", "add", "203.0.113.0/24", "dev", tap.name()});
  vt::run_ip({"-6", "route", "add", "2001:db8:1::/48", "dev", tap.name()});
}

unsigned run_phase(const Phase& ph, const vt::TapDevice& tap, vt::RecordWriter& out,
                   std::mt19937_64& rng) {
  vt::run_ip({"link", "set", "dev", tap.name(), "mtu", std::to_string(ph.mtu)});
  vt::write_sysctl("net/ipv4/tcp_syncookies", "2");
  vt::write_sysctl("net/ipv4/tcp_timestamps", std::to_string(ph.tcp_timestamps));
  vt::write_sysctl("net/ipv4/tcp_sack", std::to_string(ph.tcp_sack));
  vt::write_sysctl("net/ipv4/tcp_window_scaling", std::to_string(ph.tcp_window_scaling));
  vt::write_sysctl("net/ipv4/tcp_ecn", std::to_string(ph.tcp_ecn));

  // What the firewall would be told: the module's file and the sysctls, the advertised MSS of
  // the route the host answers over (MTU - 40 / MTU - 60).
  const vt::KmodSecrets k = vt::read_kmod_secrets();
  const sw::HostSecrets secrets = vt::to_host_secrets(
      k, vt::read_tcp_sysctls(), static_cast<uint16_t>(ph.mtu - 40),
      static_cast<uint16_t>(ph.mtu - 60), vt::read_rcv_wscale());
  out.phase(ph.name, k.mono_ns, sw::serialize_secrets(secrets));

  unsigned missing = 0;
  std::vector<uint8_t> reply(2048);
  for (int fam = 0; fam < 2; ++fam) {
    for (unsigned i = 0; i < ph.syns_per_family; ++i) {
      const std::vector<uint8_t> syn = make_syn(tap.mac(), fam == 1, i, ph.ecn_edge, rng);
      sw::ParsedFrame parsed;
      if (sw::parse_frame(syn.data(), syn.size(), parsed) != sw::Verdict::kOk)
        throw std::logic_error("sw_vm_oracle built an unparsable SYN");
      const uint64_t t_send = vt::monotonic_ns();
      tap.send(syn.data(), syn.size());
      const size_t n = await_synack(tap, parsed, reply.data(), reply.size());
      const uint64_t t_recv = vt::monotonic_ns();
      if (n == 0) {
        ++missing;
        out.missing(ph.name, syn);
        continue;
      }
      out.exchange(ph.name, t_send, t_recv, syn, std::vector<uint8_t>(reply.begin(),
                                                                      reply.begin() + n));
    }
  }
  return missing;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path;
  unsigned per_combo = 24;
  uint64_t seed = std::random_device{}();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--out") {
      out_path = argv[i + 1];
    } else if (opt == "--per-combo") {
      per_combo = static_cast<unsigned>(std::stoul(argv[i + 1]));
    } else if (opt == "--seed") {
      seed = std::stoull(argv[i + 1]);
    } else {
      std::cerr << "sw_vm_oracle: unknown option " << opt << "\n";
      return 2;
    }
  }
  if (out_path.empty()) {
    std::cerr << "usage: sw_vm_oracle --out FILE [--per-combo N] [--seed N]\n";
    return 2;
  }
  try {
    std::ofstream file(out_path);
    if (!file) throw std::runtime_error("cannot write " + out_path);
    vt::RecordWriter out(file, seed);
    std::mt19937_64 rng(seed);
    vt::TapDevice tap(kTap, 1500);
    configure_tap(tap);
    Listeners listeners;
    // Default sysctls; then SYN-ACK-shaping sysctls off; then timestamps off (no option
    // encoding at all); then the ECN corner of tcp_ecn_create_request().
    const std::array<Phase, 4> phases{{
        {"default", 1500, 1, 1, 1, 2, 32 * per_combo, false},
        {"sack_ws_ecn_off_ts_no_offset", 9000, 2, 0, 0, 0, 4 * 32, false},
        {"timestamps_off", 1280, 0, 1, 1, 1, 2 * 32, false},
        {"ecn_ip_field", 1500, 1, 1, 1, 2, 2 * 32, true},
    }};
    unsigned missing = 0;
    for (const Phase& ph : phases) missing += run_phase(ph, tap, out, rng);
    out.done();
    std::cout << "sw_vm_oracle: " << out.exchanges() << " SYN/SYN-ACK exchanges recorded, "
              << missing << " SYNs unanswered, seed " << seed << "\n";
    return missing == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "sw_vm_oracle: FAILED: " << e.what() << "\n";
    return 1;
  }
}
