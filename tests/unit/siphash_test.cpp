// The specialised SipHash-2-4 functions must equal standard SipHash-2-4 over the byte layout the
// kernel hashes: checked against the reference implementation's published vectors and against
// libsodium's independent crypto_shorthash_siphash24 on random inputs of every size used.
#include "synwarden/siphash.h"
#include "synwarden/syn_hashes.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <random>
#include <type_traits>
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

// ---- lockstep: several hashes side by side (siphash_lockstep, syn_hashes.h) ----

// The production block form of each kernel size, from the message bytes (as specialised()).
SipBlocks blocks_of(size_t len, const uint8_t* m) {
  switch (len) {
    case 8: return sip_blocks_2u32(le32(m), le32(m + 4));
    case 12: return sip_blocks_3u32(le32(m), le32(m + 4), le32(m + 8));
    case 16: return sip_blocks_4u32(le32(m), le32(m + 4), le32(m + 8), le32(m + 12));
    case 32: return sip_blocks_in6_pair(in6_at(m), in6_at(m + 16));
    case 36: return sip_blocks_in6_pair_ports(in6_at(m), in6_at(m + 16), le16(m + 32), le16(m + 34));
    case 40:
      return sip_blocks_in6_pair_count_ports(in6_at(m), in6_at(m + 16), le32(m + 32),
                                             le16(m + 36), le16(m + 38));
    default: ADD_FAILURE() << "no block form for " << len << " bytes"; return {};
  }
}

// The kernel sizes whose messages have `blocks` blocks (final block included).
std::vector<size_t> sizes_with_blocks(size_t blocks) {
  std::vector<size_t> out;
  for (size_t len : kKernelSizes) {
    if (len / 8 + 1 == blocks) out.push_back(len);
  }
  return out;
}

// Runs siphash_lockstep<Blocks...> on random keys and messages of random kernel sizes with
// those block counts, and compares every lane with libsodium over the message bytes.
template <size_t... Blocks>
void expect_lockstep_matches_libsodium(std::mt19937_64& rng, int rounds) {
  constexpr size_t kLanes = sizeof...(Blocks);
  const std::array<size_t, kLanes> blocks{Blocks...};
  for (int r = 0; r < rounds; ++r) {
    std::array<std::array<uint8_t, 16>, kLanes> key_bytes{};
    std::array<SipKey, kLanes> keys{};
    std::array<const SipKey*, kLanes> key_ptrs{};
    std::array<std::array<uint8_t, 40>, kLanes> msg{};
    std::array<size_t, kLanes> len{};
    std::array<SipBlocks, kLanes> in{};
    for (size_t i = 0; i < kLanes; ++i) {
      for (auto& b : key_bytes[i]) b = static_cast<uint8_t>(rng());
      for (auto& b : msg[i]) b = static_cast<uint8_t>(rng());
      keys[i] = SipKey::from_bytes(key_bytes[i]);
      key_ptrs[i] = &keys[i];
      const auto sizes = sizes_with_blocks(blocks[i]);
      ASSERT_FALSE(sizes.empty()) << blocks[i] << " blocks";
      len[i] = sizes[rng() % sizes.size()];
      in[i] = blocks_of(len[i], msg[i].data());
    }
    const auto got = siphash_lockstep<Blocks...>(key_ptrs, in);
    for (size_t i = 0; i < kLanes; ++i) {
      ASSERT_EQ(got[i], libsodium(msg[i].data(), len[i], key_bytes[i]))
          << "lane " << i << " of " << kLanes << ", " << len[i] << " bytes, round " << r;
    }
  }
}

TEST(SipHashLockstep, EveryLaneMatchesLibsodiumForEveryKernelSizeAndLaneMix) {
  ASSERT_GE(sodium_init(), 0);
  std::mt19937_64 rng(0x10c55e9ULL);
  constexpr int kRounds = 3000;
  // What the SYN path runs: the cookie's two hashes, with and without ts_off's.
  expect_lockstep_matches_libsodium<3, 3, 2>(rng, kRounds);
  expect_lockstep_matches_libsodium<3, 3>(rng, kRounds);
  expect_lockstep_matches_libsodium<6, 6, 5>(rng, kRounds);
  expect_lockstep_matches_libsodium<6, 6>(rng, kRounds);
  // Lanes of other lengths and orders: a shorter lane finishes early wherever it sits.
  expect_lockstep_matches_libsodium<2, 5, 6>(rng, kRounds);
  expect_lockstep_matches_libsodium<6, 2>(rng, kRounds);
  expect_lockstep_matches_libsodium<5, 3, 2>(rng, kRounds);
  expect_lockstep_matches_libsodium<2, 2, 2>(rng, kRounds);
  expect_lockstep_matches_libsodium<5>(rng, kRounds);
}

TEST(SipHashLockstep, EachBlockFormIsItsSpecialisedFunction) {
  // The block builders must describe the same messages as the functions the kernel's callers
  // mirror (a wrong final block would still agree with libsodium on *some* byte layout).
  std::mt19937_64 rng(0xb10c5ULL);
  for (int r = 0; r < 2000; ++r) {
    std::array<uint8_t, 16> kb{};
    std::array<uint8_t, 40> m{};
    for (auto& b : kb) b = static_cast<uint8_t>(rng());
    for (auto& b : m) b = static_cast<uint8_t>(rng());
    const SipKey k = SipKey::from_bytes(kb);
    for (size_t len : kKernelSizes) {
      const SipBlocks blocks = blocks_of(len, m.data());
      uint64_t got = 0;
      switch (len / 8 + 1) {
        case 2: got = siphash_lockstep<2>({&k}, {blocks})[0]; break;
        case 3: got = siphash_lockstep<3>({&k}, {blocks})[0]; break;
        case 5: got = siphash_lockstep<5>({&k}, {blocks})[0]; break;
        case 6: got = siphash_lockstep<6>({&k}, {blocks})[0]; break;
      }
      ASSERT_EQ(got, specialised(len, m.data(), k)) << len << " bytes";
    }
  }
}

template <typename Flow>
void expect_syn_hashes_match_reference(std::mt19937_64& rng, const Flow& f) {
  const CookieKeyPair keys{SipKey{rng(), rng()}, SipKey{rng(), rng()}};
  const SipKey ts_key{rng(), rng()};
  const auto isn = static_cast<uint32_t>(rng());
  const auto count = static_cast<uint32_t>(rng());
  const auto mss_index = static_cast<uint32_t>(rng() % 4);
  for (TsOffsetMode mode : {TsOffsetMode::kPerConnection, TsOffsetMode::kPerHost}) {
    uint32_t cookie = 0;
    if constexpr (std::is_same_v<Flow, Ipv4Flow>) cookie = make_cookie_v4(keys, f, isn, count, mss_index);
    else cookie = make_cookie_v6(keys, f, isn, count, mss_index);
    const CookieAndTsOff with = make_cookie_and_ts_off(keys, f, isn, count, mss_index, true, mode, ts_key);
    ASSERT_EQ(with.cookie, cookie);
    ASSERT_EQ(with.ts_off, host_ts_off(mode, ts_key, f, 1));
    const CookieAndTsOff without =
        make_cookie_and_ts_off(keys, f, isn, count, mss_index, false, mode, ts_key);
    ASSERT_EQ(without.cookie, cookie);
    ASSERT_EQ(without.ts_off, 0u);
  }
}

TEST(SipHashLockstep, SynHashesAreTheCookieAndTsOffOfTheReferenceFunctions) {
  std::mt19937_64 rng(0x5ca1ab1eULL);
  for (int r = 0; r < 5000; ++r) {
    Ipv4Flow f4{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng())};
    expect_syn_hashes_match_reference(rng, f4);
    Ipv6Flow f6;
    for (auto& b : f6.client_addr) b = static_cast<uint8_t>(rng());
    for (auto& b : f6.host_addr) b = static_cast<uint8_t>(rng());
    f6.client_port = static_cast<uint16_t>(rng());
    f6.host_port = static_cast<uint16_t>(rng());
    expect_syn_hashes_match_reference(rng, f6);
  }
}

}  // namespace
}  // namespace synwarden
