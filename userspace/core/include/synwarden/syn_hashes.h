// The three SipHashes a cookie SYN-ACK needs -- the cookie's H(0, 0) and H(1, count), and the
// host's ts_off -- computed in lockstep (siphash_lockstep() in siphash.h) instead of one after
// the other: they are independent, so their dependency chains overlap in the CPU. Results are
// those of make_cookie_v4/v6() (cookie.h) and host_ts_off() (tcp_timestamp.h), which stay the
// readable reference; tests/unit/siphash_test.cpp holds the two equal.
#pragma once

#include <cstdint>

#include "synwarden/cookie.h"
#include "synwarden/siphash.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden {

namespace syn_hash_detail {

// cookie_hash_v4(): siphash_4u32(client, host, client_port << 16 | host_port, count).
[[gnu::always_inline]] inline SipBlocks cookie_blocks(const Ipv4Flow& f, uint32_t count) noexcept {
  return sip_blocks_4u32(f.client_addr, f.host_addr,
                         (uint32_t{f.client_port} << 16) | f.host_port, count);
}
// cookie_hash_v6(): siphash over {client, host, count, client_port, host_port}.
[[gnu::always_inline]] inline SipBlocks cookie_blocks(const Ipv6Flow& f, uint32_t count) noexcept {
  return sip_blocks_in6_pair_count_ports(f.client_addr, f.host_addr, count, f.client_port,
                                         f.host_port);
}
// ts_off_per_connection_v4() / ts_off_per_host_v4().
[[gnu::always_inline]] inline SipBlocks ts_off_blocks(TsOffsetMode mode, const Ipv4Flow& f) noexcept {
  return mode == TsOffsetMode::kPerConnection
             ? sip_blocks_3u32(f.host_addr, f.client_addr,
                               (uint32_t{f.host_port} << 16) | f.client_port)
             : sip_blocks_2u32(f.host_addr, f.client_addr);
}
// ts_off_per_connection_v6() / ts_off_per_host_v6().
[[gnu::always_inline]] inline SipBlocks ts_off_blocks(TsOffsetMode mode, const Ipv6Flow& f) noexcept {
  return mode == TsOffsetMode::kPerConnection
             ? sip_blocks_in6_pair_ports(f.host_addr, f.client_addr, f.host_port, f.client_port)
             : sip_blocks_in6_pair(f.host_addr, f.client_addr);
}

// Blocks per message: the cookie hash, and ts_off's (the same in both modes of a family).
template <typename Flow>
struct Shape;
template <>
struct Shape<Ipv4Flow> {
  static constexpr size_t kCookie = 3, kTsOff = 2;
};
template <>
struct Shape<Ipv6Flow> {
  static constexpr size_t kCookie = 6, kTsOff = 5;
};

}  // namespace syn_hash_detail

struct CookieAndTsOff {
  uint32_t cookie = 0;
  uint32_t ts_off = 0;
};

// secure_tcp_syn_cookie() and, when `with_ts_off`, the host's ts_off for the same connection
// (host_ts_off() with tcp_timestamps == 1; the caller passes false when the sysctl forces 0 or
// the SYN-ACK carries no timestamp, and then only the two cookie hashes run).
template <typename Flow>
[[gnu::always_inline]] inline CookieAndTsOff make_cookie_and_ts_off(
    const CookieKeyPair& keys, const Flow& f, uint32_t client_isn, uint32_t count,
    uint32_t mss_index, bool with_ts_off, TsOffsetMode ts_mode, const SipKey& ts_key) noexcept {
  using syn_hash_detail::cookie_blocks;
  using S = syn_hash_detail::Shape<Flow>;
  CookieAndTsOff out;
  uint64_t h0, h1;
  if (with_ts_off) {
    const auto h = siphash_lockstep<S::kCookie, S::kCookie, S::kTsOff>(
        {&keys[0], &keys[1], &ts_key},
        {cookie_blocks(f, 0), cookie_blocks(f, count), syn_hash_detail::ts_off_blocks(ts_mode, f)});
    h0 = h[0];
    h1 = h[1];
    // Per connection: the high half of the one hash (union tcp_seq_and_ts_off); per host: low.
    out.ts_off = static_cast<uint32_t>(ts_mode == TsOffsetMode::kPerConnection ? h[2] >> 32 : h[2]);
  } else {
    const auto h = siphash_lockstep<S::kCookie, S::kCookie>(
        {&keys[0], &keys[1]}, {cookie_blocks(f, 0), cookie_blocks(f, count)});
    h0 = h[0];
    h1 = h[1];
  }
  out.cookie = static_cast<uint32_t>(h0) + client_isn + (count << kCookieBits) +
               ((static_cast<uint32_t>(h1) + mss_index) & kCookieMask);
  return out;
}

}  // namespace synwarden
