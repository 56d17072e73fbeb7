// SipHash-2-4 exactly as the Linux kernel computes it (lib/siphash.c), specialised for the
// fixed-size inputs the TCP stack hashes. Every function is straight-line code: no loop over a
// generic buffer, no tail switch, so a cookie check inlines to a few dozen ALU instructions.
//
// Sizes used by the code this project mirrors:
//   8 bytes  siphash_2u32  secure_tcp_ts_off()                      (per-host ts_off, IPv4)
//  12 bytes  siphash_3u32  secure_tcp_seq_and_ts_off()              (per-connection ts_off, IPv4)
//  16 bytes  siphash_4u32  cookie_hash() in net/ipv4/syncookies.c
//  32 bytes  siphash()     secure_tcpv6_ts_off(): {in6_addr saddr, daddr}
//  36 bytes  siphash()     secure_tcpv6_seq_and_ts_off(): {saddr, daddr, __be16 sport, dport}
//  40 bytes  siphash()     cookie_hash() in net/ipv6/syncookies.c:
//                          {saddr, daddr, u32 count, __be16 sport, dport} (offsetofend(dport))
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace synwarden {

// The kernel feeds its hashes raw header fields ((__force u32) of __be32 values) and reads
// struct bytes as little-endian u64 words. Reproducing that on a big-endian machine would need
// explicit swaps everywhere; the firewall and the hosts it protects are x86-64/arm64.
static_assert(std::endian::native == std::endian::little,
              "synwarden's cookie engine mirrors little-endian Linux hosts and assumes a "
              "little-endian build machine");

// siphash_key_t { u64 key[2]; }: the 16 key bytes as they lie in kernel memory, read as two
// little-endian u64 (key[0] = bytes 0..7).
struct SipKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;

  static SipKey from_bytes(const std::array<uint8_t, 16>& b) noexcept {
    SipKey k;
    std::memcpy(&k.k0, b.data(), 8);
    std::memcpy(&k.k1, b.data() + 8, 8);
    return k;
  }
  std::array<uint8_t, 16> bytes() const noexcept {
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &k0, 8);
    std::memcpy(b.data() + 8, &k1, 8);
    return b;
  }
  // net_get_random_once() fills a key on first use; until then it is all zero.
  bool is_zero() const noexcept { return (k0 | k1) == 0; }
  friend bool operator==(const SipKey&, const SipKey&) = default;
};

// Raw 16 bytes of an IPv6 address, in wire order.
using In6Bytes = std::array<uint8_t, 16>;

namespace sip_detail {

struct State {
  uint64_t v0, v1, v2, v3;
};

// SIPHASH_PERMUTATION in include/linux/siphash.h.
[[gnu::always_inline]] inline void round(State& s) noexcept {
  s.v0 += s.v1;
  s.v1 = std::rotl(s.v1, 13);
  s.v1 ^= s.v0;
  s.v0 = std::rotl(s.v0, 32);
  s.v2 += s.v3;
  s.v3 = std::rotl(s.v3, 16);
  s.v3 ^= s.v2;
  s.v0 += s.v3;
  s.v3 = std::rotl(s.v3, 21);
  s.v3 ^= s.v0;
  s.v2 += s.v1;
  s.v1 = std::rotl(s.v1, 17);
  s.v1 ^= s.v2;
  s.v2 = std::rotl(s.v2, 32);
}

// PREAMBLE(len) in lib/siphash.c ("somepseudorandomlygeneratedbytes").
[[gnu::always_inline]] inline State init(const SipKey& k) noexcept {
  return State{0x736f6d6570736575ULL ^ k.k0, 0x646f72616e646f6dULL ^ k.k1,
               0x6c7967656e657261ULL ^ k.k0, 0x7465646279746573ULL ^ k.k1};
}

// One 8-byte message word: two compression rounds (SipHash-2-x).
[[gnu::always_inline]] inline void compress(State& s, uint64_t m) noexcept {
  s.v3 ^= m;
  round(s);
  round(s);
  s.v0 ^= m;
}

// POSTAMBLE: the last block b = (total length << 56) | trailing bytes, then four
// finalisation rounds (SipHash-x-4).
[[gnu::always_inline]] inline uint64_t finish(State& s, uint64_t b) noexcept {
  compress(s, b);
  s.v2 ^= 0xff;
  round(s);
  round(s);
  round(s);
  round(s);
  return (s.v0 ^ s.v1) ^ (s.v2 ^ s.v3);
}

[[gnu::always_inline]] inline uint64_t load_le64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

[[gnu::always_inline]] inline void compress_in6(State& s, const In6Bytes& a) noexcept {
  compress(s, load_le64(a.data()));
  compress(s, load_le64(a.data() + 8));
}

inline constexpr uint64_t len_block(uint64_t len) noexcept { return len << 56; }

}  // namespace sip_detail

// siphash_2u32(first, second) == siphash_1u64((u64)second << 32 | first).
[[gnu::always_inline]] inline uint64_t siphash_2u32(uint32_t first, uint32_t second,
                                                    const SipKey& key) noexcept {
  auto s = sip_detail::init(key);
  sip_detail::compress(s, (uint64_t{second} << 32) | first);
  return sip_detail::finish(s, sip_detail::len_block(8));
}

// siphash_3u32 in lib/siphash.c: one full word, the third u32 in the final block.
[[gnu::always_inline]] inline uint64_t siphash_3u32(uint32_t first, uint32_t second,
                                                    uint32_t third, const SipKey& key) noexcept {
  auto s = sip_detail::init(key);
  sip_detail::compress(s, (uint64_t{second} << 32) | first);
  return sip_detail::finish(s, sip_detail::len_block(12) | third);
}

// siphash_4u32 == siphash_2u64((u64)b << 32 | a, (u64)d << 32 | c).
[[gnu::always_inline]] inline uint64_t siphash_4u32(uint32_t a, uint32_t b, uint32_t c,
                                                    uint32_t d, const SipKey& key) noexcept {
  auto s = sip_detail::init(key);
  sip_detail::compress(s, (uint64_t{b} << 32) | a);
  sip_detail::compress(s, (uint64_t{d} << 32) | c);
  return sip_detail::finish(s, sip_detail::len_block(16));
}

// siphash() over struct { struct in6_addr a; struct in6_addr b; } (32 bytes).
[[gnu::always_inline]] inline uint64_t siphash_in6_pair(const In6Bytes& a, const In6Bytes& b,
                                                        const SipKey& key) noexcept {
  auto s = sip_detail::init(key);
  sip_detail::compress_in6(s, a);
  sip_detail::compress_in6(s, b);
  return sip_detail::finish(s, sip_detail::len_block(32));
}

// siphash() over struct { in6_addr a; in6_addr b; __be16 pa; __be16 pb; } (36 bytes). Ports are
// raw network-order values; their bytes land at offsets 32..35 and form the final block.
[[gnu::always_inline]] inline uint64_t siphash_in6_pair_ports(const In6Bytes& a,
                                                              const In6Bytes& b, uint16_t pa,
                                                              uint16_t pb,
                                                              const SipKey& key) noexcept {
  auto s = sip_detail::init(key);
  sip_detail::compress_in6(s, a);
  sip_detail::compress_in6(s, b);
  const uint64_t tail = uint64_t{pa} | (uint64_t{pb} << 16);
  return sip_detail::finish(s, sip_detail::len_block(36) | tail);
}

// siphash() over struct { in6_addr a; in6_addr b; u32 count; __be16 pa; __be16 pb; }
// (40 bytes: five full words, empty final block).
[[gnu::always_inline]] inline uint64_t siphash_in6_pair_count_ports(const In6Bytes& a,
                                                                    const In6Bytes& b,
                                                                    uint32_t count, uint16_t pa,
                                                                    uint16_t pb,
                                                                    const SipKey& key) noexcept {
  auto s = sip_detail::init(key);
  sip_detail::compress_in6(s, a);
  sip_detail::compress_in6(s, b);
  sip_detail::compress(s, uint64_t{count} | (uint64_t{pa} << 32) | (uint64_t{pb} << 48));
  return sip_detail::finish(s, sip_detail::len_block(40));
}

// ---- Several independent hashes in lockstep ----
//
// A SYN needs three SipHashes that do not depend on each other (the cookie's two, and ts_off's).
// Each SipHash is one long dependency chain of adds, rotates and xors, so one hash alone leaves
// most of a superscalar core's ALUs idle. siphash_lockstep() runs 2 or 3 of them round by round,
// side by side in straight-line code, so the chains overlap (instruction-level parallelism).
//
// A message is given as its 64-bit blocks: the full little-endian words, then the final block
// (length << 56 | trailing bytes), as the specialised functions above build them; the
// sip_blocks_*() functions produce exactly their blocks. Each block is one compression (two
// rounds), then four finalisation rounds follow, so a lane of n blocks runs 2n + 4 rounds; a
// shorter lane simply finishes earlier.

// The most blocks of any message hashed here: the IPv6 cookie (five words + the final block).
inline constexpr size_t kSipMaxBlocks = 6;
using SipBlocks = std::array<uint64_t, kSipMaxBlocks>;

// The blocks of siphash_2u32 (2 blocks), siphash_3u32 (2), siphash_4u32 (3),
// siphash_in6_pair (5), siphash_in6_pair_ports (5) and siphash_in6_pair_count_ports (6).
[[gnu::always_inline]] inline SipBlocks sip_blocks_2u32(uint32_t first, uint32_t second) noexcept {
  return {(uint64_t{second} << 32) | first, sip_detail::len_block(8)};
}
[[gnu::always_inline]] inline SipBlocks sip_blocks_3u32(uint32_t first, uint32_t second,
                                                        uint32_t third) noexcept {
  return {(uint64_t{second} << 32) | first, sip_detail::len_block(12) | third};
}
[[gnu::always_inline]] inline SipBlocks sip_blocks_4u32(uint32_t a, uint32_t b, uint32_t c,
                                                        uint32_t d) noexcept {
  return {(uint64_t{b} << 32) | a, (uint64_t{d} << 32) | c, sip_detail::len_block(16)};
}
[[gnu::always_inline]] inline SipBlocks sip_blocks_in6_pair(const In6Bytes& a,
                                                            const In6Bytes& b) noexcept {
  using sip_detail::load_le64;
  return {load_le64(a.data()), load_le64(a.data() + 8), load_le64(b.data()),
          load_le64(b.data() + 8), sip_detail::len_block(32)};
}
[[gnu::always_inline]] inline SipBlocks sip_blocks_in6_pair_ports(const In6Bytes& a,
                                                                  const In6Bytes& b, uint16_t pa,
                                                                  uint16_t pb) noexcept {
  using sip_detail::load_le64;
  return {load_le64(a.data()), load_le64(a.data() + 8), load_le64(b.data()),
          load_le64(b.data() + 8),
          sip_detail::len_block(36) | uint64_t{pa} | (uint64_t{pb} << 16)};
}
[[gnu::always_inline]] inline SipBlocks sip_blocks_in6_pair_count_ports(const In6Bytes& a,
                                                                        const In6Bytes& b,
                                                                        uint32_t count,
                                                                        uint16_t pa,
                                                                        uint16_t pb) noexcept {
  using sip_detail::load_le64;
  return {load_le64(a.data()), load_le64(a.data() + 8), load_le64(b.data()),
          load_le64(b.data() + 8), uint64_t{count} | (uint64_t{pa} << 32) | (uint64_t{pb} << 48),
          sip_detail::len_block(40)};
}

// SipHash-2-4 of sizeof...(Blocks) messages in lockstep: message i has Blocks[i] blocks (its
// final block included) in msgs[i] and is hashed with *keys[i]. The counts are template
// arguments so that every branch below folds away and the rounds of all lanes end up
// interleaved in straight-line code.
template <size_t... Blocks>
[[gnu::always_inline]] inline std::array<uint64_t, sizeof...(Blocks)> siphash_lockstep(
    const std::array<const SipKey*, sizeof...(Blocks)>& keys,
    const std::array<SipBlocks, sizeof...(Blocks)>& msgs) noexcept {
  constexpr size_t kLanes = sizeof...(Blocks);
  constexpr std::array<size_t, kLanes> kBlocks{Blocks...};
  static_assert(((Blocks >= 1 && Blocks <= kSipMaxBlocks) && ...), "1..kSipMaxBlocks blocks");
  constexpr size_t kRounds = 2 * std::max({Blocks...}) + 4;
  sip_detail::State s[kLanes];
#pragma GCC unroll 4
  for (size_t i = 0; i < kLanes; ++i) s[i] = sip_detail::init(*keys[i]);
#pragma GCC unroll 16
  for (size_t r = 0; r < kRounds; ++r) {
#pragma GCC unroll 4
    for (size_t i = 0; i < kLanes; ++i) {
      const size_t n = kBlocks[i];
      if (r >= 2 * n + 4) continue;                          // this lane is done
      if (r < 2 * n && r % 2 == 0) s[i].v3 ^= msgs[i][r / 2];  // compress: before round 1
      sip_detail::round(s[i]);
      if (r < 2 * n && r % 2 == 1) {
        s[i].v0 ^= msgs[i][r / 2];                            // compress: after round 2
        if (r == 2 * n - 1) s[i].v2 ^= 0xff;                  // the last block: finalise
      }
    }
  }
  std::array<uint64_t, kLanes> out{};
#pragma GCC unroll 4
  for (size_t i = 0; i < kLanes; ++i) out[i] = (s[i].v0 ^ s[i].v1) ^ (s[i].v2 ^ s[i].v3);
  return out;
}

}  // namespace synwarden
