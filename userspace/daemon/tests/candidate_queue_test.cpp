// A worker's candidate reports (candidate_queue.h): capped per second by the bucket, handed to
// the confirmer in order, and never more than the ring holds.
#include "candidate_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace synwarden::daemon {
namespace {

sw_flow_key numbered(uint32_t n) {
  sw_flow_key k{};
  k.family = SW_FAMILY_IPV4;
  k.saddr[0] = n;
  return k;
}

constexpr uint64_t kSecond = 1'000'000'000;

TEST(CandidateQueue, OffReportsNothing) {
  CandidateQueue q(0);
  EXPECT_FALSE(q.report(numbered(1), kSecond));
  EXPECT_EQ(q.drain([](const sw_flow_key&) {}), 0u);
  EXPECT_EQ(q.counters().reported, 0u);
}

TEST(CandidateQueue, AFloodIsCappedAtTheRatePlusAQuarterSecondOfBurst) {
  CandidateQueue q(2000);
  // 1 M forged ACKs in one second, evenly spread; the confirmer drains every 50 ms.
  uint64_t drained = 0;
  for (uint64_t i = 0; i < 1'000'000; ++i) {
    q.report(numbered(static_cast<uint32_t>(i)), kSecond + i * 1000);
    if (i % 50'000 == 0) drained += q.drain([](const sw_flow_key&) {});
  }
  drained += q.drain([](const sw_flow_key&) {});
  const CandidateQueueCounters c = q.counters();
  EXPECT_EQ(c.reported, drained);
  EXPECT_EQ(c.lost, 0u);
  // 2000/s for 1 s plus the initial burst of 500.
  EXPECT_GE(c.reported, 2400u);
  EXPECT_LE(c.reported, 2501u);
  EXPECT_EQ(c.reported + c.capped, 1'000'000u);
}

TEST(CandidateQueue, KeysComeOutInOrderAndAFullRingLosesTheNewest) {
  CandidateQueue q(1'000'000);  // bucket out of the way: 250 000 tokens of burst
  for (uint32_t i = 0; i < CandidateQueue::kCapacity + 10; ++i) q.report(numbered(i), kSecond);
  EXPECT_EQ(q.counters().lost, 10u);
  std::vector<uint32_t> seen;
  q.drain([&](const sw_flow_key& k) { seen.push_back(k.saddr[0]); });
  ASSERT_EQ(seen.size(), CandidateQueue::kCapacity);
  for (uint32_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
  EXPECT_TRUE(q.report(numbered(7), kSecond)) << "drained: room again";
}

TEST(CandidateQueue, OneProducerAndOneConsumerThreadLoseNothingWithinCapacity) {
  CandidateQueue q(1'000'000'000);
  constexpr uint32_t kCount = 200'000;
  std::vector<uint32_t> seen;
  seen.reserve(kCount);
  std::thread producer([&] {
    for (uint32_t i = 0; i < kCount; ++i) {
      while (!q.report(numbered(i), kSecond + i)) std::this_thread::yield();
    }
  });
  while (seen.size() < kCount) q.drain([&](const sw_flow_key& k) { seen.push_back(k.saddr[0]); });
  producer.join();
  for (uint32_t i = 0; i < kCount; ++i) ASSERT_EQ(seen[i], i);
}

}  // namespace
}  // namespace synwarden::daemon
