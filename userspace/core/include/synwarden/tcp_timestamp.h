// The cookie SYN-ACK's TCP timestamp: the SYN's options packed into its low 6 bits
// (cookie_init_timestamp/cookie_timestamp_decode in net/ipv4/syncookies.c) and the per-host or
// per-connection offset `ts_off` the host adds to every TSval (net/core/secure_seq.c).
//
// TSval bits (syncookies.c):  | 31 ... 6 timestamp | 5 ECN | 4 SACK | 3..0 WScale (0xf = none) |
#pragma once

#include <cstdint>

#include "synwarden/flow.h"
#include "synwarden/siphash.h"

namespace synwarden {

inline constexpr uint32_t kTsOptWscaleMask = 0xf;       // TS_OPT_WSCALE_MASK
inline constexpr uint32_t kTsOptSack = uint32_t{1} << 4;  // TS_OPT_SACK
inline constexpr uint32_t kTsOptEcn = uint32_t{1} << 5;   // TS_OPT_ECN
inline constexpr uint32_t kTsBits = 6;                    // TSBITS

// The option bits cookie_init_timestamp() derives from the request sock.
constexpr uint32_t encode_ts_options(bool wscale_ok, uint8_t snd_wscale, bool sack_ok,
                                     bool ecn_ok) noexcept {
  uint32_t options = wscale_ok ? (snd_wscale & kTsOptWscaleMask) : kTsOptWscaleMask;
  if (sack_ok) options |= kTsOptSack;
  if (ecn_ok) options |= kTsOptEcn;
  return options;
}

// cookie_init_timestamp(): the host's ms clock with its low 6 bits replaced by `options`,
// stepped back 64 ms if that would put it ahead of the clock. The result is never greater than
// `now_ms`, so the host's later TSvals never go backwards (the client's PAWS check relies on it).
// Returned before adding ts_off and before truncation to 32 bits, like the kernel's u64.
constexpr uint64_t cookie_init_timestamp(uint64_t now_ms, uint32_t options) noexcept {
  uint64_t ts = ((now_ms >> kTsBits) << kTsBits) | options;
  if (ts > now_ms) ts -= uint64_t{1} << kTsBits;
  return ts;
}

struct TsCookieOptions {
  bool accepted = false;  // false: the echo names an option the host has disabled
  bool wscale_ok = false;
  uint8_t snd_wscale = 0;
  bool sack_ok = false;
};

// cookie_timestamp_decode() for an ACK that carried a timestamp (saw_tstamp), given its TSecr
// minus ts_off. The caller has already refused the case tcp_timestamps == 0.
constexpr TsCookieOptions cookie_timestamp_decode(uint32_t options, uint8_t tcp_sack,
                                                  uint8_t tcp_window_scaling) noexcept {
  TsCookieOptions out;
  out.sack_ok = (options & kTsOptSack) != 0;
  if (out.sack_ok && tcp_sack == 0) return out;
  if ((options & kTsOptWscaleMask) == kTsOptWscaleMask) {
    out.accepted = true;  // no window scaling
    return out;
  }
  out.wscale_ok = true;
  out.snd_wscale = static_cast<uint8_t>(options & kTsOptWscaleMask);
  out.accepted = tcp_window_scaling != 0;
  return out;
}

// Which kernel computes the host's timestamp offset, a fact about its build (see
// docs/kernel-cookies.md): per host pair from ts_secret (4.13 up to early 2026), or per connection
// from net_secret with the ports (upstream 165573e41f2f "tcp: secure_seq: add back ports to TS
// offset" and the stable kernels carrying it).
enum class TsOffsetMode : uint8_t { kPerConnection, kPerHost };

// secure_tcp_ts_off(net, saddr, daddr) as tcp_v4_init_ts_off() calls it: saddr = the host (the
// SYN's daddr), daddr = the client. Zero unless net.ipv4.tcp_timestamps == 1 (2 means
// "timestamps without random offsets").
[[gnu::always_inline]] inline uint32_t ts_off_per_host_v4(const SipKey& ts_secret,
                                                          const Ipv4Flow& f,
                                                          uint8_t tcp_timestamps) noexcept {
  if (tcp_timestamps != 1) return 0;
  return static_cast<uint32_t>(siphash_2u32(f.host_addr, f.client_addr, ts_secret));
}

// secure_tcpv6_ts_off(): siphash() over {saddr = host, daddr = client} with ts_secret.
[[gnu::always_inline]] inline uint32_t ts_off_per_host_v6(const SipKey& ts_secret,
                                                          const Ipv6Flow& f,
                                                          uint8_t tcp_timestamps) noexcept {
  if (tcp_timestamps != 1) return 0;
  return static_cast<uint32_t>(siphash_in6_pair(f.host_addr, f.client_addr, ts_secret));
}

// secure_tcp_seq_and_ts_off(net, saddr, daddr, sport, dport) as tcp_v4_init_seq_and_ts_off()
// calls it: (host, client, host port, client port). One siphash_3u32 fills
// union tcp_seq_and_ts_off { struct { u32 seq; u32 ts_off; }; u64 hash64; }, so on a
// little-endian host ts_off is the HIGH half of the hash (seq is the low half, before
// seq_scale()). ts_off is forced to 0 unless tcp_timestamps == 1.
[[gnu::always_inline]] inline uint32_t ts_off_per_connection_v4(const SipKey& net_secret,
                                                                const Ipv4Flow& f,
                                                                uint8_t tcp_timestamps) noexcept {
  if (tcp_timestamps != 1) return 0;
  const uint32_t ports = (uint32_t{f.host_port} << 16) | f.client_port;
  return static_cast<uint32_t>(siphash_3u32(f.host_addr, f.client_addr, ports, net_secret) >> 32);
}

// secure_tcpv6_seq_and_ts_off(): siphash() over {saddr = host, daddr = client,
// sport = host port, dport = client port} (36 bytes) with net_secret; high half as above.
[[gnu::always_inline]] inline uint32_t ts_off_per_connection_v6(const SipKey& net_secret,
                                                                const Ipv6Flow& f,
                                                                uint8_t tcp_timestamps) noexcept {
  if (tcp_timestamps != 1) return 0;
  return static_cast<uint32_t>(
      siphash_in6_pair_ports(f.host_addr, f.client_addr, f.host_port, f.client_port, net_secret) >>
      32);
}

[[gnu::always_inline]] inline uint32_t host_ts_off(TsOffsetMode mode, const SipKey& key,
                                                   const Ipv4Flow& f,
                                                   uint8_t tcp_timestamps) noexcept {
  return mode == TsOffsetMode::kPerConnection ? ts_off_per_connection_v4(key, f, tcp_timestamps)
                                              : ts_off_per_host_v4(key, f, tcp_timestamps);
}

[[gnu::always_inline]] inline uint32_t host_ts_off(TsOffsetMode mode, const SipKey& key,
                                                   const Ipv6Flow& f,
                                                   uint8_t tcp_timestamps) noexcept {
  return mode == TsOffsetMode::kPerConnection ? ts_off_per_connection_v6(key, f, tcp_timestamps)
                                              : ts_off_per_host_v6(key, f, tcp_timestamps);
}

}  // namespace synwarden
