// The specialised SipHash-2-4 functions must equal standard SipHash-2-4 over the byte layout the
// kernel hashes: checked against the reference implementation's published vectors and against
// libsodium's independent crypto_shorthash_siphash24 on random inputs of every size used.
#include "synwarden/siphash.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

namespace synwarden {
namespace {

// vectors_sip64[len] from the SipHash reference implementation (veorq/SipHash vectors.h): key
// 00 01 .. 0f, message 00 01 .. (len-1), output bytes little-endian.
uint64_t reference_vector(size_t len) {
  static const std::array<std::pair<size_t, std::array<uint8_t, 8>>, 7> kVectors{{
      {8, {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93}},
      {12, {0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75}},
      {15, {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1}},  // the paper's worked example
      {16, {0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f}},
      {32, {0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71}},
      {36, {0xb4, 0xa3, 0x15, 0x08, 0xbe, 0xff, 0x4d, 0x31}},
      {40, {0xd0, 0xa7, 0x04, 0x53, 0x6b, 0xa9, 0x3e, 0x0e}},
  }};
  for (const auto& [l, bytes] : kVectors) {
    if (l == len) {
      uint64_t v;
      std::memcpy(&v, bytes.data(), 8);
      return v;
    }
  }
  ADD_FAILURE() << "no reference vector for length " << len;
  return 0;
}

SipKey counting_key() {
  std::array<uint8_t, 16> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i);
  return SipKey::from_bytes(k);
}

std::vector<uint8_t> counting_message(size_t len) {
  std::vector<uint8_t> m(len);
  for (size_t i = 0; i < len; ++i) m[i] = static_cast<uint8_t>(i);
  return m;
}

uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint16_t le16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
In6Bytes in6_at(const uint8_t* p) {
  In6Bytes a;
  std::memcpy(a.data(), p, 16);
  return a;
}

// Each specialised function, fed the kernel's argument form of the given message bytes.
uint64_t specialised(size_t len, const uint8_t* m, const SipKey& k) {
  switch (len) {
    case 8:
      return siphash_2u32(le32(m), le32(m + 4), k);
    case 12:
      return siphash_3u32(le32(m), le32(m + 4), le32(m + 8), k);
    case 16:
      return siphash_4u32(le32(m), le32(m + 4), le32(m + 8), le32(m + 12), k);
    case 32:
      return siphash_in6_pair(in6_at(m), in6_at(m + 16), k);
    case 36:
      return siphash_in6_pair_ports(in6_at(m), in6_at(m + 16), le16(m + 32), le16(m + 34), k);
    case 40:
      return siphash_in6_pair_count_ports(in6_at(m), in6_at(m + 16), le32(m + 32),
                                          le16(m + 36), le16(m + 38), k);
    default:
      ADD_FAILURE() << "no specialised SipHash for " << len << " bytes";
      return 0;
  }
}

uint64_t libsodium(const uint8_t* m, size_t len, const std::array<uint8_t, 16>& key) {
  std::array<uint8_t, crypto_shorthash_siphash24_BYTES> out{};
  crypto_shorthash_siphash24(out.data(), m, len, key.data());
  uint64_t v;
  std::memcpy(&v, out.data(), 8);
  return v;
}

constexpr std::array<size_t, 6> kKernelSizes{8, 12, 16, 32, 36, 40};

TEST(SipHash, LibsodiumAgreesWithThePaperVectorsSoItIsATrustworthyOracle) {
  ASSERT_GE(sodium_init(), 0);
  std::array<uint8_t, 16> key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  for (size_t len : {size_t{8}, size_t{12}, size_t{15}, size_t{16}, size_t{32}, size_t{36},
                     size_t{40}}) {
    const auto m = counting_message(len);
    EXPECT_EQ(libsodium(m.data(), len, key), reference_vector(len)) << len << " bytes";
  }
}

TEST(SipHash, EverySpecialisedSizeMatchesThePaperVector) {
  const SipKey key = counting_key();
  for (size_t len : kKernelSizes) {
    const auto m = counting_message(len);
    EXPECT_EQ(specialised(len, m.data(), key), reference_vector(len)) << len << " bytes";
  }
}

TEST(SipHash, EverySpecialisedSizeMatchesLibsodiumOnRandomKeysAndInputs) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937_64 rng(0x5e11c00c1e5ULL);  // fixed: a failure must reproduce
  constexpr int kRounds = 20000;
  for (size_t len : kKernelSizes) {
    for (int i = 0; i < kRounds; ++i) {
      std::array<uint8_t, 16> key{};
      std::array<uint8_t, 40> msg{};
      for (auto& b : key) b = static_cast<uint8_t>(rng());
      for (auto& b : msg) b = static_cast<uint8_t>(rng());
      const uint64_t want = libsodium(msg.data(), len, key);
      const uint64_t got = specialised(len, msg.data(), SipKey::from_bytes(key));
      ASSERT_EQ(got, want) << len << " bytes, round " << i;
    }
  }
}

TEST(SipHash, KeyIsTheSixteenBytesAsTheyLieInKernelMemory) {
  // siphash_key_t { u64 key[2]; } on a little-endian host: byte 0 is the low byte of key[0].
  std::array<uint8_t, 16> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(0xa0 + i);
  const SipKey k = SipKey::from_bytes(bytes);
  EXPECT_EQ(k.k0, 0xa7a6a5a4a3a2a1a0ULL);
  EXPECT_EQ(k.k1, 0xafaeadacabaaa9a8ULL);
  EXPECT_EQ(k.bytes(), bytes);
  EXPECT_FALSE(k.is_zero());
  EXPECT_TRUE(SipKey{}.is_zero());
}

TEST(SipHash, TwoU32IsOneU64WithTheSecondWordHigh) {
  // siphash_2u32(a, b) == siphash_1u64((u64)b << 32 | a): swapping the words changes the hash.
  const SipKey key = counting_key();
  EXPECT_NE(siphash_2u32(1, 2, key), siphash_2u32(2, 1, key));
}

}  // namespace
}  // namespace synwarden
