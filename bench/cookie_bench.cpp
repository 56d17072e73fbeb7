// Cookie engine micro-benchmarks: ns per cookie generation and per check, each beside the same
// work done with libsodium's generic crypto_shorthash_siphash24 (the baseline). Prints only.
//
//   ./cookie_bench --benchmark_min_time=1
//
// Inputs cycle through 1024 distinct flows so the compiler cannot fold the hashes and the data
// stays in L1, as it would for a burst of SYNs.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "synwarden/cookie.h"
#include "synwarden/secrets.h"
#include "synwarden/siphash.h"
#include "synwarden/synack_planner.h"
#include "synwarden/tcp_timestamp.h"

namespace {

using namespace synwarden;

constexpr size_t kFlows = 1024;

// The SYN of every benchmark: all options, as Linux clients send them.
SynOptions all_options() {
  SynOptions syn;
  syn.has_mss = syn.has_wscale = syn.sack_permitted = syn.has_timestamp = syn.ece_cwr = true;
  syn.mss = 1460;
  syn.wscale = 7;
  return syn;
}

struct Fixture {
  HostSecrets secrets;
  std::vector<Ipv4Flow> v4;
  std::vector<Ipv6Flow> v6;
  std::vector<uint32_t> isn;
  std::vector<uint32_t> ack4, ack6;  // valid cookie + 1 for each flow at kCount
  std::vector<uint32_t> tsecr4;      // the matching SYN-ACK TSvals
  std::array<std::array<uint8_t, 16>, 2> raw_keys{};

  static constexpr uint32_t kCount = 286'576;
  static constexpr ClockReading kClock{kCount, 15'024'998};

  Fixture() {
    if (sodium_init() < 0) std::abort();
    std::mt19937_64 rng(1);
    auto key = [&] {
      std::array<uint8_t, 16> b{};
      for (auto& x : b) x = static_cast<uint8_t>(rng());
      return b;
    };
    raw_keys = {key(), key()};
    secrets.syncookie = {SipKey::from_bytes(raw_keys[0]), SipKey::from_bytes(raw_keys[1])};
    secrets.syncookie6 = {SipKey::from_bytes(key()), SipKey::from_bytes(key())};
    secrets.ts_key = SipKey::from_bytes(key());
    for (size_t i = 0; i < kFlows; ++i) {
      Ipv4Flow f{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                 static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng())};
      Ipv6Flow g;
      for (auto& b : g.client_addr) b = static_cast<uint8_t>(rng());
      for (auto& b : g.host_addr) b = static_cast<uint8_t>(rng());
      g.client_port = f.client_port;
      g.host_port = f.host_port;
      v4.push_back(f);
      v6.push_back(g);
      isn.push_back(static_cast<uint32_t>(rng()));
      const SynOptions syn = all_options();
      const SynAckPlan p4 = plan_synack(secrets, kClock, f, isn.back(), syn);
      ack4.push_back(p4.seq + 1);
      tsecr4.push_back(p4.tsval);
      ack6.push_back(plan_synack(secrets, kClock, g, isn.back(), syn).seq + 1);
    }
  }
};

const Fixture& fx() {
  static const Fixture f;
  return f;
}

uint32_t sodium_hash(const void* msg, size_t len, const std::array<uint8_t, 16>& key) {
  uint8_t out[8];
  crypto_shorthash_siphash24(out, static_cast<const unsigned char*>(msg), len, key.data());
  uint32_t v;
  std::memcpy(&v, out, 4);
  return v;
}

// cookie_hash() for IPv4 with the generic libsodium call: the message laid out in a buffer.
uint32_t sodium_cookie_hash_v4(const Ipv4Flow& f, uint32_t count,
                               const std::array<uint8_t, 16>& key) {
  const uint32_t m[4] = {f.client_addr, f.host_addr,
                         (uint32_t{f.client_port} << 16) | f.host_port, count};
  return sodium_hash(m, sizeof m, key);
}

// ---- the loop every benchmark runs ----------------------------------------------------------

// Runs `op(fixture, k)` once per iteration, k cycling over the flows, and keeps its result.
template <class Op>
void over_flows(benchmark::State& state, Op op) {
  const Fixture& f = fx();
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(op(f, i++ % kFlows));
}

// ---- raw hash -------------------------------------------------------------------------------

void BM_Siphash16_Specialised(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    const Ipv4Flow& fl = f.v4[k];
    return siphash_4u32(fl.client_addr, fl.host_addr, fl.client_port, 7, f.secrets.syncookie[0]);
  });
}
BENCHMARK(BM_Siphash16_Specialised);

void BM_Siphash16_Libsodium(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    const Ipv4Flow& fl = f.v4[k];
    const uint32_t m[4] = {fl.client_addr, fl.host_addr, fl.client_port, 7};
    return sodium_hash(m, sizeof m, f.raw_keys[0]);
  });
}
BENCHMARK(BM_Siphash16_Libsodium);

// ---- cookie generation ----------------------------------------------------------------------

void BM_CookieMakeV4_Specialised(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    return make_cookie_v4(f.secrets.syncookie, f.v4[k], f.isn[k], Fixture::kCount, 3);
  });
}
BENCHMARK(BM_CookieMakeV4_Specialised);

void BM_CookieMakeV4_Libsodium(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    const uint32_t c = Fixture::kCount;
    return sodium_cookie_hash_v4(f.v4[k], 0, f.raw_keys[0]) + f.isn[k] + (c << 24) +
           ((sodium_cookie_hash_v4(f.v4[k], c, f.raw_keys[1]) + 3) & 0xFFFFFF);
  });
}
BENCHMARK(BM_CookieMakeV4_Libsodium);

void BM_CookieMakeV6_Specialised(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    return make_cookie_v6(f.secrets.syncookie6, f.v6[k], f.isn[k], Fixture::kCount, 3);
  });
}
BENCHMARK(BM_CookieMakeV6_Specialised);

// The whole SYN-ACK decision with every option: cookie (2 hashes) + ts_off (1 hash) + TSval.
void BM_PlanSynAckV4_AllOptions(benchmark::State& state) {
  const SynOptions syn = all_options();
  over_flows(state, [&](const Fixture& f, size_t k) {
    return plan_synack(f.secrets, Fixture::kClock, f.v4[k], f.isn[k], syn);
  });
}
BENCHMARK(BM_PlanSynAckV4_AllOptions);

void BM_PlanSynAckV6_AllOptions(benchmark::State& state) {
  const SynOptions syn = all_options();
  over_flows(state, [&](const Fixture& f, size_t k) {
    return plan_synack(f.secrets, Fixture::kClock, f.v6[k], f.isn[k], syn);
  });
}
BENCHMARK(BM_PlanSynAckV6_AllOptions);

// ---- cookie check ---------------------------------------------------------------------------

void BM_CookieCheckV4_Specialised(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    return check_cookie_v4(f.secrets.syncookie, f.v4[k], f.isn[k] + 1, f.ack4[k],
                           Fixture::kCount);
  });
}
BENCHMARK(BM_CookieCheckV4_Specialised);

void BM_CookieCheckV4_Libsodium(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    // check_tcp_syn_cookie() with the generic hash.
    uint32_t cookie = f.ack4[k] - 1;
    cookie -= sodium_cookie_hash_v4(f.v4[k], 0, f.raw_keys[0]) + f.isn[k];
    const uint32_t diff = (Fixture::kCount - (cookie >> 24)) & 0xFF;
    uint32_t data = ~0u;
    if (diff < 2) {
      data = (cookie - sodium_cookie_hash_v4(f.v4[k], Fixture::kCount - diff, f.raw_keys[1])) &
             0xFFFFFF;
    }
    return data;
  });
}
BENCHMARK(BM_CookieCheckV4_Libsodium);

void BM_CookieCheckV6_Specialised(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    return check_cookie_v6(f.secrets.syncookie6, f.v6[k], f.isn[k] + 1, f.ack6[k],
                           Fixture::kCount);
  });
}
BENCHMARK(BM_CookieCheckV6_Specialised);

// What the firewall runs per returning ACK: cookie check + ts_off + option decode.
void BM_CheckAckV4_WithTimestamp(benchmark::State& state) {
  over_flows(state, [](const Fixture& f, size_t k) {
    const AckSegment a{f.isn[k] + 1, f.ack4[k], true, 1, f.tsecr4[k]};
    return check_ack(f.secrets, Fixture::kClock, f.v4[k], a);
  });
}
BENCHMARK(BM_CheckAckV4_WithTimestamp);

void BM_CheckAckV4_Invalid(benchmark::State& state) {
  // A flood of forged ACKs mostly fails at the count test after one hash.
  over_flows(state, [](const Fixture& f, size_t k) {
    const AckSegment a{f.isn[k] + 1, f.ack4[k] ^ 0x5a5a5a5a, true, 1, f.tsecr4[k]};
    return check_ack(f.secrets, Fixture::kClock, f.v4[k], a);
  });
}
BENCHMARK(BM_CheckAckV4_Invalid);

}  // namespace

BENCHMARK_MAIN();
