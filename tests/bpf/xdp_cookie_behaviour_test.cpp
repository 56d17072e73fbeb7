// The XDP cookie datapath's decisions around the cookie itself: which datapath the settings
// select, hosts the daemon has not described, the fail policy without keys, port lists, the
// SYN-ACK rate limit, SYN checksums, what is left to the AF_XDP worker, and the per-host
// counters. The cookie bytes themselves are xdp_cookie_exactness_test's subject.
#include <time.h>

#include "synwarden/bpf_cookie_keys.h"
#include "synwarden/clock_now.h"
#include "synwarden/packet_builder.h"
#include "synwarden/tcp_timestamp.h"
#include "cookie_test_keys.h"
#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using dataplane::FlowOrigin;
using dataplane::HostCookieTable;
using dataplane::IpAddress;

synwarden::FrameBuilder v4(std::uint8_t flags, std::uint16_t dport = kServicePort) {
  synwarden::FrameBuilder b;
  b.macs(kRouterMac, kFirewallMac).ipv4(kClientV4, kHostV4).ports(kClientPort, dport)
      .flags(flags).seq(1000);
  return b;
}

class XdpCookieBehaviour : public FastpathTest {
 protected:
  void SetUp() override {
    FastpathTest::SetUp();
    use_datapath(true);
    protect(kHostV4, true);
    protect(kHostV6, true);
  }
  void use_datapath(bool xdp, std::uint64_t cookie_pps = 0, std::uint64_t burst = 0) {
    dataplane::Settings s;
    s.firewall_mac = kFirewallMac;
    s.xdp_cookies = xdp;
    s.cookie_synack_rate_pps = cookie_pps;
    s.cookie_synack_burst = burst;
    ASSERT_TRUE(fp().settings().write(s).ok());
  }
  // Describes the IPv4 host: with keys unless `keys` is false, fail open or closed, ports.
  void describe(bool keys, bool fail_open = false, std::vector<std::uint16_t> ports = {},
                std::uint32_t counter_slot = SW_NO_COUNTER_SLOT, std::uint16_t recovery_s = 0) {
    HostCookieTable::Entry e;
    e.addr = *IpAddress::parse(kHostV4);
    e.value.flags = (keys ? SW_HC_HAS_KEYS : 0) | (fail_open ? SW_HC_FAIL_OPEN : 0);
    e.value.counter_slot = counter_slot;
    e.value.current = bpf_cookie_keys(fixed_secrets(), HostClock(fixed_secrets().clock, monotonic_ms()));
    e.value.current.recovery_window_s = recovery_s;
    e.ports = std::move(ports);
    auto ok = fp().host_cookies().write({e});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }
};

TEST_F(XdpCookieBehaviour, AfxdpDatapathSteersSynsAndAcksEvenForDescribedHosts) {
  describe(true);
  use_datapath(false);
  EXPECT_EQ(run(v4(tcpflag::kSyn).build()).last.reason, SW_R_XSK_SYN_NO_SOCKET);
  EXPECT_EQ(run(v4(tcpflag::kAck).build()).last.reason, SW_R_XSK_ACK_NO_SOCKET);
}

TEST_F(XdpCookieBehaviour, XdpDatapathSteersHostsTheDaemonHasNotDescribed) {
  EXPECT_EQ(run(v4(tcpflag::kSyn).build()).last.reason, SW_R_XSK_SYN_NO_SOCKET);
  EXPECT_EQ(run(v4(tcpflag::kAck).build()).last.reason, SW_R_XSK_ACK_NO_SOCKET);
}

TEST_F(XdpCookieBehaviour, SynIsAnsweredWithASynAckBackToTheClient) {
  describe(true);
  const RunResult r = run(v4(tcpflag::kSyn).linux_syn_options(1460, 7, 7).build());
  ASSERT_EQ(verdict_name(r.verdict), "XDP_TX");
  expect_only_reason(r, SW_R_XDP_SYNACK, r.out.size());
  ASSERT_GE(r.out.size(), 60u);
  EXPECT_TRUE(std::equal(kRouterMac.begin(), kRouterMac.end(), r.out.begin())) << "to the client";
  EXPECT_EQ(r.out[14 + 20 + 13], tcpflag::kSyn | tcpflag::kAck);
}

TEST_F(XdpCookieBehaviour, WithoutKeysFailClosedDropsSynsAndAcks) {
  describe(false, /*fail_open=*/false);
  EXPECT_EQ(verdict_name(run(v4(tcpflag::kSyn).build()).verdict), "XDP_DROP");
  const RunResult ack = run(v4(tcpflag::kAck).build());
  EXPECT_EQ(ack.last.reason, SW_R_DROP_NO_KEYS);
  EXPECT_EQ(verdict_name(ack.verdict), "XDP_DROP");
}

TEST_F(XdpCookieBehaviour, WithoutKeysFailOpenForwardsAndLearnsTheAcksFlow) {
  describe(false, /*fail_open=*/true);
  const RunResult syn = run(v4(tcpflag::kSyn).build());
  EXPECT_EQ(syn.last.reason, SW_R_FWD_NO_KEYS);
  EXPECT_TRUE(std::equal(kHostMac.begin(), kHostMac.end(), syn.out.begin())) << "to the host";
  EXPECT_EQ(run(v4(tcpflag::kAck).build()).last.reason, SW_R_FWD_NO_KEYS);
  auto learned = fp().flows().lookup(client_flow(false));
  ASSERT_TRUE(learned.ok() && learned->has_value());
  EXPECT_EQ((*learned)->origin, FlowOrigin::learned);
  EXPECT_EQ(run(v4(tcpflag::kAck | tcpflag::kPsh).build()).last.reason, SW_R_FWD_ESTABLISHED);
}

TEST_F(XdpCookieBehaviour, ForgottenFlowIsRecoveredFromItsTimestampWhenTheWindowAllows) {
  // An ACK that is no cookie but echoes a TSval the host sent 5 s ago (its clock + ts_off).
  describe(true, false, {}, SW_NO_COUNTER_SLOT, 300);
  const HostSecrets s = fixed_secrets();
  const std::uint64_t now = monotonic_ms();
  const std::uint64_t host_ms = HostClock(s.clock, now).at(now).tcp_ms;
  const Ipv4Flow flow{inet_addr(kClientV4.c_str()), inet_addr(kHostV4.c_str()), htons(kClientPort),
                      htons(kServicePort)};
  const std::uint32_t ts_off = host_ts_off(s.ts_offset, s.ts_key, flow, 1);
  auto ack = [&](std::uint32_t tsecr) {
    return v4(tcpflag::kAck).ack(0x1234567).nop().nop().timestamp(77, tsecr).build();
  };
  // A failed cookie is dropped as expired or bad, whichever its count field says.
  auto failed_cookie = [](const RunResult& r) {
    return verdict_name(r.verdict) == "XDP_DROP" &&
           (r.last.reason == SW_R_DROP_COOKIE_BAD || r.last.reason == SW_R_DROP_COOKIE_EXPIRED);
  };
  EXPECT_TRUE(failed_cookie(run(ack(static_cast<std::uint32_t>(host_ms - 400'000) + ts_off))))
      << "400 s is outside the 300 s window";
  EXPECT_TRUE(failed_cookie(run(ack(static_cast<std::uint32_t>(host_ms - 5'000) + ts_off + 0x40000000))))
      << "a TSecr a quarter of the clock away";
  const RunResult live = run(ack(static_cast<std::uint32_t>(host_ms - 5'000) + ts_off));
  EXPECT_EQ(live.last.reason, SW_R_XDP_ACK_RECOVERED);
  EXPECT_EQ(verdict_name(live.verdict), "XDP_TX");
  auto learned = fp().flows().lookup(client_flow(false));
  ASSERT_TRUE(learned.ok() && learned->has_value()) << "learnt again";
  // The same ACK with recovery off is a failed cookie.
  ASSERT_TRUE(fp().flows().clear().ok());
  describe(true);
  EXPECT_TRUE(failed_cookie(run(ack(static_cast<std::uint32_t>(host_ms - 5'000) + ts_off))));
}

TEST_F(XdpCookieBehaviour, PortsOutsideTheHostsListAreForwardedListedOnesAnswered) {
  describe(true, false, {443, 8443});
  EXPECT_EQ(run(v4(tcpflag::kSyn, 8443).build()).last.reason, SW_R_XDP_SYNACK);
  EXPECT_EQ(run(v4(tcpflag::kSyn, 22).build()).last.reason, SW_R_FWD_UNPROTECTED_PORT);
  EXPECT_EQ(run(v4(tcpflag::kAck, 22).build()).last.reason, SW_R_FWD_UNPROTECTED_PORT);
  describe(true, false, {22});  // the list is replaced, not merged
  EXPECT_EQ(run(v4(tcpflag::kSyn, 8443).build()).last.reason, SW_R_FWD_UNPROTECTED_PORT);
  EXPECT_EQ(run(v4(tcpflag::kSyn, 22).build()).last.reason, SW_R_XDP_SYNACK);
}

TEST_F(XdpCookieBehaviour, SynAcksOverTheRateLimitAreDropped) {
  describe(true);
  // One SYN-ACK per second per CPU, burst one: the second SYN within the second is refused.
  // run_raw(): the bucket lives in the per-CPU stats slot, which run() resets.
  use_datapath(true, 1, 1);
  const Bytes syn = v4(tcpflag::kSyn).build();
  EXPECT_EQ(verdict_name(run_raw(fp().program_fd(), syn)), "XDP_TX");
  EXPECT_EQ(verdict_name(run_raw(fp().program_fd(), syn)), "XDP_DROP");
  auto counters = fp().stats().read();
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ((*counters)[SW_R_XDP_SYNACK].packets, 1u);
  EXPECT_EQ((*counters)[SW_R_DROP_COOKIE_SYN_RATE].packets, 1u);
}

TEST_F(XdpCookieBehaviour, SynWithABadChecksumIsDropped) {
  describe(true);
  Bytes frame = v4(tcpflag::kSyn).build();
  frame[14 + 20 + 16] ^= 0x01;  // TCP checksum
  EXPECT_EQ(run(frame).last.reason, SW_R_DROP_SYN_CHECKSUM);
  frame = v4(tcpflag::kSyn).build();
  frame[14 + 10] ^= 0x01;  // IPv4 header checksum
  EXPECT_EQ(run(frame).last.reason, SW_R_DROP_SYN_CHECKSUM);
}

TEST_F(XdpCookieBehaviour, WhatXdpLeavesToTheWorkerIsDroppedAndCountedWithoutASocket) {
  describe(true);
  const RunResult data_syn = run(v4(tcpflag::kSyn).payload({1, 2, 3}).build());
  EXPECT_EQ(data_syn.last.reason, SW_R_DROP_XDP_UNSUPPORTED) << "SYN with payload";
  EXPECT_EQ(verdict_name(data_syn.verdict), "XDP_DROP");
}

TEST_F(XdpCookieBehaviour, BrokenTcpOptionIsDropped) {
  describe(true);
  EXPECT_EQ(run(v4(tcpflag::kSyn).raw_option_bytes({30, 1, 0, 0}).build()).last.reason,
            SW_R_DROP_BAD_TCP_OPTION);
}

// The workers' per-host counters (metrics_host_counters.h), kept by the XDP program in the host's
// slot of sw_host_stats for what it decides itself; what it hands to the worker is not counted
// here (the worker counts it).
TEST_F(XdpCookieBehaviour, PerHostCountersCountWhatXdpDecidesInTheHostsSlot) {
  constexpr std::uint32_t kSlot = 5;
  describe(true, false, {}, kSlot);
  EXPECT_EQ(run(v4(tcpflag::kSyn).linux_syn_options(1460, 7, 7).build()).last.reason,
            SW_R_XDP_SYNACK);
  Bytes bad_sum = v4(tcpflag::kSyn).build();
  bad_sum[14 + 20 + 16] ^= 0x01;
  EXPECT_EQ(run(bad_sum).last.reason, SW_R_DROP_SYN_CHECKSUM);
  const std::uint32_t wrong = run(v4(tcpflag::kAck).build()).last.reason;  // which: the hash's
  EXPECT_TRUE(wrong == SW_R_DROP_COOKIE_BAD || wrong == SW_R_DROP_COOKIE_EXPIRED) << wrong;
  EXPECT_EQ(run(v4(tcpflag::kSyn).payload({1, 2, 3}).build()).last.reason,
            SW_R_DROP_XDP_UNSUPPORTED);  // the worker's to count: not here
  describe(false, /*fail_open=*/true, {}, kSlot);
  EXPECT_EQ(run(v4(tcpflag::kSyn).build()).last.reason, SW_R_FWD_NO_KEYS);

  auto c = fp().host_stats().read(kSlot);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ((*c)[SW_HX_SYN], 3u);
  EXPECT_EQ((*c)[SW_HX_ACK], 1u);
  EXPECT_EQ((*c)[SW_HX_SYNACK], 1u);
  EXPECT_EQ((*c)[SW_HX_ACK_VALID], 0u);
  EXPECT_EQ((*c)[SW_HX_ACK_INVALID], 1u);
  EXPECT_EQ((*c)[SW_HX_FORWARDED], 1u);
  EXPECT_EQ((*c)[SW_HX_RATE_LIMITED], 0u);
  EXPECT_EQ((*c)[SW_HX_DROPPED], 1u);
  auto other = fp().host_stats().read(kSlot - 1);
  ASSERT_TRUE(other.ok());
  for (std::uint64_t v : *other) EXPECT_EQ(v, 0u) << "another host's slot";

  // A host without a slot is decided as before and counted nowhere.
  describe(true, false, {}, SW_NO_COUNTER_SLOT);
  EXPECT_EQ(run(v4(tcpflag::kSyn).build()).last.reason, SW_R_XDP_SYNACK);
  auto after = fp().host_stats().read(kSlot);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)[SW_HX_SYN], 3u);
}

}  // namespace
}  // namespace synwarden::test
