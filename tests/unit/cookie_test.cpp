// The cookie ISN and its check, as net/ipv4/syncookies.c and net/ipv6/syncookies.c compute them.
// The expected values come from a second derivation in this file: the hashed message is laid out
// byte by byte from wire-format header fields (as the kernel's struct/integers lie in memory on a
// little-endian host) and hashed with libsodium, so a mistake in argument order, port packing
// or byte order in the engine cannot cancel out.
#include "synwarden/cookie.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

namespace synwarden {
namespace {

struct WireV4 {
  std::array<uint8_t, 4> client_addr, host_addr;
  std::array<uint8_t, 2> client_port, host_port;
};
struct WireV6 {
  std::array<uint8_t, 16> client_addr, host_addr;
  std::array<uint8_t, 2> client_port, host_port;
};

template <size_t N>
void append(std::vector<uint8_t>& m, const std::array<uint8_t, N>& bytes) {
  m.insert(m.end(), bytes.begin(), bytes.end());
}
void append_le32(std::vector<uint8_t>& m, uint32_t v) {
  for (int i = 0; i < 4; ++i) m.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t sodium_low32(const std::vector<uint8_t>& m, const SipKey& key) {
  std::array<uint8_t, 8> out{};
  const auto k = key.bytes();
  crypto_shorthash_siphash24(out.data(), m.data(), m.size(), k.data());
  uint32_t v;
  std::memcpy(&v, out.data(), 4);
  return v;
}

// cookie_hash() (IPv4): siphash_4u32(saddr, daddr, sport << 16 | dport, count). The third u32,
// stored little-endian, puts dport's two wire bytes first, then sport's.
uint32_t reference_hash_v4(const WireV4& w, uint32_t count, const SipKey& key) {
  std::vector<uint8_t> m;
  append(m, w.client_addr);
  append(m, w.host_addr);
  append(m, w.host_port);
  append(m, w.client_port);
  append_le32(m, count);
  return sodium_low32(m, key);
}

// cookie_hash() (IPv6): siphash() over {saddr, daddr, u32 count, __be16 sport, __be16 dport},
// 40 bytes (offsetofend(dport)).
uint32_t reference_hash_v6(const WireV6& w, uint32_t count, const SipKey& key) {
  std::vector<uint8_t> m;
  append(m, w.client_addr);
  append(m, w.host_addr);
  append_le32(m, count);
  append(m, w.client_port);
  append(m, w.host_port);
  EXPECT_EQ(m.size(), 40u);
  return sodium_low32(m, key);
}

template <typename Wire, typename HashFn>
uint32_t reference_cookie(const Wire& w, const CookieKeyPair& keys, uint32_t isn, uint32_t count,
                          uint32_t data, HashFn hash) {
  return hash(w, 0, keys[0]) + isn + (count << 24) + ((hash(w, count, keys[1]) + data) & 0xFFFFFF);
}

uint32_t raw32(const std::array<uint8_t, 4>& b) {
  uint32_t v;
  std::memcpy(&v, b.data(), 4);
  return v;
}
uint16_t raw16(const std::array<uint8_t, 2>& b) {
  uint16_t v;
  std::memcpy(&v, b.data(), 2);
  return v;
}

Ipv4Flow flow_of(const WireV4& w) {
  return {raw32(w.client_addr), raw32(w.host_addr), raw16(w.client_port), raw16(w.host_port)};
}
Ipv6Flow flow_of(const WireV6& w) {
  return {w.client_addr, w.host_addr, raw16(w.client_port), raw16(w.host_port)};
}

class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}
  template <size_t N>
  std::array<uint8_t, N> bytes() {
    std::array<uint8_t, N> b{};
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }
  uint32_t u32() { return static_cast<uint32_t>(rng_()); }
  CookieKeyPair keys() { return {SipKey::from_bytes(bytes<16>()), SipKey::from_bytes(bytes<16>())}; }
  WireV4 v4() { return {bytes<4>(), bytes<4>(), bytes<2>(), bytes<2>()}; }
  WireV6 v6() { return {bytes<16>(), bytes<16>(), bytes<2>(), bytes<2>()}; }

 private:
  std::mt19937_64 rng_;
};

class CookieTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
};

TEST_F(CookieTest, V4CookieEqualsTheKernelFormulaOverWireBytes) {
  Random rnd(41);
  for (int i = 0; i < 5000; ++i) {
    const auto keys = rnd.keys();
    const WireV4 w = rnd.v4();
    const uint32_t isn = rnd.u32(), count = rnd.u32();
    const uint32_t data = rnd.u32() % 4;
    ASSERT_EQ(make_cookie_v4(keys, flow_of(w), isn, count, data),
              reference_cookie(w, keys, isn, count, data, reference_hash_v4))
        << "round " << i;
  }
}

TEST_F(CookieTest, V6CookieEqualsTheKernelFormulaOverWireBytes) {
  Random rnd(61);
  for (int i = 0; i < 5000; ++i) {
    const auto keys = rnd.keys();
    const WireV6 w = rnd.v6();
    const uint32_t isn = rnd.u32(), count = rnd.u32();
    const uint32_t data = rnd.u32() % 4;
    ASSERT_EQ(make_cookie_v6(keys, flow_of(w), isn, count, data),
              reference_cookie(w, keys, isn, count, data, reference_hash_v6))
        << "round " << i;
  }
}

TEST_F(CookieTest, RoundTripsRecoverTheMssIndexInBothFamilies) {
  Random rnd(7);
  for (int i = 0; i < 2000; ++i) {
    const auto keys = rnd.keys();
    const uint32_t isn = rnd.u32(), count = rnd.u32();
    const uint8_t idx = static_cast<uint8_t>(i % 4);
    const Ipv4Flow f4 = flow_of(rnd.v4());
    const Ipv6Flow f6 = flow_of(rnd.v6());
    // The ACK carries seq = isn + 1 and ack_seq = cookie + 1.
    const CookieCheck c4 =
        check_cookie_v4(keys, f4, isn + 1, make_cookie_v4(keys, f4, isn, count, idx) + 1, count);
    const CookieCheck c6 =
        check_cookie_v6(keys, f6, isn + 1, make_cookie_v6(keys, f6, isn, count, idx) + 1, count);
    ASSERT_EQ(c4.status, CookieStatus::kValid);
    ASSERT_EQ(c4.mss_index, idx);
    ASSERT_EQ(c6.status, CookieStatus::kValid);
    ASSERT_EQ(c6.mss_index, idx);
  }
}

TEST_F(CookieTest, AcceptedAtItsCountAndTheNextRejectedTwoLaterOrFromTheFuture) {
  Random rnd(11);
  const auto keys = rnd.keys();
  const Ipv4Flow f4 = flow_of(rnd.v4());
  const Ipv6Flow f6 = flow_of(rnd.v6());
  const uint32_t isn = 0x12345678;
  // Includes counts whose low byte wraps (the age test is on 8 bits) and the u32 wrap.
  for (uint32_t made_at : {1000u, 0xFFu, 0x1FFu, 0xFFFFFFFEu, 0xFFFFFFFFu}) {
    const uint32_t cookie4 = make_cookie_v4(keys, f4, isn, made_at, 2);
    const uint32_t cookie6 = make_cookie_v6(keys, f6, isn, made_at, 2);
    auto status4 = [&](uint32_t now) {
      return check_cookie_v4(keys, f4, isn + 1, cookie4 + 1, now).status;
    };
    auto status6 = [&](uint32_t now) {
      return check_cookie_v6(keys, f6, isn + 1, cookie6 + 1, now).status;
    };
    EXPECT_EQ(status4(made_at), CookieStatus::kValid) << made_at;
    EXPECT_EQ(status4(made_at + 1), CookieStatus::kValid) << made_at;
    EXPECT_EQ(status4(made_at + 2), CookieStatus::kOutOfWindow) << made_at;
    EXPECT_EQ(status4(made_at - 1), CookieStatus::kOutOfWindow) << made_at;
    EXPECT_EQ(status6(made_at), CookieStatus::kValid) << made_at;
    EXPECT_EQ(status6(made_at + 1), CookieStatus::kValid) << made_at;
    EXPECT_EQ(status6(made_at + 2), CookieStatus::kOutOfWindow) << made_at;
    EXPECT_EQ(status6(made_at - 1), CookieStatus::kOutOfWindow) << made_at;
  }
}

TEST_F(CookieTest, AnyChangedFieldOrKeyInvalidatesTheCookie) {
  Random rnd(13);
  int rejected = 0, trials = 0;
  for (int i = 0; i < 500; ++i) {
    const auto keys = rnd.keys();
    const Ipv4Flow f = flow_of(rnd.v4());
    const uint32_t isn = rnd.u32(), count = rnd.u32();
    const uint32_t ack = make_cookie_v4(keys, f, isn, count, 3) + 1;
    std::vector<CookieCheck> variants;
    Ipv4Flow g = f;
    g.client_port ^= 1;
    variants.push_back(check_cookie_v4(keys, g, isn + 1, ack, count));
    g = f;
    g.host_addr ^= 0x01000000;
    variants.push_back(check_cookie_v4(keys, g, isn + 1, ack, count));
    variants.push_back(check_cookie_v4(keys, f, isn + 1 + 0x10000, ack, count));  // other ISN
    variants.push_back(check_cookie_v4(rnd.keys(), f, isn + 1, ack, count));
    CookieKeyPair swapped{keys[1], keys[0]};
    variants.push_back(check_cookie_v4(swapped, f, isn + 1, ack, count));
    for (const auto& v : variants) {
      ++trials;
      rejected += v.status != CookieStatus::kValid;
    }
  }
  // A forgery passes only if its garbage lands in a 2/256 count window and below 4 in 2^24.
  EXPECT_EQ(rejected, trials);
}

TEST_F(CookieTest, IsnIsAddedLinearlySoASmallIsnShiftMovesTheDecodedIndex) {
  // The kernel adds the client ISN to the cookie; an ACK whose seq is k higher decodes to
  // mss_index - k. synwarden must reproduce this quirk, not "fix" it: the host accepts such ACKs.
  Random rnd(19);
  const auto keys = rnd.keys();
  const Ipv4Flow f = flow_of(rnd.v4());
  const uint32_t isn = 1000, count = 77;
  const uint32_t ack = make_cookie_v4(keys, f, isn, count, 3) + 1;
  for (uint32_t k = 0; k < 4; ++k) {
    const CookieCheck c = check_cookie_v4(keys, f, isn + 1 + k, ack, count);
    EXPECT_EQ(c.status, CookieStatus::kValid) << k;
    EXPECT_EQ(c.mss_index, 3 - k) << k;
  }
  EXPECT_NE(check_cookie_v4(keys, f, isn + 1 + 4, ack, count).status, CookieStatus::kValid);
}

TEST_F(CookieTest, ClientAndHostSidesAreNotInterchangeable) {
  Random rnd(17);
  const auto keys = rnd.keys();
  const Ipv4Flow f = flow_of(rnd.v4());
  const Ipv4Flow reversed{f.host_addr, f.client_addr, f.host_port, f.client_port};
  EXPECT_NE(make_cookie_v4(keys, f, 1, 5, 0), make_cookie_v4(keys, reversed, 1, 5, 0));
}

TEST(CookieMss, V4TableIndexFollowsInitSequenceAtEveryBoundary) {
  // {client MSS, index}: msstab = {536, 1300, 1440, 1460}.
  const std::array<std::pair<uint16_t, uint8_t>, 12> cases{{{0, 0},
                                                            {535, 0},
                                                            {536, 0},
                                                            {1299, 0},
                                                            {1300, 1},
                                                            {1439, 1},
                                                            {1440, 2},
                                                            {1459, 2},
                                                            {1460, 3},
                                                            {1461, 3},
                                                            {9000, 3},
                                                            {65535, 3}}};
  for (const auto& [mss, idx] : cases) {
    EXPECT_EQ(cookie_mss_index(kMssTableV4, mss), idx) << "MSS " << mss;
  }
}

TEST(CookieMss, V6TableIndexFollowsInitSequenceAtEveryBoundary) {
  // msstab6 = {1220, 1420, 1440, 8940}.
  const std::array<std::pair<uint16_t, uint8_t>, 12> cases{{{535, 0},
                                                            {536, 0},
                                                            {1219, 0},
                                                            {1220, 0},
                                                            {1299, 0},
                                                            {1300, 0},
                                                            {1420, 1},
                                                            {1459, 2},
                                                            {1460, 2},
                                                            {8939, 2},
                                                            {8940, 3},
                                                            {9000, 3}}};
  for (const auto& [mss, idx] : cases) {
    EXPECT_EQ(cookie_mss_index(kMssTableV6, mss), idx) << "MSS " << mss;
  }
}

TEST(CookieMss, TablesAreTheKernels) {
  EXPECT_EQ(kMssTableV4, (std::array<uint16_t, 4>{536, 1300, 1440, 1460}));
  EXPECT_EQ(kMssTableV6, (std::array<uint16_t, 4>{1280 - 60, 1480 - 60, 1500 - 60, 9000 - 60}));
}

}  // namespace
}  // namespace synwarden
