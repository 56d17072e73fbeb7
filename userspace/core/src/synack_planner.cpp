#include "synwarden/synack_planner.h"

#include <algorithm>

#include "synwarden/cookie.h"
#include "synwarden/syn_hashes.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden {

namespace {

// What differs between the IPv4 and IPv6 paths of the kernel; everything else is shared
// tcp_conn_request()/cookie_tcp_check() logic.
struct V4 {
  using Flow = Ipv4Flow;
  static constexpr uint16_t kDefaultClientMss = kDefaultClientMssV4;
  static constexpr const std::array<uint16_t, 4>& kTable = kMssTableV4;
  static const CookieKeyPair& keys(const HostSecrets& s) noexcept { return s.syncookie; }
  static uint16_t host_mss(const HostSecrets& s) noexcept { return s.mss; }
  static CookieCheck check(const CookieKeyPair& k, const Flow& f, uint32_t seq, uint32_t ack,
                           uint32_t count) noexcept {
    return check_cookie_v4(k, f, seq, ack, count);
  }
};

struct V6 {
  using Flow = Ipv6Flow;
  static constexpr uint16_t kDefaultClientMss = kDefaultClientMssV6;
  static constexpr const std::array<uint16_t, 4>& kTable = kMssTableV6;
  static const CookieKeyPair& keys(const HostSecrets& s) noexcept { return s.syncookie6; }
  static uint16_t host_mss(const HostSecrets& s) noexcept { return s.mss6; }
  static CookieCheck check(const CookieKeyPair& k, const Flow& f, uint32_t seq, uint32_t ack,
                           uint32_t count) noexcept {
    return check_cookie_v6(k, f, seq, ack, count);
  }
};

template <typename Family>
SynAckPlan plan(const HostSecrets& s, const ClockReading& clock, const typename Family::Flow& flow,
                uint32_t client_isn, const SynOptions& syn) noexcept {
  const TcpSysctls& sys = s.sysctls;

  // tcp_parse_options() on a SYN (estab = 0): an MSS of 0 is ignored; timestamps, SACK and
  // window scaling are only recorded when the matching sysctl is on; the scale is clamped.
  const uint16_t mss_clamp =
      (syn.has_mss && syn.mss != 0) ? syn.mss : Family::kDefaultClientMss;
  const bool tstamp_ok = syn.has_timestamp && sys.tcp_timestamps != 0;
  // tcp_conn_request(): "if (want_cookie && !tmp_opt.saw_tstamp) tcp_clear_options(&tmp_opt)"
  // -- without a timestamp to carry them back, SACK and window scaling are dropped.
  const bool sack_ok = tstamp_ok && syn.sack_permitted && sys.tcp_sack != 0;
  const bool wscale_ok = tstamp_ok && syn.has_wscale && sys.tcp_window_scaling != 0;
  const uint8_t snd_wscale = wscale_ok ? std::min(syn.wscale, kMaxWscale) : uint8_t{0};
  // tcp_ecn_create_request(): a classic ECN setup SYN (ECE+CWR) is accepted when tcp_ecn is
  // non-zero and the SYN itself is not ECN-capable at the IP level (or sets a reserved bit,
  // "(!ect || th->res1)"); tcp_conn_request() then drops it for cookies without timestamps.
  const bool ecn_setup = syn.ece_cwr && (syn.ip_ecn == 0 || syn.tcp_res1);
  const bool ecn_ok = ecn_setup && sys.tcp_ecn != 0 && tstamp_ok;

  const uint16_t host_mss = Family::host_mss(s);
  SynAckPlan p;
  // cookie_v4_init_sequence() / cookie_v6_init_sequence(), and the ts_off the SYN-ACK's TSval
  // carries (only with timestamps, and 0 unless tcp_timestamps == 1): the two or three hashes
  // run in lockstep (syn_hashes.h), the per-SYN path's largest cost.
  p.mss_index = cookie_mss_index(Family::kTable, mss_clamp);
  const CookieAndTsOff hashes =
      make_cookie_and_ts_off(Family::keys(s), flow, client_isn, clock.cookie_count, p.mss_index,
                             tstamp_ok && sys.tcp_timestamps == 1, s.ts_offset, s.ts_key);
  p.seq = hashes.cookie;
  p.ack = client_isn + 1;
  // tcp_make_synack(): the host's own MSS (tcp_mss_clamp(tp, dst_metric_advmss(dst))), not the
  // table value the cookie encodes.
  p.mss = host_mss;
  p.window = synack_window(s.rcv_space, host_mss, tstamp_ok);
  // tcp_synack_options().
  p.sack_permitted = sack_ok;
  p.has_wscale = wscale_ok;
  p.wscale = wscale_ok ? s.rcv_wscale : uint8_t{0};
  p.has_timestamp = tstamp_ok;
  if (tstamp_ok) {
    const uint32_t ts_off = hashes.ts_off;
    const uint64_t ts = cookie_init_timestamp(
        clock.tcp_ms, encode_ts_options(wscale_ok, snd_wscale, sack_ok, ecn_ok));
    // tcp_skb_timestamp_ts() + tcp_rsk(req)->ts_off, in 32 bits.
    p.tsval = static_cast<uint32_t>(ts) + ts_off;
    p.tsecr = syn.tsval;  // req->ts_recent
  }
  p.ece = ecn_ok;  // tcp_ecn_make_synack()
  return p;
}

template <typename Family>
AckVerdict check(const HostSecrets& s, const ClockReading& clock,
                 const typename Family::Flow& flow, const AckSegment& ack) noexcept {
  AckVerdict v;
  const CookieCheck c = Family::check(Family::keys(s), flow, ack.seq, ack.ack, clock.cookie_count);
  if (c.status != CookieStatus::kValid) {
    v.status = c.status == CookieStatus::kOutOfWindow ? AckStatus::kCookieOutOfWindow
                                                      : AckStatus::kCookieBadHash;
    return v;
  }
  v.mss_index = c.mss_index;
  v.mss = Family::kTable[c.mss_index];

  // cookie_tcp_check(): tcp_parse_options() only records a timestamp when tcp_timestamps is on;
  // ts_off is subtracted only from a non-zero TSecr.
  const TcpSysctls& sys = s.sysctls;
  const bool saw_tstamp = ack.has_timestamp && sys.tcp_timestamps != 0;
  uint32_t tsecr = saw_tstamp ? ack.tsecr : 0;
  if (saw_tstamp && tsecr != 0) {
    v.ts_off = host_ts_off(s.ts_offset, s.ts_key, flow, sys.tcp_timestamps);
    tsecr -= v.ts_off;
  }
  v.tstamp_ok = saw_tstamp;
  if (saw_tstamp) {
    // cookie_timestamp_decode(); without a timestamp it clears all options and accepts.
    const TsCookieOptions o = cookie_timestamp_decode(tsecr, sys.tcp_sack, sys.tcp_window_scaling);
    if (!o.accepted) {
      v.status = AckStatus::kOptionDisabled;
      return v;
    }
    v.sack_ok = o.sack_ok;
    v.wscale_ok = o.wscale_ok;
    v.snd_wscale = o.snd_wscale;
  }
  // cookie_tcp_reqsk_alloc(): ecn_ok = !!(rcv_tsecr & TS_OPT_ECN), then cookie_ecn_ok() (tcp_ecn
  // non-zero; the route's "features ecn" is not modelled).
  v.ecn_ok = (tsecr & kTsOptEcn) != 0 && sys.tcp_ecn != 0;
  v.status = AckStatus::kAccepted;
  return v;
}

}  // namespace

uint16_t synack_window(uint32_t rcv_space, uint16_t host_mss, bool tstamp_ok) noexcept {
  // tcp_openreq_init_rwin(): mss - (tstamp_ok ? TCPOLEN_TSTAMP_ALIGNED : 0).
  const uint32_t mss = tstamp_ok && host_mss > kTimestampOptionLen
                           ? uint32_t{host_mss} - kTimestampOptionLen
                           : uint32_t{host_mss};
  // tcp_select_initial_window(): no clamp set -> U16_MAX << TCP_MAX_WSCALE; quantise to the MSS.
  uint32_t space = std::min(rcv_space, uint32_t{0xffff} << kMaxWscale);
  if (mss != 0 && space > mss) space -= space % mss;
  return static_cast<uint16_t>(std::min(space, uint32_t{0xffff}));
}

SynAckPlan plan_synack(const HostSecrets& secrets, const ClockReading& clock,
                       const Ipv4Flow& flow, uint32_t client_isn, const SynOptions& syn) noexcept {
  return plan<V4>(secrets, clock, flow, client_isn, syn);
}

SynAckPlan plan_synack(const HostSecrets& secrets, const ClockReading& clock,
                       const Ipv6Flow& flow, uint32_t client_isn, const SynOptions& syn) noexcept {
  return plan<V6>(secrets, clock, flow, client_isn, syn);
}

AckVerdict check_ack(const HostSecrets& secrets, const ClockReading& clock, const Ipv4Flow& flow,
                     const AckSegment& ack) noexcept {
  return check<V4>(secrets, clock, flow, ack);
}

AckVerdict check_ack(const HostSecrets& secrets, const ClockReading& clock, const Ipv6Flow& flow,
                     const AckSegment& ack) noexcept {
  return check<V6>(secrets, clock, flow, ack);
}

const char* ack_status_name(AckStatus status) noexcept {
  switch (status) {
    case AckStatus::kAccepted:
      return "accepted";
    case AckStatus::kCookieOutOfWindow:
      return "cookie_out_of_window";
    case AckStatus::kCookieBadHash:
      return "cookie_bad_hash";
    case AckStatus::kOptionDisabled:
      return "option_disabled";
  }
  return "unknown";
}

}  // namespace synwarden
