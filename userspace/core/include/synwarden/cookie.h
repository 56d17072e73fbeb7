// The SYN cookie itself: the ISN a Linux host sends in its cookie SYN-ACK and the check it runs on
// the returning ACK. Mirrors net/ipv4/syncookies.c and net/ipv6/syncookies.c (Linux >= 4.13,
// SipHash cookies). Header-only: these run per packet and must inline into the worker loop.
//
//   cookie = H(0, 0) + client_isn + (count << 24) + ((H(1, count) + mss_index) & 0xFFFFFF)
//
// where H(c, count) hashes the 4-tuple and `count` with syncookie_secret[c] and `count` is the
// host's minute counter (tcp_cookie_time(), see clock.h).
#pragma once

#include <array>
#include <cstdint>

#include "synwarden/flow.h"
#include "synwarden/siphash.h"

namespace synwarden {

// syncookie_secret[2] / syncookie6_secret[2].
using CookieKeyPair = std::array<SipKey, 2>;

inline constexpr uint32_t kCookieBits = 24;                          // COOKIEBITS
inline constexpr uint32_t kCookieMask = (uint32_t{1} << kCookieBits) - 1;  // COOKIEMASK
inline constexpr uint32_t kMaxSyncookieAge = 2;                      // MAX_SYNCOOKIE_AGE

// msstab[] in net/ipv4/syncookies.c (sorted; index 0 is also the default without an MSS option).
inline constexpr std::array<uint16_t, 4> kMssTableV4{536, 1300, 1440, 1460};
// msstab[] in net/ipv6/syncookies.c: IPV6_MIN_MTU - 60, 1480 - 60, 1500 - 60, 9000 - 60.
inline constexpr std::array<uint16_t, 4> kMssTableV6{1220, 1420, 1440, 8940};

// The walk in __cookie_v4_init_sequence()/__cookie_v6_init_sequence(): the largest index whose
// value is <= mss, index 0 when mss is below every entry.
constexpr uint8_t cookie_mss_index(const std::array<uint16_t, 4>& table, uint16_t mss) noexcept {
  uint8_t i = static_cast<uint8_t>(table.size() - 1);
  for (; i != 0; --i) {
    if (mss >= table[i]) break;
  }
  return i;
}

enum class CookieStatus : uint8_t {
  kValid,
  kOutOfWindow,  // count not in {now, now-1}: older than MAX_SYNCOOKIE_AGE or from the future
  kBadHash,      // decoded data >= 4: not a cookie of this host for this tuple and ISN
};

struct CookieCheck {
  CookieStatus status = CookieStatus::kBadHash;
  uint8_t mss_index = 0;  // meaningful when status == kValid
};

namespace cookie_detail {

// check_tcp_syn_cookie(): strip H(0,0) + sseq, recover the count from the top byte, and the
// data from the low 24 bits with the hash of that count.
template <typename HashFn>
[[gnu::always_inline]] inline CookieCheck check(uint32_t cookie, uint32_t sseq, uint32_t count,
                                                HashFn&& hash) noexcept {
  cookie -= hash(0u, 0) + sseq;
  const uint32_t diff = (count - (cookie >> kCookieBits)) & (~uint32_t{0} >> kCookieBits);
  if (diff >= kMaxSyncookieAge) return {CookieStatus::kOutOfWindow, 0};
  const uint32_t data = (cookie - hash(count - diff, 1)) & kCookieMask;
  // __cookie_v4_check(): "mssind < ARRAY_SIZE(msstab) ? msstab[mssind] : 0".
  if (data >= 4) return {CookieStatus::kBadHash, 0};
  return {CookieStatus::kValid, static_cast<uint8_t>(data)};
}

}  // namespace cookie_detail

// cookie_hash() in net/ipv4/syncookies.c: siphash_4u32(saddr, daddr, sport << 16 | dport,
// count, &syncookie_secret[c]) truncated to u32. saddr/sport are the client's (the SYN's source).
[[gnu::always_inline]] inline uint32_t cookie_hash_v4(const CookieKeyPair& keys, const Ipv4Flow& f,
                                                      uint32_t count, int c) noexcept {
  return static_cast<uint32_t>(siphash_4u32(
      f.client_addr, f.host_addr, (uint32_t{f.client_port} << 16) | f.host_port, count,
      keys[static_cast<unsigned>(c)]));
}

// cookie_hash() in net/ipv6/syncookies.c: siphash() over {saddr, daddr, count, sport, dport}.
[[gnu::always_inline]] inline uint32_t cookie_hash_v6(const CookieKeyPair& keys, const Ipv6Flow& f,
                                                      uint32_t count, int c) noexcept {
  return static_cast<uint32_t>(siphash_in6_pair_count_ports(
      f.client_addr, f.host_addr, count, f.client_port, f.host_port,
      keys[static_cast<unsigned>(c)]));
}

// secure_tcp_syn_cookie() (IPv4). `client_isn` is the SYN's sequence number (host order),
// `mss_index` the data value (0..3) __cookie_v4_init_sequence() passes.
[[gnu::always_inline]] inline uint32_t make_cookie_v4(const CookieKeyPair& keys, const Ipv4Flow& f,
                                                      uint32_t client_isn, uint32_t count,
                                                      uint32_t mss_index) noexcept {
  return cookie_hash_v4(keys, f, 0, 0) + client_isn + (count << kCookieBits) +
         ((cookie_hash_v4(keys, f, count, 1) + mss_index) & kCookieMask);
}

// secure_tcp_syn_cookie() (IPv6).
[[gnu::always_inline]] inline uint32_t make_cookie_v6(const CookieKeyPair& keys, const Ipv6Flow& f,
                                                      uint32_t client_isn, uint32_t count,
                                                      uint32_t mss_index) noexcept {
  return cookie_hash_v6(keys, f, 0, 0) + client_isn + (count << kCookieBits) +
         ((cookie_hash_v6(keys, f, count, 1) + mss_index) & kCookieMask);
}

// __cookie_v4_check(): `ack_seq` and `seq` are the ACK's header fields in host order; the
// kernel checks cookie = ack_seq - 1 against sseq = seq - 1.
[[gnu::always_inline]] inline CookieCheck check_cookie_v4(const CookieKeyPair& keys,
                                                          const Ipv4Flow& f, uint32_t seq,
                                                          uint32_t ack_seq,
                                                          uint32_t count) noexcept {
  return cookie_detail::check(ack_seq - 1, seq - 1, count, [&](uint32_t cnt, int c) {
    return cookie_hash_v4(keys, f, cnt, c);
  });
}

// __cookie_v6_check().
[[gnu::always_inline]] inline CookieCheck check_cookie_v6(const CookieKeyPair& keys,
                                                          const Ipv6Flow& f, uint32_t seq,
                                                          uint32_t ack_seq,
                                                          uint32_t count) noexcept {
  return cookie_detail::check(ack_seq - 1, seq - 1, count, [&](uint32_t cnt, int c) {
    return cookie_hash_v6(keys, f, cnt, c);
  });
}

}  // namespace synwarden
