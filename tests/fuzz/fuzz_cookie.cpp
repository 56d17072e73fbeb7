// Fuzz target "cookie": the cookie engine's two decisions -- the SYN-ACK a host would send
// (plan_synack()) and whether it would accept an ACK (check_ack(), check_cookie_v4/v6()) -- for
// any host secrets, sysctls, clocks, 4-tuple, SYN options and returning ACK (fuzz_cases.h).
//
// The oracle is docs/kernel-cookies.md restated with libsodium's SipHash-2-4
// (crypto_shorthash_siphash24) over the byte layouts the kernel hashes, independent of
// siphash.h:
//  1. plan_synack() returns exactly the cookie, TSval (options in the low 6 bits, never ahead of
//     the host clock, plus ts_off), options, ECE and MSS the kernel's tcp_conn_request() path
//     would put in its SYN-ACK.
//  2. The honest ACK for that SYN-ACK is accepted at the same and the next cookie minute with
//     the options the SYN-ACK promised (a planned cookie always checks valid).
//  3. For an ACK with any ack/seq/TSecr deltas, checked at count -1..+2, check_ack() and
//     check_cookie_*() give exactly the verdict of the kernel's check_tcp_syn_cookie() +
//     cookie_timestamp_decode() arithmetic -- so a tampered ACK is accepted only where the
//     kernel would accept it too.
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "fuzz_cases.h"
#include "fuzz_support.h"
#include "synwarden/cookie.h"
#include "synwarden/synack_planner.h"

namespace synwarden::fuzz {
namespace {

// ---- libsodium oracle -----------------------------------------------------------------------

void put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
uint64_t sip(const uint8_t* msg, size_t len, const Key16& key) {
  uint8_t out[crypto_shorthash_siphash24_BYTES];
  crypto_shorthash_siphash24(out, msg, len, key.data());
  uint64_t h = 0;
  for (int i = 7; i >= 0; --i) h = (h << 8) | out[i];
  return h;
}
// The raw network-order value the kernel hashes: the header bytes read as a native integer.
uint32_t raw32(const std::array<uint8_t, 16>& a) {
  return uint32_t{a[0]} | (uint32_t{a[1]} << 8) | (uint32_t{a[2]} << 16) | (uint32_t{a[3]} << 24);
}

// cookie_hash(): IPv4 siphash_4u32(saddr, daddr, sport << 16 | dport, count); IPv6 siphash over
// {saddr, daddr, count, sport, dport} (40 bytes up to offsetofend(dport)).
uint32_t oracle_cookie_hash(const CookieCase& c, uint32_t count, int which) {
  const Key16& key = c.ipv6 ? (which == 0 ? c.cookie6_key0 : c.cookie6_key1)
                            : (which == 0 ? c.cookie_key0 : c.cookie_key1);
  uint8_t m[40];
  if (!c.ipv6) {
    put_le32(m, raw32(c.client_addr));
    put_le32(m + 4, raw32(c.host_addr));
    put_le32(m + 8, (uint32_t{c.client_port} << 16) | c.host_port);
    put_le32(m + 12, count);
    return static_cast<uint32_t>(sip(m, 16, key));
  }
  std::memcpy(m, c.client_addr.data(), 16);
  std::memcpy(m + 16, c.host_addr.data(), 16);
  put_le32(m + 32, count);
  put_le16(m + 36, c.client_port);
  put_le16(m + 38, c.host_port);
  return static_cast<uint32_t>(sip(m, 40, key));
}

// ts_off: secure_tcp(v6)_seq_and_ts_off() (per connection: high half of the hash) or
// secure_tcp(v6)_ts_off() (per host); 0 unless tcp_timestamps == 1.
uint32_t oracle_ts_off(const CookieCase& c) {
  if (c.tcp_timestamps != 1) return 0;
  uint8_t m[36];
  size_t len = 0;
  if (!c.ipv6) {
    put_le32(m, raw32(c.host_addr));
    put_le32(m + 4, raw32(c.client_addr));
    len = 8;
    if (!c.per_host_ts) {
      put_le32(m + 8, (uint32_t{c.host_port} << 16) | c.client_port);
      len = 12;
    }
  } else {
    std::memcpy(m, c.host_addr.data(), 16);
    std::memcpy(m + 16, c.client_addr.data(), 16);
    len = 32;
    if (!c.per_host_ts) {
      put_le16(m + 32, c.host_port);
      put_le16(m + 34, c.client_port);
      len = 36;
    }
  }
  const uint64_t h = sip(m, len, c.ts_key);
  return c.per_host_ts ? static_cast<uint32_t>(h) : static_cast<uint32_t>(h >> 32);
}

struct Expected {
  SynAckPlan plan;
  uint8_t snd_wscale = 0;
};

Expected oracle_plan(const CookieCase& c) {
  const auto& table = c.ipv6 ? kMssTableV6 : kMssTableV4;
  const uint16_t clamp = c.syn_has_mss && c.syn_mss != 0 ? c.syn_mss : table[0];
  uint8_t idx = 0;
  for (uint8_t i = 0; i < 4; ++i) {
    if (table[i] <= clamp) idx = i;
  }
  const bool ts = c.syn_has_ts && c.tcp_timestamps != 0;
  const bool sack = ts && c.syn_sack && c.tcp_sack != 0;
  const bool ws = ts && c.syn_has_wscale && c.tcp_window_scaling != 0;
  // tcp_ecn_create_request(): ECE+CWR, and the SYN itself not ECT unless a reserved bit is set.
  const bool ecn = ts && c.syn_ece_cwr && (c.syn_ip_ecn == 0 || c.syn_tcp_res1) && c.tcp_ecn != 0;
  Expected e;
  SynAckPlan& p = e.plan;
  e.snd_wscale = ws ? std::min<uint8_t>(c.syn_wscale, 14) : 0;
  p.mss_index = idx;
  p.seq = oracle_cookie_hash(c, 0, 0) + c.client_isn + (c.cookie_count << 24) +
          ((oracle_cookie_hash(c, c.cookie_count, 1) + idx) & 0xFFFFFF);
  p.ack = c.client_isn + 1;
  p.mss = c.ipv6 ? c.mss6 : c.mss;
  p.sack_permitted = sack;
  p.has_wscale = ws;
  p.wscale = ws ? c.rcv_wscale : 0;
  p.has_timestamp = ts;
  p.ece = ecn;
  if (ts) {
    const uint32_t opts = (ws ? e.snd_wscale : 0xFu) | (sack ? 0x10u : 0u) | (ecn ? 0x20u : 0u);
    uint64_t stamp = (c.tcp_ms & ~uint64_t{63}) | opts;
    if (stamp > c.tcp_ms) stamp -= 64;
    p.tsval = static_cast<uint32_t>(stamp) + oracle_ts_off(c);
    p.tsecr = c.syn_tsval;
  }
  return e;
}

// check_tcp_syn_cookie() + cookie_tcp_check()/cookie_timestamp_decode() on an ACK.
AckVerdict oracle_check(const CookieCase& c, uint32_t count, const AckSegment& a) {
  AckVerdict v;
  const uint32_t cookie = a.ack - 1;
  const uint32_t sseq = a.seq - 1;
  const uint32_t value = cookie - (oracle_cookie_hash(c, 0, 0) + sseq);
  const uint32_t diff = (count - (value >> 24)) & 0xFF;
  if (diff >= 2) {
    v.status = AckStatus::kCookieOutOfWindow;
    return v;
  }
  const uint32_t data = (value - oracle_cookie_hash(c, count - diff, 1)) & 0xFFFFFF;
  if (data >= 4) {
    v.status = AckStatus::kCookieBadHash;
    return v;
  }
  v.mss_index = static_cast<uint8_t>(data);
  v.mss = (c.ipv6 ? kMssTableV6 : kMssTableV4)[data];
  const bool saw = a.has_timestamp && c.tcp_timestamps != 0;
  uint32_t tsecr = saw ? a.tsecr : 0;
  if (saw && tsecr != 0) {
    v.ts_off = oracle_ts_off(c);
    tsecr -= v.ts_off;
  }
  v.tstamp_ok = saw;
  if (saw) {
    v.sack_ok = (tsecr & 0x10) != 0;
    if (v.sack_ok && c.tcp_sack == 0) {
      v.status = AckStatus::kOptionDisabled;
      return v;
    }
    if ((tsecr & 0xF) != 0xF) {
      v.wscale_ok = true;
      v.snd_wscale = static_cast<uint8_t>(tsecr & 0xF);
      if (c.tcp_window_scaling == 0) {
        v.status = AckStatus::kOptionDisabled;
        return v;
      }
    }
  }
  v.ecn_ok = (tsecr & 0x20) != 0 && c.tcp_ecn != 0;
  v.status = AckStatus::kAccepted;
  return v;
}

// ---- the engine under test -----------------------------------------------------------------

HostSecrets secrets_of(const CookieCase& c) {
  HostSecrets s;
  s.syncookie = {SipKey::from_bytes(c.cookie_key0), SipKey::from_bytes(c.cookie_key1)};
  s.syncookie6 = {SipKey::from_bytes(c.cookie6_key0), SipKey::from_bytes(c.cookie6_key1)};
  s.ts_offset = c.per_host_ts ? TsOffsetMode::kPerHost : TsOffsetMode::kPerConnection;
  s.ts_key = SipKey::from_bytes(c.ts_key);
  s.sysctls = TcpSysctls{c.tcp_timestamps, c.tcp_sack, c.tcp_window_scaling, c.tcp_ecn};
  s.mss = c.mss;
  s.mss6 = c.mss6;
  s.rcv_wscale = c.rcv_wscale;
  s.rcv_space = c.rcv_space;
  return s;
}

SynOptions syn_of(const CookieCase& c) {
  SynOptions o;
  o.has_mss = c.syn_has_mss;
  o.mss = c.syn_mss;
  o.has_wscale = c.syn_has_wscale;
  o.wscale = c.syn_wscale;
  o.sack_permitted = c.syn_sack;
  o.has_timestamp = c.syn_has_ts;
  o.tsval = c.syn_tsval;
  o.tsecr = c.syn_tsecr;
  o.ece_cwr = c.syn_ece_cwr;
  o.ip_ecn = c.syn_ip_ecn;
  o.tcp_res1 = c.syn_tcp_res1;
  return o;
}

// The status always; the cookie's MSS once the cookie itself checked out; the connection's
// options only for an accepted ACK (a refusal's other fields describe nothing).
bool same(const AckVerdict& a, const AckVerdict& b) {
  if (a.status != b.status) return false;
  if (a.status != AckStatus::kAccepted && a.status != AckStatus::kOptionDisabled) return true;
  if (a.mss_index != b.mss_index || a.mss != b.mss) return false;
  if (a.status != AckStatus::kAccepted) return true;
  return a.tstamp_ok == b.tstamp_ok && a.wscale_ok == b.wscale_ok &&
         a.snd_wscale == b.snd_wscale && a.sack_ok == b.sack_ok && a.ecn_ok == b.ecn_ok &&
         a.ts_off == b.ts_off;
}

void report_mismatch(const char* what, const AckVerdict& got, const AckVerdict& want) {
  fail(__FILE__, __LINE__, what,
       "got %s idx %u mss %u ts %d ws %d/%u sack %d ecn %d off %08x; kernel arithmetic gives "
       "%s idx %u mss %u ts %d ws %d/%u sack %d ecn %d off %08x",
       ack_status_name(got.status), got.mss_index, got.mss, got.tstamp_ok, got.wscale_ok,
       got.snd_wscale, got.sack_ok, got.ecn_ok, got.ts_off, ack_status_name(want.status),
       want.mss_index, want.mss, want.tstamp_ok, want.wscale_ok, want.snd_wscale, want.sack_ok,
       want.ecn_ok, want.ts_off);
}

template <typename Flow>
void run(const CookieCase& c, const Flow& flow) {
  const HostSecrets s = secrets_of(c);
  const ClockReading clock{c.cookie_count, c.tcp_ms};
  const SynAckPlan p = plan_synack(s, clock, flow, c.client_isn, syn_of(c));
  const Expected e = oracle_plan(c);
  FUZZ_CHECK(p.seq == e.plan.seq && p.ack == e.plan.ack && p.mss_index == e.plan.mss_index,
             "cookie %08x (index %u), oracle %08x (index %u)", p.seq, p.mss_index, e.plan.seq,
             e.plan.mss_index);
  FUZZ_CHECK(p.mss == e.plan.mss && p.sack_permitted == e.plan.sack_permitted &&
                 p.has_wscale == e.plan.has_wscale && p.wscale == e.plan.wscale &&
                 p.has_timestamp == e.plan.has_timestamp && p.ece == e.plan.ece,
             "SYN-ACK options: mss %u sack %d ws %d/%u ts %d ece %d", p.mss, p.sack_permitted,
             p.has_wscale, p.wscale, p.has_timestamp, p.ece);
  FUZZ_CHECK(p.tsval == e.plan.tsval && p.tsecr == e.plan.tsecr,
             "TSval %08x TSecr %08x, oracle %08x %08x", p.tsval, p.tsecr, e.plan.tsval,
             e.plan.tsecr);
  FUZZ_CHECK(c.rcv_space == 0 || p.window != 0, "zero SYN-ACK window for rcv_space %u",
             c.rcv_space);

  // 2. The honest ACK, now and one minute later.
  const AckSegment honest{c.client_isn + 1, p.seq + 1, p.has_timestamp, c.syn_tsval + 7, p.tsval};
  for (const uint32_t later : {0u, 1u}) {
    const uint32_t count = c.cookie_count + later;
    const AckVerdict got = check_ack(s, ClockReading{count, c.tcp_ms}, flow, honest);
    const AckVerdict want = oracle_check(c, count, honest);
    if (!same(got, want)) report_mismatch("honest ACK", got, want);
    if (!(p.has_timestamp && p.tsval == 0 && c.tcp_window_scaling == 0)) {
      // (The one refusal: TSecr 0 is not offset-corrected and decodes as "window scale 0",
      // which a host with scaling off refuses -- as the kernel does.)
      FUZZ_CHECK(got.valid(), "a planned cookie does not check valid (+%u min): %s", later,
                 ack_status_name(got.status));
      FUZZ_CHECK(got.mss_index == p.mss_index, "index %u, planned %u", got.mss_index,
                 p.mss_index);
    }
    if (got.valid() && !(p.has_timestamp && p.tsval == 0)) {
      FUZZ_CHECK(got.sack_ok == p.sack_permitted && got.wscale_ok == p.has_wscale &&
                     got.ecn_ok == p.ece && (!got.wscale_ok || got.snd_wscale == e.snd_wscale),
                 "ACK options differ from what the SYN-ACK promised");
    }
  }

  // 3. A tampered or stale ACK: exactly the kernel's verdict.
  const AckSegment forged{honest.seq + c.seq_delta, honest.ack + c.ack_delta, c.ack_has_ts,
                          honest.tsval, honest.tsecr + c.tsecr_delta};
  const uint32_t count = c.cookie_count + c.check_age - 1;
  const AckVerdict got = check_ack(s, ClockReading{count, c.tcp_ms}, flow, forged);
  const AckVerdict want = oracle_check(c, count, forged);
  if (!same(got, want)) report_mismatch("tampered ACK", got, want);
  CookieCheck raw;
  if constexpr (std::is_same_v<Flow, Ipv4Flow>) {
    raw = check_cookie_v4(s.syncookie, flow, forged.seq, forged.ack, count);
  } else {
    raw = check_cookie_v6(s.syncookie6, flow, forged.seq, forged.ack, count);
  }
  const bool cookie_ok = want.status == AckStatus::kAccepted ||
                         want.status == AckStatus::kOptionDisabled;
  FUZZ_CHECK((raw.status == CookieStatus::kValid) == cookie_ok &&
                 (raw.status == CookieStatus::kOutOfWindow) ==
                     (want.status == AckStatus::kCookieOutOfWindow) &&
                 (!cookie_ok || raw.mss_index == want.mss_index),
             "check_cookie disagrees with the kernel arithmetic");
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden;
  using namespace synwarden::fuzz;
  static const bool sodium_ready = sodium_init() >= 0;
  FUZZ_CHECK(sodium_ready, "sodium_init failed");
  FuzzInput in(data, size);
  CaseReader reader(in);
  CookieCase c;
  c.visit(reader);
  if (c.ipv6) {
    Ipv6Flow flow;
    flow.client_addr = c.client_addr;
    flow.host_addr = c.host_addr;
    flow.client_port = c.client_port;
    flow.host_port = c.host_port;
    run(c, flow);
  } else {
    run(c, Ipv4Flow{raw32(c.client_addr), raw32(c.host_addr), c.client_port, c.host_port});
  }
  return 0;
}
