// Internet checksum: the fast 64-bit implementation must agree with a naive byte-wise RFC 1071
// sum on every length and alignment, with the published examples, and incremental updates
// (RFC 1624) must equal a full recomputation.
#include "synwarden/checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "data/codec_test_support.h"

namespace synwarden {
namespace {

using codec_test::naive_checksum;
using codec_test::naive_fold;

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(Checksum, Rfc1071WorkedExampleSumsToDdf2) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
  const std::vector<uint8_t> data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  const auto acc = checksum_add(ChecksumAccumulator{}, data.data(), data.size());
  EXPECT_EQ(checksum_fold(acc), 0xddf2);
  EXPECT_EQ(checksum_finish(acc), 0x220d);
}

TEST(Checksum, KnownIpv4HeaderGetsItsPublishedChecksum) {
  // 192.168.0.1 -> 192.168.0.199 UDP header whose checksum field carries b861.
  const std::vector<uint8_t> iph{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ipv4_header_checksum(iph.data(), iph.size()), 0xb861);
  EXPECT_TRUE(ipv4_header_checksum_ok(iph.data(), iph.size()));
}

TEST(Checksum, MatchesNaiveSumForEveryLengthAndAlignment) {
  std::mt19937 rng(1071);
  for (size_t align = 0; align < 8; ++align) {
    for (size_t len = 0; len <= 300; ++len) {
      std::vector<uint8_t> buf = random_bytes(rng, align + len);
      const std::vector<uint8_t> region(buf.begin() + static_cast<long>(align), buf.end());
      const auto acc = checksum_add(ChecksumAccumulator{}, buf.data() + align, len);
      ASSERT_EQ(checksum_fold(acc), naive_fold(region)) << "len " << len << " align " << align;
      ASSERT_EQ(checksum_finish(acc), naive_checksum(region)) << "len " << len;
    }
  }
}

TEST(Checksum, AllOnesDataDoesNotLoseCarries) {
  // Worst case for deferred carries: every 64-bit add overflows.
  for (size_t len : {2u, 8u, 64u, 1500u, 9000u}) {
    const std::vector<uint8_t> ones(len, 0xFF);
    EXPECT_EQ(checksum_fold(checksum_add(ChecksumAccumulator{}, ones.data(), len)),
              naive_fold(ones))
        << len;
  }
}

TEST(Checksum, EvenChunksChainToTheSameSumAsOneBuffer) {
  std::mt19937 rng(7);
  const std::vector<uint8_t> data = random_bytes(rng, 181);
  for (size_t split = 0; split <= data.size(); split += 2) {
    auto acc = checksum_add(ChecksumAccumulator{}, data.data(), split);
    acc = checksum_add(acc, data.data() + split, data.size() - split);
    ASSERT_EQ(checksum_finish(acc), naive_checksum(data)) << "split " << split;
  }
}

TEST(Checksum, Ipv4HeaderWithOptionsIgnoresItsOwnChecksumField) {
  std::mt19937 rng(4);
  for (size_t ihl = 5; ihl <= 15; ++ihl) {
    std::vector<uint8_t> iph = random_bytes(rng, ihl * 4);
    std::vector<uint8_t> zeroed = iph;
    zeroed[10] = zeroed[11] = 0;
    const uint16_t expected = naive_checksum(zeroed);
    EXPECT_EQ(ipv4_header_checksum(iph.data(), iph.size()), expected) << "ihl " << ihl;
    codec_test::put16_at(iph, 10, expected);
    EXPECT_TRUE(ipv4_header_checksum_ok(iph.data(), iph.size()));
    iph[3] ^= 0x10;
    EXPECT_FALSE(ipv4_header_checksum_ok(iph.data(), iph.size()));
  }
}

TEST(Checksum, TcpOverIpv4PseudoHeaderMatchesNaive) {
  std::mt19937 rng(793);
  const uint8_t saddr[4] = {192, 0, 2, 1};
  const uint8_t daddr[4] = {198, 51, 100, 7};
  for (size_t len = 20; len <= 120; ++len) {  // odd payload lengths included
    std::vector<uint8_t> seg = random_bytes(rng, len);
    const uint16_t expected =
        naive_checksum(codec_test::tcp_checksum_input(saddr, daddr, 4, seg.data(), len));
    ASSERT_EQ(tcp_checksum_v4(saddr, daddr, seg.data(), len), expected) << "len " << len;
    codec_test::put16_at(seg, 16, expected);
    ASSERT_TRUE(tcp_checksum_ok_v4(saddr, daddr, seg.data(), len));
    seg[len - 1] ^= 0x01;
    ASSERT_FALSE(tcp_checksum_ok_v4(saddr, daddr, seg.data(), len));
  }
}

TEST(Checksum, TcpOverIpv6PseudoHeaderMatchesNaive) {
  std::mt19937 rng(8200);
  uint8_t saddr[16] = {0x20, 0x01, 0x0d, 0xb8};
  uint8_t daddr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
  saddr[15] = 1;
  daddr[15] = 0xfe;
  for (size_t len = 20; len <= 120; ++len) {
    std::vector<uint8_t> seg = random_bytes(rng, len);
    const uint16_t expected =
        naive_checksum(codec_test::tcp_checksum_input(saddr, daddr, 16, seg.data(), len));
    ASSERT_EQ(tcp_checksum_v6(saddr, daddr, seg.data(), len), expected) << "len " << len;
    codec_test::put16_at(seg, 16, expected);
    ASSERT_TRUE(tcp_checksum_ok_v6(saddr, daddr, seg.data(), len));
    saddr[3] ^= 0x40;  // the pseudo-header is covered too
    ASSERT_FALSE(tcp_checksum_ok_v6(saddr, daddr, seg.data(), len));
    saddr[3] ^= 0x40;
  }
}

// For incremental updates the oracle is "store the new value and recompute from scratch".
class IncrementalUpdate : public ::testing::Test {
 protected:
  std::mt19937 rng_{1624};
};

TEST_F(IncrementalUpdate, Replacing16BitFieldEqualsRecomputation) {
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> data = random_bytes(rng_, 40);
    const size_t at = 2 * (rng_() % 20);
    const uint16_t before = naive_checksum(data);
    const uint16_t old_value = codec_test::be16_at(data, at);
    const auto new_value = static_cast<uint16_t>(rng_());
    codec_test::put16_at(data, at, new_value);
    ASSERT_EQ(checksum_update16(before, old_value, new_value), naive_checksum(data));
  }
}

TEST_F(IncrementalUpdate, NeverProducesNegativeZeroWhereRecomputationGivesZero) {
  // RFC 1624 section 3: equation 2 (~C + -m + m') yields 0xFFFF where the true checksum is
  // 0x0000. Region {a, b} with checksum 0 needs a + b == 0xFFFF.
  for (uint32_t a = 0; a <= 0xFFFF; a += 0x111) {
    const auto b = static_cast<uint16_t>(0xFFFF - a);
    const std::vector<uint8_t> after{static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a),
                                     static_cast<uint8_t>(b >> 8), static_cast<uint8_t>(b)};
    ASSERT_EQ(naive_checksum(after), 0x0000);
    const auto old_a = static_cast<uint16_t>(a ^ 0x5A5A);
    const std::vector<uint8_t> before{static_cast<uint8_t>(old_a >> 8),
                                      static_cast<uint8_t>(old_a), after[2], after[3]};
    ASSERT_EQ(checksum_update16(naive_checksum(before), old_a, static_cast<uint16_t>(a)), 0x0000)
        << "a " << a;
  }
}

TEST_F(IncrementalUpdate, Replacing32BitFieldEqualsRecomputation) {
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> data = random_bytes(rng_, 40);
    const size_t at = 2 * (rng_() % 19);  // 16-bit aligned, not necessarily 32-bit
    const uint16_t before = naive_checksum(data);
    const uint32_t old_value = codec_test::be32_at(data, at);
    const auto new_value = static_cast<uint32_t>(rng_());
    codec_test::put16_at(data, at, static_cast<uint16_t>(new_value >> 16));
    codec_test::put16_at(data, at + 2, static_cast<uint16_t>(new_value));
    ASSERT_EQ(checksum_update32(before, old_value, new_value), naive_checksum(data));
  }
}

TEST_F(IncrementalUpdate, ReplacingAnIpv6AddressEqualsRecomputation) {
  for (int round = 0; round < 500; ++round) {
    std::vector<uint8_t> data = random_bytes(rng_, 60);
    const std::vector<uint8_t> old_addr(data.begin() + 8, data.begin() + 24);
    const std::vector<uint8_t> new_addr = random_bytes(rng_, 16);
    const uint16_t before = naive_checksum(data);
    std::copy(new_addr.begin(), new_addr.end(), data.begin() + 8);
    ASSERT_EQ(checksum_update_bytes(before, old_addr.data(), new_addr.data(), 16),
              naive_checksum(data));
  }
}

TEST_F(IncrementalUpdate, AppliedToARealTcpChecksumKeepsItVerifiable) {
  // NAT-style port rewrite on a segment: the updated checksum must still verify.
  const uint8_t saddr[4] = {203, 0, 113, 5};
  const uint8_t daddr[4] = {192, 0, 2, 80};
  std::vector<uint8_t> seg = random_bytes(rng_, 32);
  codec_test::put16_at(seg, 16, tcp_checksum_v4(saddr, daddr, seg.data(), seg.size()));
  const uint16_t old_port = codec_test::be16_at(seg, 2);
  codec_test::put16_at(seg, 2, 8080);
  codec_test::put16_at(seg, 16, checksum_update16(codec_test::be16_at(seg, 16), old_port, 8080));
  EXPECT_TRUE(tcp_checksum_ok_v4(saddr, daddr, seg.data(), seg.size()));
}

}  // namespace
}  // namespace synwarden
