// The outbound SYN stamp (synwarden/outbound_stamp.h): the MAC is standard SipHash-2-4 over the
// documented byte layout (libsodium is the oracle), the stamped TSval carries the MAC in its low
// bits and never moves forward or more than the mask back, and the secrets document carries the
// key.
#include "synwarden/outbound_stamp.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "synwarden/secrets.h"

namespace synwarden {
namespace {

uint32_t oracle_mac(const SipKey& key, const OutboundTuple& t, uint32_t isn) {
  std::vector<uint8_t> msg;
  auto put = [&msg](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    msg.insert(msg.end(), b, b + n);
  };
  const size_t alen = t.v6 ? 16 : 4;
  put(t.host.data(), alen);
  put(t.remote.data(), alen);
  put(&isn, 4);  // u32 in host (little-endian) order
  put(&t.host_port, 2);
  put(&t.remote_port, 2);
  const auto kb = key.bytes();
  uint64_t out = 0;
  crypto_shorthash_siphash24(reinterpret_cast<unsigned char*>(&out), msg.data(), msg.size(),
                             kb.data());
  return static_cast<uint32_t>(out) & kOutboundStampMask;
}

TEST(OutboundStamp, MacIsSipHashOverTheDocumentedLayoutForBothFamilies) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const SipKey key{rng(), rng()};
    OutboundTuple t;
    t.v6 = (i & 1) != 0;
    for (auto& b : t.host) b = static_cast<uint8_t>(rng());
    for (auto& b : t.remote) b = static_cast<uint8_t>(rng());
    if (!t.v6) {
      std::fill(t.host.begin() + 4, t.host.end(), 0);
      std::fill(t.remote.begin() + 4, t.remote.end(), 0);
    }
    t.host_port = static_cast<uint16_t>(rng());
    t.remote_port = static_cast<uint16_t>(rng());
    const auto isn = static_cast<uint32_t>(rng());
    ASSERT_EQ(outbound_stamp_mac(key, t, isn), oracle_mac(key, t, isn)) << "case " << i;
  }
}

TEST(OutboundStamp, MacDependsOnEveryField) {
  const SipKey key{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  OutboundTuple t;
  t.host = {192, 0, 2, 10};
  t.remote = {198, 51, 100, 7};
  t.host_port = 0x3930;  // 12345 in network order, read as a little-endian u16
  t.remote_port = 0x5000;
  const uint32_t base = outbound_stamp_mac(key, t, 1000);
  // 14 bits: a change of any input must change the MAC for most inputs; check a handful of
  // specific ones (fixed key, so the expectation is deterministic).
  int changed = 0;
  OutboundTuple u = t;
  u.host_port ^= 0x0100;
  changed += outbound_stamp_mac(key, u, 1000) != base;
  u = t;
  u.remote[3] ^= 1;
  changed += outbound_stamp_mac(key, u, 1000) != base;
  changed += outbound_stamp_mac(key, t, 1001) != base;
  changed += outbound_stamp_mac(SipKey{key.k0 ^ 1, key.k1}, t, 1000) != base;
  EXPECT_EQ(changed, 4);
}

TEST(OutboundStamp, StampedTsvalCarriesTheMacAndNeverMovesForward) {
  std::mt19937 rng(3);
  const std::array<uint32_t, 6> edges{0u, 1u, kOutboundStampMask, kOutboundStampMask + 1,
                                      0xffffffffu, 0x80000000u};
  std::vector<uint32_t> values(edges.begin(), edges.end());
  for (int i = 0; i < 100000; ++i) values.push_back(static_cast<uint32_t>(rng()));
  for (uint32_t tsval : values) {
    const uint32_t mac = static_cast<uint32_t>(rng()) & kOutboundStampMask;
    const uint32_t s = outbound_stamp_tsval(tsval, mac);
    ASSERT_TRUE(outbound_stamp_matches(s, mac)) << tsval;
    const uint32_t back = tsval - s;  // mod 2^32: how far the stamp moved TSval back
    ASSERT_LE(back, kOutboundStampMask) << tsval << " -> " << s;
  }
  // The value itself when its low bits already are the MAC.
  EXPECT_EQ(outbound_stamp_tsval(0x12345678u, 0x12345678u & kOutboundStampMask), 0x12345678u);
  // Across zero: 5 with MAC 10 goes back to 10 - 2^14 (mod 2^32).
  EXPECT_EQ(outbound_stamp_tsval(5, 10), 10u - (1u << kOutboundStampBits));
}

TEST(OutboundStamp, SecretsDocumentCarriesTheOptionalKey) {
  HostSecrets s;
  s.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
  s.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
  s.ts_key = SipKey{9, 10};
  s.clock.hz = 250;
  const std::string without = serialize_secrets(s);
  EXPECT_EQ(without.find("outbound_key"), std::string::npos);
  EXPECT_FALSE(parse_secrets(without, "test").outbound_key.has_value());

  s.outbound_key = SipKey{0x1111, 0x2222};
  const HostSecrets back = parse_secrets(serialize_secrets(s), "test");
  ASSERT_TRUE(back.outbound_key.has_value());
  EXPECT_EQ(*back.outbound_key, *s.outbound_key);

  std::string zero = serialize_secrets(s);
  const auto at = zero.find("\"outbound_key\":\"");
  ASSERT_NE(at, std::string::npos);
  zero.replace(at + 16, 32, std::string(32, '0'));
  EXPECT_THROW(parse_secrets(zero, "test"), SecretsError);
}

}  // namespace
}  // namespace synwarden
