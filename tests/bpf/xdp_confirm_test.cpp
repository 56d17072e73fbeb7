// Socket-confirmation candidates from the XDP datapath (bpf/fastpath/confirm.bpf.h): an unknown
// ACK to a host whose agent confirms sockets (SW_HC_CONFIRM) that fails the cookie check is
// dropped and its flow key written into sw_candidates; nothing else is reported; the per-CPU
// bucket caps the reports and counts what it capped.
#include <unistd.h>

#include <vector>

#include "synwarden/bpf_cookie_keys.h"
#include "synwarden/clock_now.h"
#include "synwarden/packet_builder.h"
#include "cookie_test_keys.h"
#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using dataplane::FlowKey;
using dataplane::FlowOrigin;
using dataplane::HostCookieTable;
using dataplane::IpAddress;

synwarden::FrameBuilder v4(std::uint8_t flags, std::uint16_t client_port = kClientPort) {
  synwarden::FrameBuilder b;
  b.macs(kRouterMac, kFirewallMac).ipv4(kClientV4, kHostV4).ports(client_port, kServicePort)
      .flags(flags).seq(1000).ack(0x1234567);
  return b;
}

class XdpConfirm : public FastpathTest {
 protected:
  void SetUp() override {
    FastpathTest::SetUp();
    dataplane::Settings s;
    s.firewall_mac = kFirewallMac;
    s.xdp_cookies = true;
    ASSERT_TRUE(fp().settings().write(s).ok());
    protect(kHostV4, true);
    (void)reported();  // earlier tests' candidates
  }
  void describe(bool confirm) {
    HostCookieTable::Entry e;
    e.addr = *IpAddress::parse(kHostV4);
    e.value.flags = SW_HC_HAS_KEYS | (confirm ? SW_HC_CONFIRM : 0);
    e.value.counter_slot = SW_NO_COUNTER_SLOT;
    e.value.current = bpf_cookie_keys(fixed_secrets(), HostClock(fixed_secrets().clock, monotonic_ms()));
    auto ok = fp().host_cookies().write({e});
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }
  std::vector<FlowKey> reported() {
    std::vector<FlowKey> out;
    auto n = fp().candidates().drain([&](const sw_flow_key& k) { out.push_back(FlowKey::from_raw(k)); });
    EXPECT_TRUE(n.ok()) << n.error().message;
    return out;
  }
  dataplane::CandidateCounters counters() {
    auto c = fp().candidates().counters();
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? *c : dataplane::CandidateCounters{};
  }
};

TEST_F(XdpConfirm, AnUnknownAckWithABadCookieIsDroppedAndItsFlowReported) {
  describe(true);
  const auto before = counters();
  const RunResult r = run(v4(tcpflag::kAck).build());
  EXPECT_EQ(r.verdict, XDP_DROP);
  EXPECT_TRUE(r.last.reason == SW_R_DROP_COOKIE_BAD || r.last.reason == SW_R_DROP_COOKIE_EXPIRED)
      << r.last.reason;
  const auto keys = reported();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], client_flow(false));
  EXPECT_EQ(counters().reported, before.reported + 1);
}

TEST_F(XdpConfirm, HostsWithoutAConfirmingAgentReportNothing) {
  describe(false);
  EXPECT_EQ(run(v4(tcpflag::kAck).build()).verdict, XDP_DROP);
  EXPECT_TRUE(reported().empty());
}

TEST_F(XdpConfirm, SynsKnownFlowsAndUnknownRstsAreNotCandidates) {
  describe(true);
  (void)run(v4(tcpflag::kSyn).ack(0).build());
  (void)run(v4(tcpflag::kRst | tcpflag::kAck).build());
  ASSERT_TRUE(fp().flows().insert(client_flow(false, 0, 0, 40001), FlowOrigin::admin).ok());
  EXPECT_EQ(run(v4(tcpflag::kAck, 40001).build()).verdict, XDP_TX);
  EXPECT_TRUE(reported().empty());
}

TEST_F(XdpConfirm, AFloodIsCappedByThePerCpuBucket) {
  describe(true);
  // The harness loads with the default 2 000 candidates/s: per CPU 2000 / possible CPUs, with
  // a quarter second of burst. A full bucket first.
  ::usleep(300'000);
  const auto before = counters();
  const unsigned cpus = fp().stats().possible_cpus();
  const std::uint64_t burst = 2000 / cpus / 4;
  constexpr std::uint32_t kFlood = 5000;
  const std::uint64_t t0 = monotonic_ms();
  EXPECT_EQ(run_raw(fp().program_fd(), v4(tcpflag::kAck).build(), kFlood), XDP_DROP);
  const std::uint64_t elapsed_ms = monotonic_ms() - t0 + 1;
  const auto after = counters();
  const std::uint64_t got = after.reported - before.reported;
  EXPECT_GE(got, burst);
  // What the bucket refills during the run (2000/s over the CPUs), and no more.
  EXPECT_LE(got, burst + elapsed_ms * 2000 / cpus / 1000 + 1) << "run took " << elapsed_ms << " ms";
  EXPECT_EQ(after.capped - before.capped + got + (after.lost - before.lost), kFlood);
  EXPECT_EQ(reported().size(), got);
}

}  // namespace
}  // namespace synwarden::test
