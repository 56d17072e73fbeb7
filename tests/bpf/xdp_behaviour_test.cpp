// Fast-path behaviours beyond single table cells: what the established-flow key is made of,
// the SYN-ACK rate limit, the load-time knobs, settings not yet written, counters over
// repeated runs.
#include <bpf/bpf.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using namespace tcp_flags;
using dataplane::FlowOrigin;
using dataplane::IpAddress;

Bytes v4_segment(std::uint8_t flags, std::uint16_t client_port = kClientPort) {
  return FrameBuilder().eth(kFirewallMac, kRouterMac).ipv4(kClientV4, kHostV4)
      .tcp(client_port, kServicePort, flags).build();
}

class Behaviour : public FastpathTest {};

TEST_F(Behaviour, FlowKeyIncludesTheVlanId) {
  protect(kHostV4, true);
  ASSERT_TRUE(fp().flows().insert(client_flow(false, 100), FlowOrigin::admin).ok());
  const auto on_vlan = [](std::uint16_t vid) {
    return FrameBuilder().eth(kFirewallMac, kRouterMac).vlan(vid).ipv4(kClientV4, kHostV4)
        .tcp(kClientPort, kServicePort, ACK).build();
  };
  EXPECT_EQ(run(on_vlan(100)).last.reason, SW_R_FWD_ESTABLISHED);
  EXPECT_EQ(run(on_vlan(200)).last.reason, SW_R_XSK_ACK_NO_SOCKET)
      << "the same 4-tuple on another VLAN is another flow";
  EXPECT_EQ(run(v4_segment(ACK)).last.reason, SW_R_XSK_ACK_NO_SOCKET) << "untagged";
}

TEST_F(Behaviour, VlanPriorityBitsAreNotPartOfTheFlow) {
  protect(kHostV4, true);
  ASSERT_TRUE(fp().flows().insert(client_flow(false, 100), FlowOrigin::admin).ok());
  const Bytes frame = FrameBuilder().eth(kFirewallMac, kRouterMac).vlan(100, 0x8100, 5)
      .ipv4(kClientV4, kHostV4).tcp(kClientPort, kServicePort, ACK).build();
  EXPECT_EQ(run(frame).last.reason, SW_R_FWD_ESTABLISHED);
}

TEST_F(Behaviour, FlowKeyIsTheInboundDirection) {
  protect(kHostV4, true);
  ASSERT_TRUE(fp().flows().insert(client_flow(false), FlowOrigin::admin).ok());
  // Ports swapped (as if the host had sent it): not the learned flow.
  const Bytes swapped = FrameBuilder().eth(kFirewallMac, kRouterMac).ipv4(kClientV4, kHostV4)
      .tcp(kServicePort, kClientPort, ACK).build();
  EXPECT_EQ(run(swapped).last.reason, SW_R_XSK_ACK_NO_SOCKET);
  EXPECT_EQ(run(v4_segment(ACK, kClientPort + 1)).last.reason, SW_R_XSK_ACK_NO_SOCKET)
      << "another client port is another flow";
}

TEST_F(Behaviour, Ipv4HostIsNotMatchedByItsV4MappedIpv6Address) {
  protect(kHostV4, true);
  const Bytes frame = FrameBuilder().eth(kFirewallMac, kRouterMac)
      .ipv6(kClientV6, "::ffff:" + kHostV4).tcp(kClientPort, kServicePort, SYN).build();
  EXPECT_EQ(run(frame).last.reason, SW_R_PASS_NOT_PROTECTED);
}

TEST_F(Behaviour, LearnedFlowIsForwardedAfterProtectionIsTurnedOn) {
  protect(kHostV4, false);
  EXPECT_EQ(run(v4_segment(ACK)).last.reason, SW_R_FWD_LEARNED);
  ASSERT_TRUE(fp().hosts().set_protection(*IpAddress::parse(kHostV4), true).ok());
  const RunResult r = run(v4_segment(ACK | PSH));
  EXPECT_EQ(verdict_name(r.verdict), "XDP_TX");
  EXPECT_EQ(r.last.reason, SW_R_FWD_ESTABLISHED) << "an open connection survives protection on";
}

TEST_F(Behaviour, SettingsNotYetWrittenForwardNothing) {
  protect(kHostV4, false);
  const sw_settings blank{};
  const __u32 key = 0;
  ASSERT_EQ(bpf_map_update_elem(fp().settings().fd(), &key, &blank, BPF_ANY), 0);
  const Bytes in = v4_segment(ACK);
  const RunResult r = run(in);
  EXPECT_EQ(verdict_name(r.verdict), "XDP_PASS");
  expect_only_reason(r, SW_R_PASS_UNCONFIGURED, in.size());
  EXPECT_EQ(r.out, in);
  EXPECT_EQ(*fp().flows().count(), 0u);
}

TEST_F(Behaviour, SynAckRateLimitDropsBeyondTheBurstAndRefills) {
  protect(kHostV4, true);
  dataplane::Settings s;
  s.firewall_mac = kFirewallMac;
  const unsigned cpus = fp().stats().possible_cpus();
  // 10 SYN-ACKs/s and a burst of 3 per CPU: 100 ms of credit per SYN-ACK.
  s.synack_rate_pps = 10ull * cpus;
  s.synack_burst = 3ull * cpus;
  const sw_settings raw = dataplane::SettingsTable::to_raw(s, cpus);
  ASSERT_EQ(raw.synack_cost_ns, 100'000'000u);
  ASSERT_EQ(raw.synack_burst_ns, 300'000'000u);
  ASSERT_TRUE(fp().settings().write(s).ok());

  // run() zeroes the per-CPU slot, bucket included: drive the bucket with repeated runs of
  // distinct flows instead (a SYN-ACK of a learned flow would hit the established map).
  std::uint16_t port = 50000;
  const auto synack = [&] { return v4_segment(SYN | ACK, port++); };
  const auto send = [&](const Bytes& frame) { return run_raw(fp().program_fd(), frame); };
  ASSERT_TRUE(fp().stats().reset().ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(verdict_name(send(synack())), "XDP_TX") << "burst SYN-ACK " << i;
  EXPECT_EQ(verdict_name(send(synack())), "XDP_DROP") << "the fourth is over the burst";
  auto counters = fp().stats().read();
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ((*counters)[SW_R_FWD_SYNACK].packets, 3u);
  EXPECT_EQ((*counters)[SW_R_DROP_SYNACK_RATE].packets, 1u);
  EXPECT_EQ(*fp().outbound_unverified().count(), 3u) << "only forwarded SYN-ACKs are learned";
  EXPECT_EQ(*fp().outbound().count(), 0u) << "unstamped SYN-ACKs stay out of the stamped table";
  EXPECT_EQ(*fp().flows().count(), 0u) << "SYN-ACKs never reach the established map";

  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // > one cost, < two
  EXPECT_EQ(verdict_name(send(synack())), "XDP_TX") << "credit refilled";
  EXPECT_EQ(verdict_name(send(synack())), "XDP_DROP");
}

TEST_F(Behaviour, SynAckRateLimitDoesNotApplyInPassMode) {
  protect(kHostV4, false);
  dataplane::Settings s;
  s.firewall_mac = kFirewallMac;
  s.synack_rate_pps = 1;
  s.synack_burst = 1;
  ASSERT_TRUE(fp().settings().write(s).ok());
  for (std::uint16_t p = 1000; p < 1005; ++p) {
    EXPECT_EQ(run(v4_segment(SYN | ACK, p)).last.reason, SW_R_FWD_LEARNED);
  }
}

TEST_F(Behaviour, RepeatedRunsAccumulateCountersOnePerFrame) {
  protect(kHostV4, true);
  ASSERT_TRUE(fp().flows().insert(client_flow(false), FlowOrigin::admin).ok());
  ASSERT_TRUE(fp().stats().reset().ok());
  const Bytes frame = v4_segment(ACK);
  EXPECT_EQ(verdict_name(run_raw(fp().program_fd(), frame, 1000)), "XDP_TX");
  auto counters = fp().stats().read();
  ASSERT_TRUE(counters.ok());
  EXPECT_EQ((*counters)[SW_R_FWD_ESTABLISHED].packets, 1000u);
  EXPECT_EQ((*counters)[SW_R_FWD_ESTABLISHED].bytes, 1000u * frame.size());
  EXPECT_EQ(counters->total_packets(), 1000u);
}

TEST_F(Behaviour, EveryReasonHasAUniqueMetricName) {
  std::set<std::string_view> names;
  for (int i = 0; i < SW_REASON_COUNT; ++i) {
    const auto name = dataplane::StatsTable::reason_name(static_cast<sw_reason>(i));
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"), std::string_view::npos) << name;
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
    EXPECT_FALSE(dataplane::StatsTable::reason_help(static_cast<sw_reason>(i)).empty());
  }
}

// Knobs are load-time constants, so each needs its own load.
class Knobs : public ::testing::Test {
 protected:
  static dataplane::XdpFastpath load(const dataplane::LoadOptions& base) {
    dataplane::LoadOptions opts = base;
    opts.flow_table_size = 1024;
    opts.host_table_size = 16;
    auto fp = dataplane::XdpFastpath::load(opts);
    EXPECT_TRUE(fp.ok()) << fp.error().message;
    dataplane::Settings s;
    s.firewall_mac = kFirewallMac;
    EXPECT_TRUE(fp->settings().write(s).ok());
    return std::move(*fp);
  }
  static void add_host(dataplane::XdpFastpath& fp, bool on) {
    dataplane::HostEntry e;
    e.mac = kHostMac;
    e.protect = on;
    ASSERT_TRUE(fp.hosts().upsert(*IpAddress::parse(kHostV4), e).ok());
  }
};

TEST_F(Knobs, FailOpenForwardsSynsWhenNoWorkerSocketIsBound) {
  pin_to_one_cpu();
  dataplane::LoadOptions o;
  o.xsk_fail_open = true;
  auto fp = load(o);
  add_host(fp, true);
  const RunResult r = run_frame(fp, v4_segment(SYN));
  EXPECT_EQ(verdict_name(r.verdict), "XDP_TX");
  EXPECT_EQ(r.last.reason, SW_R_XSK_SYN_NO_SOCKET) << "still counted as a missing socket";
  const Bytes expected = FrameBuilder().eth(kHostMac, kFirewallMac).ipv4(kClientV4, kHostV4)
      .tcp(kClientPort, kServicePort, SYN).build();
  EXPECT_EQ(r.out, expected);
  EXPECT_EQ(run_frame(fp, v4_segment(ACK)).last.reason, SW_R_XSK_ACK_NO_SOCKET);
  EXPECT_EQ(*fp.flows().count(), 0u) << "fail-open does not learn";
}

TEST_F(Knobs, LearningCanBeTurnedOffForPassMode) {
  pin_to_one_cpu();
  dataplane::LoadOptions o;
  o.learn_in_pass_mode = false;
  auto fp = load(o);
  add_host(fp, false);
  const RunResult r = run_frame(fp, v4_segment(ACK));
  EXPECT_EQ(verdict_name(r.verdict), "XDP_TX");
  EXPECT_EQ(r.last.reason, SW_R_FWD_PASS_MODE);
  EXPECT_EQ(*fp.flows().count(), 0u);
}

}  // namespace
}  // namespace synwarden::test
