// The established-flow hint (docs/flow-hint.md): a bitmap in front of sw_flows that lets the
// XDP program skip the lookup for keys that are certainly not in the map. What must hold:
// no flow in the map is ever hidden (inserts by the program and by user space, before and
// during rebuilds, with rebuilds running concurrently), the program and user space agree on
// every bit, a clear bit really skips the lookup, and a rebuild drops the bits of flows gone.
#include <bpf/bpf.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "synwarden/dataplane/flow_hint.h"
#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using namespace tcp_flags;
using dataplane::FlowKey;
using dataplane::FlowOrigin;
using dataplane::IpAddress;

Bytes v4_segment(std::uint8_t flags, std::uint16_t client_port = kClientPort) {
  return FrameBuilder().eth(kFirewallMac, kRouterMac).ipv4(kClientV4, kHostV4)
      .tcp(client_port, kServicePort, flags).build();
}

// A flow key of a random client (v4 or v6) to the test host: what a random-source flood sends.
sw_flow_key random_key(std::mt19937_64& rng, bool v6) {
  sw_flow_key k{};
  k.family = v6 ? SW_FAMILY_IPV6 : SW_FAMILY_IPV4;
  const auto host = *IpAddress::parse(v6 ? kHostV6 : kHostV4);
  k = FlowKey{host, host, 0, 0, 0, 0}.to_raw();
  for (int i = 0; i < (v6 ? 4 : 1); ++i) k.saddr[i] = static_cast<__u32>(rng());
  k.sport = static_cast<__be16>(rng());
  k.dport = htons(kServicePort);
  return k;
}

class FlowHintTest : public FastpathTest {
 protected:
  dataplane::FlowHint& hint() { return fp().flow_hint(); }
  void rebuild() {
    auto r = hint().rebuild(fp().flows());
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
};

TEST_F(FlowHintTest, OffLooksUpEveryKey) {
  protect(kHostV4, true);
  // A raw insert marks nothing; with the hint off the program still finds the flow.
  const sw_flow_key raw = client_flow(false).to_raw();
  const sw_flow value{1, SW_FLOW_ADMIN, 0};
  ASSERT_EQ(bpf_map_update_elem(fp().flows().fd(), &raw, &value, BPF_ANY), 0);
  EXPECT_EQ(hint().stats().state, SW_FLOW_HINT_OFF);
  EXPECT_EQ(run(v4_segment(ACK)).last.reason, SW_R_FWD_ESTABLISHED);
  EXPECT_EQ(run(v4_segment(SYN)).last.reason, SW_R_FWD_SYN_REUSE);
}

TEST_F(FlowHintTest, AClearBitSkipsTheLookupAndTheRebuildFindsTheFlow) {
  protect(kHostV4, true);
  rebuild();
  EXPECT_EQ(hint().stats().state, SW_FLOW_HINT_GEN0);
  // Inserted behind the hint's back (no mark): invisible to the program, which proves the
  // lookup is skipped on a clear bit...
  const sw_flow_key raw = client_flow(false).to_raw();
  const sw_flow value{1, SW_FLOW_ADMIN, 0};
  ASSERT_EQ(bpf_map_update_elem(fp().flows().fd(), &raw, &value, BPF_ANY), 0);
  ASSERT_FALSE(hint().maybe_known(raw));
  EXPECT_EQ(run(v4_segment(ACK)).last.reason, SW_R_XSK_ACK_NO_SOCKET);
  EXPECT_EQ(run(v4_segment(SYN)).last.reason, SW_R_XSK_SYN_NO_SOCKET);
  // ...and the next rebuild walks the map and marks it.
  rebuild();
  EXPECT_EQ(hint().stats().state, SW_FLOW_HINT_GEN1);
  EXPECT_TRUE(hint().maybe_known(raw));
  EXPECT_EQ(run(v4_segment(ACK)).last.reason, SW_R_FWD_ESTABLISHED);
  EXPECT_EQ(run(v4_segment(SYN)).last.reason, SW_R_FWD_SYN_REUSE);
}

TEST_F(FlowHintTest, UserSpaceInsertsAreMarkedForTheProgram) {
  protect(kHostV4, true);
  protect(kHostV6, true);
  rebuild();
  for (bool v6 : {false, true}) {
    for (std::uint16_t vlan : {std::uint16_t{0}, std::uint16_t{100}}) {
      const FlowKey key = client_flow(v6, vlan);
      ASSERT_TRUE(fp().flows().insert(key, FlowOrigin::cookie).ok());
      EXPECT_TRUE(hint().maybe_known(key.to_raw()));
      auto frame = FrameBuilder().eth(kFirewallMac, kRouterMac);
      if (vlan != 0) frame.vlan(vlan);
      if (v6) frame.ipv6(kClientV6, kHostV6); else frame.ipv4(kClientV4, kHostV4);
      const Bytes ack = frame.tcp(kClientPort, kServicePort, ACK).build();
      EXPECT_EQ(run(ack).last.reason, SW_R_FWD_ESTABLISHED) << "v6 " << v6 << " vlan " << vlan;
    }
  }
}

TEST_F(FlowHintTest, FlowsTheProgramLearnsAreMarkedInBothGenerations) {
  protect(kHostV4, false);
  rebuild();
  EXPECT_EQ(run(v4_segment(ACK)).last.reason, SW_R_FWD_LEARNED);
  const sw_flow_key raw = client_flow(false).to_raw();
  EXPECT_TRUE(hint().maybe_known(raw)) << "user space reads the bit the program set";
  ASSERT_TRUE(fp().hosts().set_protection(*IpAddress::parse(kHostV4), true).ok());
  EXPECT_EQ(run(v4_segment(ACK | PSH)).last.reason, SW_R_FWD_ESTABLISHED);
  // Marked in the inactive generation too, which a rebuild may be filling at that moment.
  EXPECT_TRUE(hint().marked_in(raw, 0));
  EXPECT_TRUE(hint().marked_in(raw, 1));
  ASSERT_TRUE(fp().flows().erase(client_flow(false)).ok());
  rebuild();  // generation 1 now: cleared, then filled from an empty map
  EXPECT_FALSE(hint().maybe_known(raw)) << "a rebuild drops the bits of flows gone";
  EXPECT_EQ(hint().stats().bits_set, 0u);
  EXPECT_EQ(run(v4_segment(SYN)).last.reason, SW_R_XSK_SYN_NO_SOCKET);
}

TEST_F(FlowHintTest, RandomFloodKeysMostlySkipTheLookup) {
  // 2000 flows in a hint sized for the harness's 4096-entry table (2 bits per entry, at least
  // 64 Ki bits): a random source must find its bit clear with probability ~ 1 - 2000/65536.
  protect(kHostV4, true);
  std::mt19937_64 rng(7);
  std::vector<sw_flow_key> flows;
  for (int i = 0; i < 2000; ++i) {
    flows.push_back(random_key(rng, i % 2 == 1));
    ASSERT_TRUE(fp().flows().insert(FlowKey::from_raw(flows.back()), FlowOrigin::cookie).ok());
  }
  rebuild();
  for (const auto& k : flows) ASSERT_TRUE(hint().maybe_known(k));
  const auto s = hint().stats();
  EXPECT_GT(s.bits_set, 1900u) << "distinct flows should mostly get distinct bits";
  int known = 0;
  const int probes = 100000;
  for (int i = 0; i < probes; ++i) known += hint().maybe_known(random_key(rng, i % 2 == 1)) ? 1 : 0;
  const double expected = static_cast<double>(s.bits_set) / static_cast<double>(s.bits);
  EXPECT_LT(static_cast<double>(known) / probes, expected * 1.3 + 0.002)
      << known << " of " << probes << " random keys would be looked up; expected ~" << expected;
}

TEST_F(FlowHintTest, NoFlowIsHiddenWhileRebuildsRunConcurrently) {
  // The race the design answers: inserts (insert, then mark both generations) during
  // rebuilds (clear the inactive generation, walk, switch). Every flow inserted must be
  // found by the program afterwards, whatever the interleaving.
  protect(kHostV4, true);
  protect(kHostV6, true);
  rebuild();
  std::atomic<bool> done{false};
  std::atomic<int> rebuilds{0};
  std::thread rebuilder([&] {
    while (!done.load()) {
      auto r = hint().rebuild(fp().flows());
      if (!r.ok()) ADD_FAILURE() << r.error().message;
      rebuilds.fetch_add(1);
    }
  });
  while (rebuilds.load() == 0) std::this_thread::yield();
  std::mt19937_64 rng(11);
  std::vector<sw_flow_key> flows;
  for (int i = 0; i < 3000; ++i) flows.push_back(random_key(rng, i % 3 == 0));
  // Every key inserted (then re-inserted, a refresh) while rebuilds run, until at least ten
  // rebuilds overlapped the inserts; each key checked right after its insert, as the state may
  // switch between any two of these steps.
  for (std::size_t n = 0; n < 200000 && (n < 2 * flows.size() || rebuilds.load() < 10); ++n) {
    const sw_flow_key& k = flows[n % flows.size()];
    ASSERT_TRUE(fp().flows().insert(FlowKey::from_raw(k), FlowOrigin::cookie).ok());
    ASSERT_TRUE(hint().maybe_known(k)) << "flow " << n << " hidden just after its insert";
  }
  done = true;
  rebuilder.join();
  EXPECT_GE(rebuilds.load(), 10) << "the rebuilds must really have overlapped the inserts";
  // Whatever the map still holds (an LRU may evict) is known to the hint.
  std::uint64_t present = 0;
  auto walked = fp().flows().walk_keys([&](const sw_flow_key* keys, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) {
      ++present;
      EXPECT_TRUE(hint().maybe_known(keys[i])) << "a flow in the map is hidden after the rebuilds";
    }
  });
  ASSERT_TRUE(walked.ok()) << walked.error().message;
  EXPECT_GT(present, 2000u);
  // And the program agrees for a sample of them (its own hash and word layout).
  for (std::size_t i = 0; i < flows.size(); i += 97) {
    const FlowKey k = FlowKey::from_raw(flows[i]);
    auto in_map = fp().flows().lookup(k);
    ASSERT_TRUE(in_map.ok());
    if (!in_map->has_value()) continue;  // evicted by the LRU
    auto frame = FrameBuilder().eth(kFirewallMac, kRouterMac);
    if (k.remote.is_v6()) {
      frame.ipv6(k.remote.to_string(), kHostV6);
    } else {
      frame.ipv4(k.remote.to_string(), kHostV4);
    }
    const Bytes ack = frame.tcp(k.remote_port, kServicePort, ACK).build();
    EXPECT_EQ(run(ack).last.reason, SW_R_FWD_ESTABLISHED) << "flow " << i;
  }
}

}  // namespace
}  // namespace synwarden::test
