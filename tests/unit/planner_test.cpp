// The SYN-ACK the host's kernel would send for a SYN while in cookie mode, and the host's verdict
// on the returning ACK (tcp_conn_request + tcp_make_synack, cookie_v4/v6_check).
#include "synwarden/synack_planner.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>

#include "synwarden/cookie.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden {
namespace {

SipKey key_from(uint8_t seed) {
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  return SipKey::from_bytes(b);
}

HostSecrets make_secrets(TsOffsetMode mode = TsOffsetMode::kPerConnection) {
  HostSecrets s;
  s.syncookie = {key_from(1), key_from(2)};
  s.syncookie6 = {key_from(3), key_from(4)};
  s.ts_offset = mode;
  s.ts_key = key_from(5);
  s.sysctls = {1, 1, 1, 2};
  s.mss = 1460;
  s.mss6 = 1440;
  s.rcv_wscale = 7;
  s.clock = {5'000'000'000ULL, 250, 3'600'000};
  return s;
}

uint32_t raw4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const std::array<uint8_t, 4> bytes{a, b, c, d};
  uint32_t v;
  std::memcpy(&v, bytes.data(), 4);
  return v;
}
uint16_t raw_port(uint16_t host_order) {
  const std::array<uint8_t, 2> bytes{static_cast<uint8_t>(host_order >> 8),
                                     static_cast<uint8_t>(host_order)};
  uint16_t v;
  std::memcpy(&v, bytes.data(), 2);
  return v;
}

// 198.51.100.23:40000 -> 192.0.2.10:443
const Ipv4Flow kFlow4{raw4(198, 51, 100, 23), raw4(192, 0, 2, 10), raw_port(40000), raw_port(443)};
// [2001:db8::23]:40000 -> [2001:db8::10]:443
const Ipv6Flow kFlow6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23},
                      {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10},
                      raw_port(40000),
                      raw_port(443)};

constexpr ClockReading kClock{71'234, 9'876'543};
constexpr uint32_t kIsn = 0xDEADBEEF;

SynOptions full_syn() {
  SynOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.has_wscale = true;
  o.wscale = 9;
  o.sack_permitted = true;
  o.has_timestamp = true;
  o.tsval = 0x01020304;
  o.tsecr = 0;
  o.ece_cwr = true;
  return o;
}

uint32_t ts_off4(const HostSecrets& s) {
  return host_ts_off(s.ts_offset, s.ts_key, kFlow4, s.sysctls.tcp_timestamps);
}

// The returning ACK of a client that accepted `p`.
AckSegment ack_for(const SynAckPlan& p, bool with_timestamp = true) {
  AckSegment a;
  a.seq = kIsn + 1;
  a.ack = p.seq + 1;
  a.has_timestamp = with_timestamp && p.has_timestamp;
  a.tsval = 0x01020404;
  a.tsecr = p.tsval;
  return a;
}

TEST(SynAckPlanner, FullSynGetsEveryOptionTheKernelWouldSend) {
  const HostSecrets s = make_secrets();
  const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
  EXPECT_EQ(p.seq, make_cookie_v4(s.syncookie, kFlow4, kIsn, kClock.cookie_count, 3));
  EXPECT_EQ(p.mss_index, 3);
  EXPECT_EQ(p.ack, kIsn + 1);
  EXPECT_EQ(p.mss, 1460);  // the host's own MSS
  EXPECT_EQ(p.window, 65160);  // rounddown(65536, 1460 - 12)
  EXPECT_TRUE(p.sack_permitted);
  EXPECT_TRUE(p.has_wscale);
  EXPECT_EQ(p.wscale, 7);  // the host's rcv_wscale, not the client's 9
  EXPECT_TRUE(p.has_timestamp);
  EXPECT_EQ(p.tsecr, 0x01020304u);  // echoes the client's TSval
  EXPECT_TRUE(p.ece);
  const uint32_t ts = p.tsval - ts_off4(s);
  EXPECT_EQ(ts & 63, 9u | kTsOptSack | kTsOptEcn);  // the client's wscale, SACK, ECN
  EXPECT_LE(ts, static_cast<uint32_t>(kClock.tcp_ms));
  EXPECT_GT(ts + 64, static_cast<uint32_t>(kClock.tcp_ms));
}

TEST(SynAckPlanner, WithoutATimestampTheCookieSynAckCarriesOnlyMss) {
  // tcp_conn_request() clears SACK and window scaling for cookies without timestamps, and ECN.
  const HostSecrets s = make_secrets();
  SynOptions syn = full_syn();
  syn.has_timestamp = false;
  const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, syn);
  EXPECT_EQ(p.mss, 1460);
  EXPECT_FALSE(p.sack_permitted);
  EXPECT_FALSE(p.has_wscale);
  EXPECT_FALSE(p.has_timestamp);
  EXPECT_FALSE(p.ece);
  EXPECT_EQ(p.window, 64240);  // rounddown(65536, 1460)
  EXPECT_EQ(p.mss_index, 3);   // the MSS still travels in the cookie
}

TEST(SynAckPlanner, WindowScaleAboveFourteenIsClampedBeforeEncoding) {
  const HostSecrets s = make_secrets();
  for (uint8_t ws : {uint8_t{14}, uint8_t{15}, uint8_t{200}, uint8_t{255}}) {
    SynOptions syn = full_syn();
    syn.wscale = ws;
    const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, syn);
    EXPECT_EQ((p.tsval - ts_off4(s)) & kTsOptWscaleMask, 14u) << int{ws};
    const AckVerdict v = check_ack(s, kClock, kFlow4, ack_for(p));
    EXPECT_TRUE(v.valid());
    EXPECT_EQ(v.snd_wscale, 14) << int{ws};
  }
}

TEST(SynAckPlanner, MssOptionPicksTheCookieIndexAndZeroOrMissingMeansTheDefault) {
  const HostSecrets s = make_secrets();
  struct Case {
    bool has;
    uint16_t mss;
    uint8_t idx4, idx6;
  };
  for (const Case c : {Case{false, 0, 0, 0}, Case{true, 0, 0, 0}, Case{true, 535, 0, 0},
                       Case{true, 536, 0, 0}, Case{true, 1299, 0, 0}, Case{true, 1300, 1, 0},
                       Case{true, 1459, 2, 2}, Case{true, 1460, 3, 2}, Case{true, 9000, 3, 3}}) {
    SynOptions syn = full_syn();
    syn.has_mss = c.has;
    syn.mss = c.mss;
    const SynAckPlan p4 = plan_synack(s, kClock, kFlow4, kIsn, syn);
    const SynAckPlan p6 = plan_synack(s, kClock, kFlow6, kIsn, syn);
    EXPECT_EQ(p4.mss_index, c.idx4) << c.mss;
    EXPECT_EQ(p6.mss_index, c.idx6) << c.mss;
    EXPECT_EQ(p4.mss, 1460);
    EXPECT_EQ(p6.mss, 1440);
    EXPECT_EQ(check_ack(s, kClock, kFlow4, ack_for(p4)).mss, kMssTableV4[c.idx4]) << c.mss;
    EXPECT_EQ(check_ack(s, kClock, kFlow6, ack_for(p6)).mss, kMssTableV6[c.idx6]) << c.mss;
  }
}

TEST(SynAckPlanner, SysctlsSwitchOptionsOffLikeTheKernel) {
  {
    HostSecrets s = make_secrets();
    s.sysctls.tcp_timestamps = 0;  // no TS, hence (cookie) no SACK/WS/ECN either
    const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
    EXPECT_FALSE(p.has_timestamp);
    EXPECT_FALSE(p.sack_permitted);
    EXPECT_FALSE(p.has_wscale);
    EXPECT_FALSE(p.ece);
  }
  {
    HostSecrets s = make_secrets();
    s.sysctls.tcp_sack = 0;
    const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
    EXPECT_FALSE(p.sack_permitted);
    EXPECT_EQ((p.tsval - ts_off4(s)) & kTsOptSack, 0u);
    EXPECT_TRUE(p.has_wscale);
  }
  {
    HostSecrets s = make_secrets();
    s.sysctls.tcp_window_scaling = 0;
    const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
    EXPECT_FALSE(p.has_wscale);
    EXPECT_EQ((p.tsval - ts_off4(s)) & kTsOptWscaleMask, kTsOptWscaleMask);
  }
  {
    HostSecrets s = make_secrets();
    s.sysctls.tcp_ecn = 0;
    const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
    EXPECT_FALSE(p.ece);
    EXPECT_EQ((p.tsval - ts_off4(s)) & kTsOptEcn, 0u);
  }
  for (uint8_t ecn_setting : {uint8_t{1}, uint8_t{2}}) {
    HostSecrets s = make_secrets();
    s.sysctls.tcp_ecn = ecn_setting;
    EXPECT_TRUE(plan_synack(s, kClock, kFlow4, kIsn, full_syn()).ece) << int{ecn_setting};
  }
}

// tcp_ecn_create_request(): "(!ect || th->res1) && ecn_ok" -- a SYN that is itself ECT- or
// CE-marked at the IP level is not an ECN setup, unless it also sets a reserved bit.
TEST(SynAckPlanner, EcnSetupIsRefusedForAnEctMarkedSynUnlessAReservedBitIsSet) {
  const HostSecrets s = make_secrets();
  for (uint8_t ip_ecn = 1; ip_ecn <= 3; ++ip_ecn) {
    SynOptions syn = full_syn();
    syn.ip_ecn = ip_ecn;
    EXPECT_FALSE(plan_synack(s, kClock, kFlow4, kIsn, syn).ece) << int{ip_ecn};
    syn.tcp_res1 = true;
    EXPECT_TRUE(plan_synack(s, kClock, kFlow4, kIsn, syn).ece) << int{ip_ecn};
  }
}

TEST(SynAckPlanner, TsOffIsAddedOnlyWhenTcpTimestampsIsOneInBothVariants) {
  for (TsOffsetMode mode : {TsOffsetMode::kPerConnection, TsOffsetMode::kPerHost}) {
    HostSecrets s = make_secrets(mode);
    const SynAckPlan with_off = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
    s.sysctls.tcp_timestamps = 2;
    const SynAckPlan without_off = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
    const uint32_t bare = static_cast<uint32_t>(
        cookie_init_timestamp(kClock.tcp_ms, 9u | kTsOptSack | kTsOptEcn));
    EXPECT_EQ(without_off.tsval, bare);
    EXPECT_EQ(with_off.tsval, bare + ts_off4(make_secrets(mode)));
    EXPECT_NE(with_off.tsval, bare);
  }
}

TEST(SynAckPlanner, VariantsDifferByWhetherPortsChangeTheOffset) {
  Ipv4Flow other = kFlow4;
  other.client_port = raw_port(40001);
  const HostSecrets per_host = make_secrets(TsOffsetMode::kPerHost);
  const HostSecrets per_conn = make_secrets(TsOffsetMode::kPerConnection);
  auto ts_minus_ts_part = [](const HostSecrets& s, const Ipv4Flow& f) {
    const SynAckPlan p = plan_synack(s, kClock, f, kIsn, full_syn());
    return p.tsval - static_cast<uint32_t>(
                         cookie_init_timestamp(kClock.tcp_ms, 9u | kTsOptSack | kTsOptEcn));
  };
  EXPECT_EQ(ts_minus_ts_part(per_host, kFlow4), ts_minus_ts_part(per_host, other));
  EXPECT_NE(ts_minus_ts_part(per_conn, kFlow4), ts_minus_ts_part(per_conn, other));
}

TEST(SynAckPlanner, TsvalIsNeverAheadOfTheHostClock) {
  const HostSecrets s = make_secrets();
  std::mt19937_64 rng(99);
  for (int i = 0; i < 100'000; ++i) {
    const ClockReading clock{static_cast<uint32_t>(rng()), 64 + rng() % 0xFFFFFF00ULL};
    SynOptions syn = full_syn();
    syn.wscale = static_cast<uint8_t>(rng() % 16);
    syn.has_wscale = rng() & 1;
    syn.sack_permitted = rng() & 1;
    syn.ece_cwr = rng() & 1;
    const SynAckPlan p = plan_synack(s, clock, kFlow4, kIsn, syn);
    const uint32_t ts = p.tsval - ts_off4(s);
    ASSERT_LE(ts, static_cast<uint32_t>(clock.tcp_ms)) << i;
    ASSERT_LT(static_cast<uint32_t>(clock.tcp_ms) - ts, 64u) << i;
  }
}

// Every combination of offered options and host sysctls: the ACK check decodes exactly what the
// SYN-ACK negotiated, in both families.
TEST(SynAckPlanner, AckCheckDecodesWhatTheSynAckNegotiatedForEveryCombination) {
  for (unsigned offered = 0; offered < 32; ++offered) {
    for (unsigned sysbits = 0; sysbits < 16; ++sysbits) {
      HostSecrets s = make_secrets();
      s.sysctls.tcp_timestamps = (sysbits & 1) ? 1 : 0;
      s.sysctls.tcp_sack = (sysbits >> 1) & 1;
      s.sysctls.tcp_window_scaling = (sysbits >> 2) & 1;
      s.sysctls.tcp_ecn = (sysbits & 8) ? 2 : 0;
      SynOptions syn;
      syn.has_mss = offered & 1;
      syn.mss = 1400;
      syn.has_timestamp = offered & 2;
      syn.tsval = 777;
      syn.sack_permitted = offered & 4;
      syn.has_wscale = offered & 8;
      syn.wscale = 6;
      syn.ece_cwr = offered & 16;
      const bool ts = syn.has_timestamp && s.sysctls.tcp_timestamps;
      for (int family = 0; family < 2; ++family) {
        const SynAckPlan p = family == 0 ? plan_synack(s, kClock, kFlow4, kIsn, syn)
                                         : plan_synack(s, kClock, kFlow6, kIsn, syn);
        const AckVerdict v = family == 0 ? check_ack(s, kClock, kFlow4, ack_for(p))
                                         : check_ack(s, kClock, kFlow6, ack_for(p));
        SCOPED_TRACE(testing::Message() << "offered " << offered << " sysctls " << sysbits
                                        << " family " << family);
        ASSERT_TRUE(v.valid());
        EXPECT_EQ(p.has_timestamp, ts);
        EXPECT_EQ(v.tstamp_ok, ts);
        EXPECT_EQ(v.sack_ok, p.sack_permitted);
        EXPECT_EQ(p.sack_permitted, ts && syn.sack_permitted && s.sysctls.tcp_sack);
        EXPECT_EQ(v.wscale_ok, p.has_wscale);
        EXPECT_EQ(p.has_wscale, ts && syn.has_wscale && s.sysctls.tcp_window_scaling);
        EXPECT_EQ(v.snd_wscale, p.has_wscale ? 6 : 0);
        EXPECT_EQ(v.ecn_ok, p.ece);
        EXPECT_EQ(p.ece, ts && syn.ece_cwr && s.sysctls.tcp_ecn);
        EXPECT_EQ(v.mss_index, p.mss_index);
        EXPECT_EQ(p.mss_index, syn.has_mss ? (family == 0 ? 1 : 0) : 0);
      }
    }
  }
}

TEST(SynAckPlanner, AckAcceptedInItsMinuteAndTheNextOnly) {
  const HostSecrets s = make_secrets();
  const SynAckPlan p4 = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
  const SynAckPlan p6 = plan_synack(s, kClock, kFlow6, kIsn, full_syn());
  auto at = [](uint32_t count) { return ClockReading{count, kClock.tcp_ms + 1000}; };
  const uint32_t c = kClock.cookie_count;
  EXPECT_EQ(check_ack(s, at(c), kFlow4, ack_for(p4)).status, AckStatus::kAccepted);
  EXPECT_EQ(check_ack(s, at(c + 1), kFlow4, ack_for(p4)).status, AckStatus::kAccepted);
  EXPECT_EQ(check_ack(s, at(c + 2), kFlow4, ack_for(p4)).status, AckStatus::kCookieOutOfWindow);
  EXPECT_EQ(check_ack(s, at(c - 1), kFlow4, ack_for(p4)).status, AckStatus::kCookieOutOfWindow);
  EXPECT_EQ(check_ack(s, at(c), kFlow6, ack_for(p6)).status, AckStatus::kAccepted);
  EXPECT_EQ(check_ack(s, at(c + 1), kFlow6, ack_for(p6)).status, AckStatus::kAccepted);
  EXPECT_EQ(check_ack(s, at(c + 2), kFlow6, ack_for(p6)).status, AckStatus::kCookieOutOfWindow);
  EXPECT_EQ(check_ack(s, at(c - 1), kFlow6, ack_for(p6)).status, AckStatus::kCookieOutOfWindow);
}

TEST(SynAckPlanner, ForeignOrAlteredAcksAreRejected) {
  const HostSecrets s = make_secrets();
  const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
  AckSegment a = ack_for(p);
  a.ack += 1 << 8;  // another cookie
  EXPECT_FALSE(check_ack(s, kClock, kFlow4, a).valid());
  Ipv4Flow other = kFlow4;
  other.client_addr = raw4(198, 51, 100, 24);
  EXPECT_FALSE(check_ack(s, kClock, other, ack_for(p)).valid());
  // The IPv6 keys do not validate an IPv4-style cookie for the same numbers.
  EXPECT_FALSE(check_ack(s, kClock, kFlow6, ack_for(p)).valid());
}

TEST(SynAckPlanner, AckWithoutTimestampIsValidWithOptionsCleared) {
  const HostSecrets s = make_secrets();
  const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
  const AckVerdict v = check_ack(s, kClock, kFlow4, ack_for(p, /*with_timestamp=*/false));
  ASSERT_TRUE(v.valid());
  EXPECT_FALSE(v.tstamp_ok);
  EXPECT_FALSE(v.sack_ok);
  EXPECT_FALSE(v.wscale_ok);
  EXPECT_FALSE(v.ecn_ok);
  EXPECT_EQ(v.ts_off, 0u);
  EXPECT_EQ(v.mss, 1460);
}

TEST(SynAckPlanner, HostThatDisabledSackSinceRefusesTheAck) {
  HostSecrets s = make_secrets();
  const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
  s.sysctls.tcp_sack = 0;
  EXPECT_EQ(check_ack(s, kClock, kFlow4, ack_for(p)).status, AckStatus::kOptionDisabled);
  s = make_secrets();
  s.sysctls.tcp_window_scaling = 0;
  EXPECT_EQ(check_ack(s, kClock, kFlow4, ack_for(p)).status, AckStatus::kOptionDisabled);
}

TEST(SynAckPlanner, CheckReportsTheTsOffTheHostWouldKeep) {
  const HostSecrets s = make_secrets();
  const SynAckPlan p = plan_synack(s, kClock, kFlow4, kIsn, full_syn());
  EXPECT_EQ(check_ack(s, kClock, kFlow4, ack_for(p)).ts_off, ts_off4(s));
}

TEST(SynAckWindow, QuantisedToTheMssLessTimestampAndCappedAtSixteenBits) {
  EXPECT_EQ(synack_window(65536, 1460, true), 65160);
  EXPECT_EQ(synack_window(65536, 1460, false), 64240);
  EXPECT_EQ(synack_window(65536, 1440, true), 64260);
  EXPECT_EQ(synack_window(65536, 1440, false), 64800);
  EXPECT_EQ(synack_window(1 << 20, 1460, true), 65535);
  EXPECT_EQ(synack_window(1000, 1460, false), 1000);  // less than one MSS: not quantised
  EXPECT_EQ(synack_window(20000, 1460, false), 18980);
}

}  // namespace
}  // namespace synwarden
