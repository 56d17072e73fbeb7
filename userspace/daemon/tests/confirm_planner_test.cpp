// The confirmer's bookkeeping (confirm_planner.h): which reported flow keys are asked about, in
// which batches, and how often a host's agent is asked.
#include "confirm_planner.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "confirm_test_keys.h"

namespace synwarden::daemon {
namespace {

ConfirmPlannerOptions options() {
  ConfirmPlannerOptions o;
  o.dedup_ms = 5000;
  o.max_queued_per_host = 200;
  o.requests_per_s_per_host = 5;  // one request per 200 ms per host
  return o;
}

TEST(ConfirmPlanner, CandidatesOfHostsWithoutAConfirmingAgentAreNotAsked) {
  ConfirmPlanner p(options());
  p.set_hosts({address("192.0.2.10")});
  EXPECT_EQ(p.offer(flow_key("198.51.100.1", 1000, "192.0.2.99"), 0), OfferResult::kNotAsked);
  EXPECT_EQ(p.offer(flow_key("2001:db8::1", 1000, "2001:db8::10"), 0), OfferResult::kNotAsked);
  EXPECT_EQ(p.queued(0), 0u);
}

TEST(ConfirmPlanner, ARetransmittedCandidateIsAskedOnceUntilTheDedupTimePassed) {
  ConfirmPlanner p(options());
  p.set_hosts({address("192.0.2.10")});
  const sw_flow_key k = flow_key("198.51.100.1", 1000, "192.0.2.10");
  EXPECT_EQ(p.offer(k, 1000), OfferResult::kQueued);
  EXPECT_EQ(p.offer(k, 1200), OfferResult::kDuplicate);
  EXPECT_EQ(p.take_batch(0, 1300).size(), 1u);
  EXPECT_EQ(p.offer(k, 5999), OfferResult::kDuplicate) << "asked 4.999 s ago";
  EXPECT_EQ(p.offer(k, 6000), OfferResult::kQueued) << "dedup_ms after the first offer";
  // Another port of the same client is another tuple.
  EXPECT_EQ(p.offer(flow_key("198.51.100.1", 1001, "192.0.2.10"), 6000), OfferResult::kQueued);
}

TEST(ConfirmPlanner, DedupMemoryIsBoundedOldestFirst) {
  ConfirmPlannerOptions o = options();
  o.max_remembered = 4;
  o.max_queued_per_host = 100;
  ConfirmPlanner p(o);
  p.set_hosts({address("192.0.2.10")});
  for (uint16_t port = 1; port <= 6; ++port) {
    EXPECT_EQ(p.offer(flow_key("198.51.100.1", port, "192.0.2.10"), 100), OfferResult::kQueued);
  }
  EXPECT_LE(p.remembered(), 4u);
  EXPECT_EQ(p.offer(flow_key("198.51.100.1", 6, "192.0.2.10"), 100), OfferResult::kDuplicate);
  EXPECT_EQ(p.offer(flow_key("198.51.100.1", 1, "192.0.2.10"), 100), OfferResult::kQueued)
      << "the oldest tuple was forgotten to make room";
}

TEST(ConfirmPlanner, BatchesHoldAtMost64TuplesOldestFirst) {
  ConfirmPlanner p(options());
  p.set_hosts({address("192.0.2.10")});
  std::vector<sw_flow_key> keys;
  for (uint16_t port = 0; port < 150; ++port) {
    keys.push_back(flow_key("198.51.100.1", static_cast<uint16_t>(2000 + port), "192.0.2.10"));
    ASSERT_EQ(p.offer(keys.back(), 10 + port), OfferResult::kQueued);
  }
  const auto first = p.take_batch(0, 1000);
  ASSERT_EQ(first.size(), kConfirmMaxTuples);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(same(first[i].key, keys[i])) << i;
    EXPECT_EQ(first[i].offered_ms, 10 + i);
  }
  EXPECT_EQ(p.queued(0), 150u - 64u);
  EXPECT_EQ(p.take_batch(0, 1200).size(), 64u);
  const auto last = p.take_batch(0, 1400);
  ASSERT_EQ(last.size(), 22u);
  EXPECT_TRUE(same(last.back().key, keys.back()));
  EXPECT_TRUE(p.take_batch(0, 1600).empty());
}

TEST(ConfirmPlanner, CandidatesAreGroupedByTheirProtectedHost) {
  ConfirmPlanner p(options());
  p.set_hosts({address("192.0.2.10"), address("2001:db8::10"), address("192.0.2.11")});
  ASSERT_EQ(p.offer(flow_key("198.51.100.1", 1, "192.0.2.11"), 0), OfferResult::kQueued);
  ASSERT_EQ(p.offer(flow_key("2001:db8:1::1", 1, "2001:db8::10"), 0), OfferResult::kQueued);
  ASSERT_EQ(p.offer(flow_key("198.51.100.1", 2, "192.0.2.10"), 0), OfferResult::kQueued);
  ASSERT_EQ(p.offer(flow_key("198.51.100.2", 2, "192.0.2.10"), 0), OfferResult::kQueued);
  EXPECT_EQ(p.queued(0), 2u);
  EXPECT_EQ(p.queued(1), 1u);
  EXPECT_EQ(p.queued(2), 1u);
  for (const auto& c : p.take_batch(0, 0)) {
    EXPECT_EQ(std::memcmp(c.key.daddr, address("192.0.2.10").bytes().data(), 4), 0);
  }
  const auto v6 = p.take_batch(1, 0);
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].key.family, SW_FAMILY_IPV6);
}

TEST(ConfirmPlanner, EachHostsAgentIsAskedAtMostRequestsPerSecond) {
  ConfirmPlanner p(options());
  p.set_hosts({address("192.0.2.10"), address("192.0.2.11")});
  for (uint16_t port = 0; port < 200; ++port) {
    ASSERT_EQ(p.offer(flow_key("198.51.100.1", port, "192.0.2.10"), 0), OfferResult::kQueued);
  }
  ASSERT_EQ(p.offer(flow_key("198.51.100.1", 1, "192.0.2.11"), 0), OfferResult::kQueued);
  EXPECT_EQ(p.take_batch(0, 1000).size(), 64u);
  EXPECT_TRUE(p.take_batch(0, 1199).empty()) << "5 requests/s: 200 ms apart";
  EXPECT_EQ(p.take_batch(1, 1001).size(), 1u) << "another host has its own budget";
  EXPECT_EQ(p.take_batch(0, 1200).size(), 64u);
  // Over 10 s, with candidates always waiting, at most 5 requests a second.
  int requests = 0;
  uint32_t fresh = 0;
  for (uint64_t t = 1201; t <= 11200; ++t) {
    while (p.queued(0) < 64) {
      sw_flow_key k = flow_key("198.51.100.2", 1, "192.0.2.10");
      k.saddr[0] = htonl(0x0a000000u + ++fresh);  // a new client each time
      ASSERT_EQ(p.offer(k, t), OfferResult::kQueued);
    }
    if (!p.take_batch(0, t).empty()) ++requests;
  }
  EXPECT_EQ(requests, 50);
}

TEST(ConfirmPlanner, AnAgentThatDidNotAnswerIsLeftAloneForTheBackoff) {
  ConfirmPlannerOptions o = options();
  o.backoff_ms = 2000;
  ConfirmPlanner p(o);
  p.set_hosts({address("192.0.2.10"), address("192.0.2.11")});
  for (uint16_t port = 0; port < 100; ++port) {
    ASSERT_EQ(p.offer(flow_key("198.51.100.1", port, "192.0.2.10"), 0), OfferResult::kQueued);
  }
  ASSERT_EQ(p.offer(flow_key("198.51.100.1", 1, "192.0.2.11"), 0), OfferResult::kQueued);
  ASSERT_EQ(p.take_batch(0, 1000).size(), 64u);
  p.back_off(0, 1500);  // the request of 1000 timed out at 1500
  EXPECT_TRUE(p.take_batch(0, 1700).empty()) << "the request budget alone would allow it";
  EXPECT_TRUE(p.take_batch(0, 3499).empty());
  EXPECT_EQ(p.take_batch(1, 1700).size(), 1u) << "other hosts are asked as usual";
  EXPECT_EQ(p.take_batch(0, 3500).size(), 36u);
}

TEST(ConfirmPlanner, AFullHostQueueDropsNewCandidatesAndDoesNotRememberThem) {
  ConfirmPlannerOptions o = options();
  o.max_queued_per_host = 3;
  ConfirmPlanner p(o);
  p.set_hosts({address("192.0.2.10")});
  for (uint16_t port = 1; port <= 3; ++port) {
    ASSERT_EQ(p.offer(flow_key("198.51.100.1", port, "192.0.2.10"), 0), OfferResult::kQueued);
  }
  const sw_flow_key fourth = flow_key("198.51.100.1", 4, "192.0.2.10");
  EXPECT_EQ(p.offer(fourth, 0), OfferResult::kOverflow);
  ASSERT_EQ(p.take_batch(0, 0).size(), 3u);
  EXPECT_EQ(p.offer(fourth, 1), OfferResult::kQueued) << "an overflowed tuple is offered again";
}

TEST(ConfirmPlanner, ReplacingTheHostsKeepsTheQueuesOfHostsThatStay) {
  ConfirmPlanner p(options());
  p.set_hosts({address("192.0.2.10"), address("192.0.2.11")});
  ASSERT_EQ(p.offer(flow_key("198.51.100.1", 1, "192.0.2.11"), 0), OfferResult::kQueued);
  p.set_hosts({address("192.0.2.11")});
  EXPECT_EQ(p.queued(0), 1u);
  EXPECT_EQ(p.offer(flow_key("198.51.100.1", 2, "192.0.2.10"), 0), OfferResult::kNotAsked);
}

TEST(ConfirmPlanner, TheAgentSeesTheClientAndHostSidesInHostByteOrder) {
  const sw_flow_key k = flow_key("2001:db8:1::7", 40001, "2001:db8::10", 8443);
  const ConfirmTuple t = confirm_tuple_of(k);
  EXPECT_EQ(t.family, 6);
  EXPECT_EQ(t.client_port, 40001);
  EXPECT_EQ(t.host_port, 8443);
  EXPECT_EQ(std::memcmp(t.client_addr.data(), k.saddr, 16), 0);
  EXPECT_EQ(std::memcmp(t.host_addr.data(), k.daddr, 16), 0);
  const ConfirmTuple t4 = confirm_tuple_of(flow_key("198.51.100.9", 5, "192.0.2.10", 80));
  EXPECT_EQ(t4.family, 4);
  EXPECT_EQ(t4.client_addr[0], 198);
  EXPECT_EQ(t4.client_addr[4], 0) << "an IPv4 tuple has nothing past its 4 bytes";
}

}  // namespace
}  // namespace synwarden::daemon
