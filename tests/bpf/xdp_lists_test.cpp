// Source allow/deny lists and the per-source SYN-ACK budget, run through the
// program: which list decides (longest prefix, host lists before global ones), what deny and
// allow do to a frame, IPv4/IPv6/VLAN, and the all-or-nothing bulk updates of SourceListTable.
#include <algorithm>
#include <string>
#include <vector>

#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using namespace tcp_flags;
using dataplane::IpAddress;
using dataplane::ListEntry;
using dataplane::ListKind;

const std::string kHost2V4 = "192.0.2.20";

ListEntry entry(const std::string& prefix, unsigned length, const std::string& host = {}) {
  ListEntry e;
  e.prefix = *IpAddress::parse(prefix);
  e.length = static_cast<std::uint8_t>(length);
  if (!host.empty()) e.host = *IpAddress::parse(host);
  return e;
}

Bytes v4(const std::string& src, std::uint8_t flags, const std::string& dst = kHostV4,
         std::uint16_t sport = kClientPort) {
  return FrameBuilder().eth(kFirewallMac, kRouterMac).ipv4(src, dst)
      .tcp(sport, kServicePort, flags).build();
}

Bytes v6(const std::string& src, std::uint8_t flags) {
  return FrameBuilder().eth(kFirewallMac, kRouterMac).ipv6(src, kHostV6)
      .tcp(kClientPort, kServicePort, flags).build();
}

class Lists : public FastpathTest {
 protected:
  void add(ListKind kind, std::vector<ListEntry> entries) {
    auto ok = fp().lists().add(kind, entries);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }
  // The reason the program counts for `frame`, checked to be the only one.
  sw_reason reason_of(const Bytes& frame) {
    const RunResult r = run(frame);
    const auto reason = static_cast<sw_reason>(r.last.reason);
    expect_only_reason(r, reason, frame.size());
    return reason;
  }
  static std::string name(sw_reason r) { return std::string(dataplane::StatsTable::reason_name(r)); }
};

// With no socket bound a challenged SYN ends as xsk_syn_no_socket: "challenged" below.
const std::string kChallenged = "xsk_syn_no_socket";

TEST_F(Lists, GlobalDenyDropsEverythingFromThePrefixAndCountsIt) {
  protect(kHostV4, true);
  add(ListKind::deny, {entry("198.51.100.0", 24)});
  const RunResult syn = run(v4("198.51.100.7", SYN));
  EXPECT_EQ(verdict_name(syn.verdict), "XDP_DROP");
  expect_only_reason(syn, SW_R_DROP_DENY_GLOBAL, v4("198.51.100.7", SYN).size());
  // Also a flow the firewall had learnt, and UDP: deny blocks the source, not a packet type.
  ASSERT_TRUE(fp().flows().insert(client_flow(false), dataplane::FlowOrigin::admin).ok());
  EXPECT_EQ(name(reason_of(v4(kClientV4, ACK))), "drop_deny_global");
  const Bytes udp = FrameBuilder().eth(kFirewallMac, kRouterMac).ipv4("198.51.100.9", kHostV4)
                        .udp(53, 53).build();
  EXPECT_EQ(name(reason_of(udp)), "drop_deny_global");
  EXPECT_EQ(name(reason_of(v4("198.51.101.7", SYN))), kChallenged) << "outside the /24";
}

TEST_F(Lists, DenyAppliesInPassModeToo) {
  protect(kHostV4, false);
  add(ListKind::deny, {entry("198.51.100.7", 32)});
  EXPECT_EQ(name(reason_of(v4("198.51.100.7", SYN))), "drop_deny_global");
  EXPECT_EQ(name(reason_of(v4("198.51.100.8", SYN))), "fwd_pass_mode");
}

TEST_F(Lists, AllowedSourceIsForwardedAndLearntNeverChallenged) {
  protect(kHostV4, true);
  add(ListKind::allow, {entry("198.51.100.0", 24)});
  const RunResult syn = run(v4(kClientV4, SYN));
  EXPECT_EQ(verdict_name(syn.verdict), "XDP_TX");
  EXPECT_EQ(name(static_cast<sw_reason>(syn.last.reason)), "fwd_pass_mode");
  ASSERT_GE(syn.out.size(), 12u);
  Mac dst{};
  std::copy(syn.out.begin(), syn.out.begin() + 6, dst.begin());
  EXPECT_EQ(dst, kHostMac) << "forwarded to the host";
  EXPECT_EQ(name(reason_of(v4(kClientV4, ACK))), "fwd_learned");
  auto flow = fp().flows().lookup(client_flow(false));
  ASSERT_TRUE(flow.ok());
  ASSERT_TRUE(flow->has_value()) << "the allowed client's flow is learnt";
  EXPECT_EQ((*flow)->origin, dataplane::FlowOrigin::learned);
  auto hits = fp().lists().allow_hits();
  ASSERT_TRUE(hits.ok()) << hits.error().message;
  EXPECT_EQ((*hits)[0], 0u);
  EXPECT_EQ((*hits)[1], 2u) << "two frames hit the global allow list";
  // The host stays protected for everybody else.
  EXPECT_EQ(name(reason_of(v4("203.0.113.9", SYN))), kChallenged);
}

TEST_F(Lists, LongestPrefixWinsAcrossBothLists) {
  protect(kHostV4, true);
  add(ListKind::deny, {entry("198.51.0.0", 16), entry("198.51.100.66", 32)});
  add(ListKind::allow, {entry("198.51.100.0", 24), entry("198.0.0.0", 8)});
  EXPECT_EQ(name(reason_of(v4("198.51.100.7", SYN))), "fwd_pass_mode") << "/24 allow in /16 deny";
  EXPECT_EQ(name(reason_of(v4("198.51.100.66", SYN))), "drop_deny_global") << "/32 deny in /24";
  EXPECT_EQ(name(reason_of(v4("198.51.7.7", SYN))), "drop_deny_global") << "/16 deny in /8";
  EXPECT_EQ(name(reason_of(v4("198.7.7.7", SYN))), "fwd_pass_mode") << "only the /8 allow";
  EXPECT_EQ(name(reason_of(v4("203.0.113.9", SYN))), kChallenged) << "no list";
}

TEST_F(Lists, SamePrefixInBothListsIsDenied) {
  protect(kHostV4, true);
  add(ListKind::allow, {entry("198.51.100.0", 24)});
  add(ListKind::deny, {entry("198.51.100.0", 24)});
  EXPECT_EQ(name(reason_of(v4(kClientV4, SYN))), "drop_deny_global");
  ASSERT_TRUE(fp().lists().remove(ListKind::deny, {entry("198.51.100.0", 24)}).ok());
  EXPECT_EQ(name(reason_of(v4(kClientV4, SYN))), "fwd_pass_mode") << "the allow entry stays";
}

TEST_F(Lists, HostListsDecideBeforeGlobalOnesAndOnlyForTheirHost) {
  protect(kHostV4, true);
  protect(kHost2V4, true);
  add(ListKind::deny, {entry("198.51.100.0", 24)});                    // global
  add(ListKind::allow, {entry("198.51.0.0", 16, kHostV4)});            // host 1, shorter
  add(ListKind::deny, {entry("203.0.113.0", 24, kHost2V4)});           // host 2
  add(ListKind::allow, {entry("203.0.0.0", 8)});                       // global
  EXPECT_EQ(name(reason_of(v4(kClientV4, SYN))), "fwd_pass_mode")
      << "host 1's /16 allow decides before the global, longer /24 deny";
  EXPECT_EQ(name(reason_of(v4(kClientV4, SYN, kHost2V4))), "drop_deny_global")
      << "host 1's list does not apply to host 2";
  EXPECT_EQ(name(reason_of(v4("203.0.113.5", SYN, kHost2V4))), "drop_deny_host");
  EXPECT_EQ(name(reason_of(v4("203.0.113.5", SYN))), "fwd_pass_mode") << "global /8 allow";
  auto hits = fp().lists().allow_hits();
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0], 1u);
  EXPECT_EQ((*hits)[1], 1u);
}

TEST_F(Lists, Ipv6ListsWithHostAndGlobalScopes) {
  protect(kHostV6, true);
  add(ListKind::deny, {entry("2001:db8:1::", 48)});
  add(ListKind::allow, {entry("2001:db8:1::7", 128, kHostV6)});
  EXPECT_EQ(name(reason_of(v6("2001:db8:1::7", SYN))), "fwd_pass_mode");
  EXPECT_EQ(name(reason_of(v6("2001:db8:1::8", SYN))), "drop_deny_global");
  EXPECT_EQ(name(reason_of(v6("2001:db8:2::8", SYN))), kChallenged);
  // An IPv4 list never matches IPv6 sources, even for the v4-mapped form.
  add(ListKind::deny, {entry("0.0.0.0", 0)});
  EXPECT_EQ(name(reason_of(v6("::ffff:198.51.100.7", SYN))), kChallenged);
}

TEST_F(Lists, VlanAndQinQFramesAreListedByTheirAddresses) {
  protect(kHostV4, true);
  add(ListKind::deny, {entry("198.51.100.0", 24)});
  add(ListKind::allow, {entry("203.0.113.0", 24)});
  const Bytes tagged = FrameBuilder().eth(kFirewallMac, kRouterMac).vlan(100)
                           .ipv4(kClientV4, kHostV4).tcp(kClientPort, kServicePort, SYN).build();
  EXPECT_EQ(name(reason_of(tagged)), "drop_deny_global");
  const Bytes qinq = FrameBuilder().eth(kFirewallMac, kRouterMac).vlan(10, 0x88a8).vlan(20)
                         .ipv4("203.0.113.4", kHostV4).tcp(kClientPort, kServicePort, SYN).build();
  const RunResult r = run(qinq);
  EXPECT_EQ(name(static_cast<sw_reason>(r.last.reason)), "fwd_pass_mode");
  EXPECT_EQ(verdict_name(r.verdict), "XDP_TX");
}

TEST_F(Lists, BadEntryRefusesTheWholeRequestNamingIt) {
  std::vector<ListEntry> request = {entry("198.51.100.0", 24), entry("198.51.101.1", 24),
                                    entry("203.0.113.0", 24)};
  auto refused = fp().lists().add(ListKind::deny, request);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("198.51.101.1/24"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(fp().lists().list(ListKind::deny)->empty()) << "nothing applied";
  for (const auto& bad : {entry("198.51.100.0", 33), entry("198.51.100.0", 24, kHostV6),
                          entry("198.51.100.0", 24, "0.0.0.0")}) {
    EXPECT_FALSE(fp().lists().add(ListKind::allow, {bad}).ok()) << bad.to_string();
  }
  EXPECT_TRUE(fp().lists().list(ListKind::allow)->empty());
}

TEST_F(Lists, RemovingAbsentEntryRemovesNothing) {
  add(ListKind::allow, {entry("198.51.100.0", 24), entry("203.0.113.0", 24)});
  // A covering prefix is not the entry: /16 is absent although /24 lies inside it.
  auto refused = fp().lists().remove(ListKind::allow, {entry("198.51.100.0", 24),
                                                       entry("198.51.0.0", 16)});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ENOENT);
  EXPECT_NE(refused.error().message.find("198.51.0.0/16"), std::string::npos);
  EXPECT_EQ(fp().lists().list(ListKind::allow)->size(), 2u);
  ASSERT_TRUE(fp().lists().remove(ListKind::allow, {entry("198.51.100.0", 24)}).ok());
  auto left = fp().lists().list(ListKind::allow);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].to_string(), "203.0.113.0/24");
}

TEST_F(Lists, KernelRefusalRollsBackTheEntriesAlreadyWritten) {
  // The suite's tries hold 256 prefixes each: 250 fit, a bulk of 10 more does not.
  std::vector<ListEntry> first;
  for (unsigned i = 0; i < 250; ++i) first.push_back(entry("10.0." + std::to_string(i) + ".0", 24));
  add(ListKind::deny, first);
  std::vector<ListEntry> second;
  for (unsigned i = 0; i < 10; ++i) second.push_back(entry("10.1." + std::to_string(i) + ".0", 24));
  auto refused = fp().lists().add(ListKind::deny, second);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("rolled back"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(fp().lists().list(ListKind::deny)->size(), 250u) << "none of the 10 stays";
}

TEST_F(Lists, SyncMakesTheListExactlyTheGivenOneAndLeavesTheOtherList) {
  add(ListKind::allow, {entry("198.51.100.0", 24)});
  add(ListKind::deny, {entry("203.0.113.0", 24), entry("2001:db8::", 32)});
  ASSERT_TRUE(fp().lists().sync(ListKind::deny, {entry("2001:db8::", 32),
                                                 entry("192.0.2.0", 24, kHostV4)}).ok());
  auto deny = fp().lists().list(ListKind::deny);
  ASSERT_EQ(deny->size(), 2u);
  EXPECT_EQ((*deny)[0].to_string(), "2001:db8::/32") << "global entries sort first";
  EXPECT_EQ((*deny)[1].to_string(), "192.0.2.0/24 (host 192.0.2.10)");
  EXPECT_EQ(fp().lists().list(ListKind::allow)->size(), 1u);
}

class Budget : public Lists {};

TEST_F(Budget, SynsBeyondTheBurstOfOnePrefixAreDroppedOthersNot) {
  protect(kHostV4, true);
  const unsigned cpus = fp().stats().possible_cpus();
  dataplane::SynBudget b;
  b.pps = 1ull * cpus;    // one per second per CPU: no refill within the test
  b.burst = 3ull * cpus;  // three per CPU
  ASSERT_TRUE(fp().syn_budget().write(b).ok());
  // Different sources and ports inside one /24 share the bucket.
  for (int i = 0; i < 3; ++i) {
    const std::string src = "198.51.100." + std::to_string(10 + i);
    EXPECT_EQ(name(reason_of(v4(src, SYN, kHostV4, static_cast<std::uint16_t>(41000 + i)))),
              kChallenged) << "burst SYN " << i;
  }
  EXPECT_EQ(name(reason_of(v4("198.51.100.200", SYN))), "drop_syn_budget");
  EXPECT_EQ(name(reason_of(v4("198.51.100.201", SYN))), "drop_syn_budget");
  EXPECT_EQ(name(reason_of(v4("198.51.101.1", SYN))), kChallenged) << "the next /24 has its own";
  // ACKs and allow-listed sources are not charged.
  EXPECT_EQ(name(reason_of(v4("198.51.100.7", ACK))), "xsk_ack_no_socket");
  add(ListKind::allow, {entry("198.51.100.9", 32)});
  EXPECT_EQ(name(reason_of(v4("198.51.100.9", SYN))), "fwd_pass_mode");

  auto top = fp().syn_budget().top(10);
  ASSERT_TRUE(top.ok()) << top.error().message;
  ASSERT_EQ(top->size(), 2u);
  EXPECT_EQ((*top)[0].prefix.to_string(), "198.51.100.0");
  EXPECT_EQ((*top)[0].length, 24u);
  EXPECT_EQ((*top)[0].dropped, 2u);
  EXPECT_EQ((*top)[0].answered, 3u);
  EXPECT_EQ((*top)[1].prefix.to_string(), "198.51.101.0");
  EXPECT_EQ((*top)[1].dropped, 0u);
}

TEST_F(Budget, Ipv6PrefixLengthIsConfigurable) {
  protect(kHostV6, true);
  const unsigned cpus = fp().stats().possible_cpus();
  dataplane::SynBudget b;
  b.pps = 1ull * cpus;
  b.burst = 1ull * cpus;
  b.prefix_v6 = 64;
  ASSERT_TRUE(fp().syn_budget().write(b).ok());
  EXPECT_EQ(name(reason_of(v6("2001:db8:1:0:1::1", SYN))), kChallenged);
  EXPECT_EQ(name(reason_of(v6("2001:db8:1:0:2::2", SYN))), "drop_syn_budget") << "same /64";
  EXPECT_EQ(name(reason_of(v6("2001:db8:1:1::1", SYN))), kChallenged) << "next /64";
  auto top = fp().syn_budget().top(1);
  ASSERT_EQ(top->size(), 1u);
  EXPECT_EQ((*top)[0].prefix.to_string(), "2001:db8:1::");
  EXPECT_EQ((*top)[0].length, 64u);
}

TEST_F(Budget, RawSettingsSplitTheRateOverCpusAndMaskInNetworkOrder) {
  dataplane::SynBudget b;
  b.pps = 100;
  b.burst = 20;
  b.prefix_v4 = 20;
  b.prefix_v6 = 52;
  const sw_budget_cfg raw = dataplane::SynBudgetTable::to_raw(b, 2);
  EXPECT_EQ(raw.cost_ns, 20'000'000u);       // 50/s per CPU
  EXPECT_EQ(raw.burst_ns, 10u * 20'000'000u);  // 10 per CPU
  const auto* m4 = reinterpret_cast<const std::uint8_t*>(&raw.mask_v4);
  EXPECT_EQ(m4[0], 0xff);
  EXPECT_EQ(m4[1], 0xff);
  EXPECT_EQ(m4[2], 0xf0);
  EXPECT_EQ(m4[3], 0x00);
  const auto* m6 = reinterpret_cast<const std::uint8_t*>(raw.mask_v6);
  EXPECT_EQ(m6[5], 0xff);
  EXPECT_EQ(m6[6], 0xf0);
  EXPECT_EQ(m6[7], 0x00);
  EXPECT_EQ(dataplane::SynBudgetTable::to_raw({}, 2).cost_ns, 0u) << "pps 0 = no budget";
  dataplane::SynBudget bad;
  bad.prefix_v4 = 33;
  EXPECT_FALSE(fp().syn_budget().write(bad).ok());
}

}  // namespace
}  // namespace synwarden::test
