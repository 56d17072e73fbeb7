// Source-list load for bench/xdp_cost --lists N: N made-up prefixes written with
// SourceListTable::add (one bulk per list), timed, and the tries' kernel memory read back
// (the map fds' "memlock" in /proc/self/fdinfo, which the kernel computes from what the tries
// actually hold). The prefixes never cover the sources of xdp_cost's other rows.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "synwarden/dataplane/xdp_fastpath.h"

namespace synwarden::bench {

struct ListsLoad {
  std::uint32_t v4 = 0, v6 = 0, per_host = 0;
  double seconds = 0;
  std::uint64_t v4_bytes = 0, v6_bytes = 0;
  std::string denied_v4, denied_v6;  // a source the global deny list holds as a /32 or /128
};

inline std::uint64_t memlock_of(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string key;
  std::uint64_t value = 0;
  while (in >> key) {
    if (key == "memlock:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

inline ListsLoad load_lists(dataplane::XdpFastpath& fp, std::uint32_t total) {
  ListsLoad out;
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&] {  // xorshift64*: fixed seed, the same prefixes every run
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ull;
  };
  const auto host4 = *dataplane::IpAddress::parse("192.0.2.10");
  const auto host6 = *dataplane::IpAddress::parse("2001:db8::10");
  std::vector<dataplane::ListEntry> allow, deny;
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  const std::uint32_t want6 = total / 4;
  const std::uint32_t want4 = total - want6;
  auto make = [&](bool v6, bool per_host) {
    dataplane::ListEntry e;
    std::uint8_t bytes[16] = {};
    const std::uint64_t r = next();
    const unsigned pick = static_cast<unsigned>(r % 10);
    if (!v6) {
      // Global: 10.0.0.0/8; per host: 172.16.0.0/12. /32 half the time, /24 a third, else /16../28.
      const std::uint32_t base = per_host ? 0xac100000u : 0x0a000000u;
      const std::uint32_t span = per_host ? 0x000fffffu : 0x00ffffffu;
      const std::uint32_t addr = base | (static_cast<std::uint32_t>(r >> 20) & span);
      e.length = pick < 5 ? 32 : pick < 8 ? 24 : static_cast<std::uint8_t>(16 + (r >> 8) % 13);
      const std::uint32_t masked = e.length == 32 ? addr : addr & ~((1u << (32 - e.length)) - 1);
      for (int i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(masked >> (24 - 8 * i));
      char text[16];
      std::snprintf(text, sizeof text, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
      e.prefix = *dataplane::IpAddress::parse(text);
      if (per_host) e.host = host4;
    } else {
      // Global: fd00::/16; per host: fd01::/16. /128, /64 or /48.
      const std::uint64_t hi = (per_host ? 0xfd01000000000000ull : 0xfd00000000000000ull) |
                               (r & 0x0000ffffffffffffull);
      const std::uint64_t lo = next();
      e.length = pick < 4 ? 128 : pick < 8 ? 64 : 48;
      std::uint64_t mhi = hi, mlo = lo;
      if (e.length <= 64) mlo = 0;
      if (e.length == 48) mhi &= ~0xffffull;
      for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(mhi >> (56 - 8 * i));
      for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<std::uint8_t>(mlo >> (56 - 8 * i));
      char text[64];
      std::snprintf(text, sizeof text, "%x:%x:%x:%x:%x:%x:%x:%x", bytes[0] << 8 | bytes[1],
                    bytes[2] << 8 | bytes[3], bytes[4] << 8 | bytes[5], bytes[6] << 8 | bytes[7],
                    bytes[8] << 8 | bytes[9], bytes[10] << 8 | bytes[11],
                    bytes[12] << 8 | bytes[13], bytes[14] << 8 | bytes[15]);
      e.prefix = *dataplane::IpAddress::parse(text);
      if (per_host) e.host = host6;
    }
    return e;
  };
  auto add = [&](bool v6, std::uint32_t want) {
    std::uint32_t made = 0;
    while (made < want) {
      const bool per_host = next() % 16 == 0;
      dataplane::ListEntry e = make(v6, per_host);
      const auto& b = e.prefix.bytes();
      std::uint64_t k0 = 0, k1 = 0;
      for (int i = 0; i < 8; ++i) k0 = k0 << 8 | b[i];
      for (int i = 8; i < 16; ++i) k1 = k1 << 8 | b[i];
      k1 ^= static_cast<std::uint64_t>(e.length) << 56 ^ (per_host ? 1ull << 63 : 0);
      if (!seen.insert({k0, k1}).second) continue;
      ++made;
      out.per_host += per_host;
      const bool is_deny = next() % 2 == 0;
      if (is_deny && !per_host && e.length == (v6 ? 128 : 32)) {
        (v6 ? out.denied_v6 : out.denied_v4) = e.prefix.to_string();
      }
      (is_deny ? deny : allow).push_back(e);
    }
  };
  add(false, want4);
  add(true, want6);
  out.v4 = want4;
  out.v6 = want6;
  if (out.denied_v4.empty() || out.denied_v6.empty()) {
    std::fprintf(stderr, "xdp_cost: --lists too small to hold a denied /32 and /128\n");
    std::exit(1);
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto [kind, list] : {std::pair{dataplane::ListKind::allow, &allow},
                            std::pair{dataplane::ListKind::deny, &deny}}) {
    if (auto ok = fp.lists().add(kind, *list); !ok) {
      std::fprintf(stderr, "xdp_cost: loading the lists: %s\n", ok.error().message.c_str());
      std::exit(1);
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.v4_bytes = memlock_of(fp.lists().v4_fd());
  out.v6_bytes = memlock_of(fp.lists().v6_fd());
  return out;
}

}  // namespace synwarden::bench
