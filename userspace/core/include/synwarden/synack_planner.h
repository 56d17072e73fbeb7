// What the protected host's kernel would answer to a SYN while sending cookies, and what it would
// make of the returning ACK. Combines the cookie (cookie.h), the timestamp encoding and ts_off
// (tcp_timestamp.h) and the host's parameters (secrets.h) the way these kernel functions do:
//
//   SYN -> SYN-ACK: tcp_conn_request() with want_cookie, tcp_parse_options(), tcp_openreq_init(),
//                   tcp_ecn_create_request(), cookie_v4/v6_init_sequence(),
//                   tcp_openreq_init_rwin(), tcp_make_synack() + tcp_synack_options().
//   ACK:            cookie_v4_check()/cookie_v6_check() via cookie_tcp_check(),
//                   cookie_timestamp_decode(), cookie_ecn_ok().
//
// Not modelled (the host's defaults are assumed): per-listener TCP_MAXSEG/SO_RCVBUF/
// TCP_WINDOW_CLAMP, route metrics (advmss is the "mss"/"mss6" of the secrets, initrwnd, window,
// "features ecn", tcp_usec_ts), TCP-MD5/AO, MPTCP, SMC, BPF header options, and AccECN
// negotiation (a SYN asking for AccECN with tcp_ecn >= 3): SynOptions cannot express it.
//
// Every function here is noexcept, allocation-free and suitable for the per-packet path.
#pragma once

#include <cstdint>

#include "synwarden/clock.h"
#include "synwarden/flow.h"
#include "synwarden/secrets.h"
#include "synwarden/synack_plan.h"

namespace synwarden {

// The client MSS the kernel assumes when the SYN has no MSS option: af_ops->mss_clamp, i.e.
// TCP_MSS_DEFAULT for IPv4 and IPV6_MIN_MTU - sizeof(tcphdr) - sizeof(ipv6hdr) for IPv6.
inline constexpr uint16_t kDefaultClientMssV4 = 536;
inline constexpr uint16_t kDefaultClientMssV6 = 1220;
inline constexpr uint8_t kMaxWscale = 14;          // TCP_MAX_WSCALE
inline constexpr uint16_t kTimestampOptionLen = 12;  // TCPOLEN_TSTAMP_ALIGNED

// The SYN-ACK's window field: tcp_openreq_init_rwin() -> tcp_select_initial_window() with no
// window clamp, no initrwnd route metric and tcp_workaround_signed_windows = 0, then
// tcp_make_synack()'s min(rsk_rcv_wnd, 65535). The space is quantised to the host's MSS less
// the timestamp option when timestamps were negotiated: 65160 for MSS 1460 with timestamps,
// 64240 without.
uint16_t synack_window(uint32_t rcv_space, uint16_t host_mss, bool tstamp_ok) noexcept;

// The cookie SYN-ACK for a SYN from `flow.client_*` to `flow.host_*` with sequence number
// `client_isn` and options `syn`, at host clock `clock`.
SynAckPlan plan_synack(const HostSecrets& secrets, const ClockReading& clock,
                       const Ipv4Flow& flow, uint32_t client_isn, const SynOptions& syn) noexcept;
SynAckPlan plan_synack(const HostSecrets& secrets, const ClockReading& clock,
                       const Ipv6Flow& flow, uint32_t client_isn, const SynOptions& syn) noexcept;

// The fields of a returning ACK the check reads (host order).
struct AckSegment {
  uint32_t seq = 0;
  uint32_t ack = 0;
  bool has_timestamp = false;
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
};

enum class AckStatus : uint8_t {
  kAccepted,
  kCookieOutOfWindow,  // cookie count not the host's current or previous minute
  kCookieBadHash,      // not a cookie for this tuple and ISN
  kOptionDisabled,     // the TSecr names SACK or window scaling the host has turned off
};

// The connection the host would create (or why it would not).
struct AckVerdict {
  AckStatus status = AckStatus::kCookieBadHash;
  uint8_t mss_index = 0;
  uint16_t mss = 0;          // the MSS table value the cookie encodes (req->mss)
  bool tstamp_ok = false;
  bool wscale_ok = false;
  uint8_t snd_wscale = 0;    // the client's window scale, when wscale_ok
  bool sack_ok = false;
  bool ecn_ok = false;
  uint32_t ts_off = 0;       // the tsoffset the host keeps for the connection

  bool valid() const noexcept { return status == AckStatus::kAccepted; }
};

// The host's full decision: cookie check, then (for an ACK with a non-zero TSecr) one more
// SipHash for ts_off and the option decode. A forward/drop decision that only needs "is this one
// of our cookies" can call check_cookie_v4/v6 (cookie.h) directly and skip that hash; forged
// ACKs fail after the first hash in either case.
AckVerdict check_ack(const HostSecrets& secrets, const ClockReading& clock, const Ipv4Flow& flow,
                     const AckSegment& ack) noexcept;
AckVerdict check_ack(const HostSecrets& secrets, const ClockReading& clock, const Ipv6Flow& flow,
                     const AckSegment& ack) noexcept;

const char* ack_status_name(AckStatus status) noexcept;

}  // namespace synwarden
