// The cookie SYN-ACK's TSval: option bits in the low 6 bits (cookie_init_timestamp /
// cookie_timestamp_decode) and the two kernel variants of ts_off (net/core/secure_seq.c). ts_off
// expectations are derived independently: the hashed bytes are laid out from wire-format fields
// and hashed with libsodium.
#include "synwarden/tcp_timestamp.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

namespace synwarden {
namespace {

TEST(CookieTimestamp, LowSixBitsCarryTheOptionsAndNeverExceedTheHostClock) {
  for (uint64_t now : {uint64_t{64}, uint64_t{100}, uint64_t{0x12345678}, uint64_t{0xFFFFFFC0},
                       uint64_t{0x1'0000'0005}, uint64_t{1} << 40}) {
    for (uint64_t step = 0; step < 64; ++step) {
      const uint64_t t = now + step;
      for (uint32_t options = 0; options < 64; ++options) {
        const uint64_t ts = cookie_init_timestamp(t, options);
        ASSERT_EQ(ts & 63, options) << "now " << t;
        ASSERT_LE(ts, t) << "now " << t << " options " << options;
        ASSERT_GT(ts + 64, t) << "the encoding steps back at most 63 ms";
      }
    }
  }
}

TEST(CookieTimestamp, EncodeThenDecodeEveryOptionCombination) {
  for (bool wscale_ok : {false, true}) {
    for (uint8_t ws = 0; ws <= (wscale_ok ? 14 : 0); ++ws) {
      for (bool sack : {false, true}) {
        for (bool ecn : {false, true}) {
          const uint32_t options = encode_ts_options(wscale_ok, ws, sack, ecn);
          EXPECT_EQ((options & kTsOptEcn) != 0, ecn);
          const TsCookieOptions d = cookie_timestamp_decode(options, 1, 1);
          EXPECT_TRUE(d.accepted);
          EXPECT_EQ(d.wscale_ok, wscale_ok);
          EXPECT_EQ(d.snd_wscale, wscale_ok ? ws : 0);
          EXPECT_EQ(d.sack_ok, sack);
          // A host that has since turned SACK or window scaling off refuses such an ACK.
          EXPECT_EQ(cookie_timestamp_decode(options, 0, 1).accepted, !sack);
          EXPECT_EQ(cookie_timestamp_decode(options, 1, 0).accepted, !wscale_ok);
        }
      }
    }
  }
}

TEST(CookieTimestamp, NoWindowScaleIsTheReservedValueFifteen) {
  EXPECT_EQ(encode_ts_options(false, 0, false, false), 0xfu);
  EXPECT_EQ(encode_ts_options(true, 7, true, true), 7u | kTsOptSack | kTsOptEcn);
  EXPECT_EQ(encode_ts_options(true, 0, false, false), 0u);
}

// ---- ts_off ----------------------------------------------------------------------------------

struct Wire {
  std::array<uint8_t, 4> client4, host4;
  std::array<uint8_t, 16> client6, host6;
  std::array<uint8_t, 2> client_port, host_port;
};

uint64_t sodium_hash(const std::vector<uint8_t>& m, const SipKey& key) {
  std::array<uint8_t, 8> out{};
  const auto k = key.bytes();
  crypto_shorthash_siphash24(out.data(), m.data(), m.size(), k.data());
  uint64_t v;
  std::memcpy(&v, out.data(), 8);
  return v;
}

template <size_t N>
void append(std::vector<uint8_t>& m, const std::array<uint8_t, N>& b) {
  m.insert(m.end(), b.begin(), b.end());
}

Ipv4Flow flow4(const Wire& w) {
  Ipv4Flow f;
  std::memcpy(&f.client_addr, w.client4.data(), 4);
  std::memcpy(&f.host_addr, w.host4.data(), 4);
  std::memcpy(&f.client_port, w.client_port.data(), 2);
  std::memcpy(&f.host_port, w.host_port.data(), 2);
  return f;
}
Ipv6Flow flow6(const Wire& w) {
  Ipv6Flow f;
  f.client_addr = w.client6;
  f.host_addr = w.host6;
  std::memcpy(&f.client_port, w.client_port.data(), 2);
  std::memcpy(&f.host_port, w.host_port.data(), 2);
  return f;
}

class TsOffTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
  template <size_t N>
  std::array<uint8_t, N> bytes() {
    std::array<uint8_t, N> b{};
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }
  Wire wire() { return {bytes<4>(), bytes<4>(), bytes<16>(), bytes<16>(), bytes<2>(), bytes<2>()}; }
  SipKey key() { return SipKey::from_bytes(bytes<16>()); }
  std::mt19937_64 rng_{0x75};
};

TEST_F(TsOffTest, PerHostIsLowHalfOfSiphashOverHostThenClientAddress) {
  for (int i = 0; i < 2000; ++i) {
    const Wire w = wire();
    const SipKey ts_secret = key();
    std::vector<uint8_t> m4, m6;
    append(m4, w.host4);  // secure_tcp_ts_off(net, ip_hdr(skb)->daddr, ip_hdr(skb)->saddr)
    append(m4, w.client4);
    append(m6, w.host6);
    append(m6, w.client6);
    ASSERT_EQ(ts_off_per_host_v4(ts_secret, flow4(w), 1),
              static_cast<uint32_t>(sodium_hash(m4, ts_secret)));
    ASSERT_EQ(ts_off_per_host_v6(ts_secret, flow6(w), 1),
              static_cast<uint32_t>(sodium_hash(m6, ts_secret)));
  }
}

TEST_F(TsOffTest, PerConnectionIsHighHalfOfSiphashWithHostPortFirst) {
  for (int i = 0; i < 2000; ++i) {
    const Wire w = wire();
    const SipKey net_secret = key();
    // IPv4: siphash_3u32(host, client, host_port << 16 | client_port); the third u32 stored
    // little-endian puts the client port's wire bytes before the host port's.
    std::vector<uint8_t> m4;
    append(m4, w.host4);
    append(m4, w.client4);
    append(m4, w.client_port);
    append(m4, w.host_port);
    // IPv6: {in6 saddr = host, in6 daddr = client, __be16 sport = host, __be16 dport = client}.
    std::vector<uint8_t> m6;
    append(m6, w.host6);
    append(m6, w.client6);
    append(m6, w.host_port);
    append(m6, w.client_port);
    ASSERT_EQ(m6.size(), 36u);
    ASSERT_EQ(ts_off_per_connection_v4(net_secret, flow4(w), 1),
              static_cast<uint32_t>(sodium_hash(m4, net_secret) >> 32));
    ASSERT_EQ(ts_off_per_connection_v6(net_secret, flow6(w), 1),
              static_cast<uint32_t>(sodium_hash(m6, net_secret) >> 32));
  }
}

TEST_F(TsOffTest, OnlyTcpTimestampsOneAddsAnOffsetInEitherVariant) {
  const Wire w = wire();
  const SipKey k = key();
  for (TsOffsetMode mode : {TsOffsetMode::kPerConnection, TsOffsetMode::kPerHost}) {
    EXPECT_NE(host_ts_off(mode, k, flow4(w), 1), 0u);
    EXPECT_NE(host_ts_off(mode, k, flow6(w), 1), 0u);
    for (uint8_t off_setting : {uint8_t{0}, uint8_t{2}}) {  // 2 = timestamps without offsets
      EXPECT_EQ(host_ts_off(mode, k, flow4(w), off_setting), 0u);
      EXPECT_EQ(host_ts_off(mode, k, flow6(w), off_setting), 0u);
    }
  }
}

TEST_F(TsOffTest, PerConnectionDependsOnPortsPerHostDoesNot) {
  const Wire w = wire();
  Wire other_port = w;
  other_port.client_port[1] ^= 0x01;
  const SipKey k = key();
  EXPECT_EQ(host_ts_off(TsOffsetMode::kPerHost, k, flow4(w), 1),
            host_ts_off(TsOffsetMode::kPerHost, k, flow4(other_port), 1));
  EXPECT_EQ(host_ts_off(TsOffsetMode::kPerHost, k, flow6(w), 1),
            host_ts_off(TsOffsetMode::kPerHost, k, flow6(other_port), 1));
  EXPECT_NE(host_ts_off(TsOffsetMode::kPerConnection, k, flow4(w), 1),
            host_ts_off(TsOffsetMode::kPerConnection, k, flow4(other_port), 1));
  EXPECT_NE(host_ts_off(TsOffsetMode::kPerConnection, k, flow6(w), 1),
            host_ts_off(TsOffsetMode::kPerConnection, k, flow6(other_port), 1));
}

}  // namespace
}  // namespace synwarden
