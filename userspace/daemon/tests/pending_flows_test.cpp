// PendingFlows: a cookie ACK's flow reaches the established map only after the ACK's TX frame
// completed, and stays visible to the worker meanwhile (and briefly after).
#include "pending_flows.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace synwarden::daemon {
namespace {

constexpr uint32_t kFrames = 64;
constexpr uint32_t kFrameSize = 4096;

class MapRecorder : public FlowSink {
 public:
  bool insert(const sw_flow_key& key) noexcept override {
    keys.push_back(key);
    return ok;
  }
  bool has(const sw_flow_key& key) const {
    for (const auto& k : keys) {
      if (std::memcmp(&k, &key, sizeof key) == 0) return true;
    }
    return false;
  }
  std::vector<sw_flow_key> keys;
  bool ok = true;
};

sw_flow_key flow(uint32_t n) {
  sw_flow_key key;
  std::memset(&key, 0, sizeof key);
  key.saddr[0] = 0x0100000A + (n << 8);
  key.daddr[0] = 0x0A0200C0;
  key.sport = static_cast<__be16>(1024 + n);
  key.dport = 0x5000;
  key.family = SW_FAMILY_IPV4;
  return key;
}

uint64_t chunk(uint32_t frame) { return uint64_t{frame} * kFrameSize; }

TEST(PendingFlows, FlowEntersTheMapOnlyWhenItsAckFrameCompleted) {
  MapRecorder map;
  PendingFlows pending(map, kFrames, kFrameSize, 16);
  pending.set_frame(chunk(5) + 256);  // copy mode: the frame sits at an offset in its chunk
  ASSERT_TRUE(pending.insert(flow(1)));
  EXPECT_TRUE(map.keys.empty()) << "the ACK has not left yet";
  EXPECT_TRUE(pending.pending(flow(1)));
  EXPECT_FALSE(pending.pending(flow(2)));

  EXPECT_TRUE(pending.completed(chunk(4), 1000)) << "another frame: nothing to learn";
  EXPECT_TRUE(map.keys.empty());
  EXPECT_TRUE(pending.completed(chunk(5), 1000));
  ASSERT_EQ(map.keys.size(), 1u);
  EXPECT_TRUE(map.has(flow(1)));
  EXPECT_TRUE(pending.completed(chunk(5), 1001)) << "a second completion of the frame learns nothing";
  EXPECT_EQ(map.keys.size(), 1u);
}

TEST(PendingFlows, LearntFlowLingersThenExpires) {
  MapRecorder map;
  PendingFlows pending(map, kFrames, kFrameSize, 16);
  pending.set_frame(chunk(1));
  pending.insert(flow(7));
  pending.completed(chunk(1), 5'000);
  pending.expire(5'000 + PendingFlows::kLingerNs - 1);
  EXPECT_TRUE(pending.pending(flow(7))) << "segments already redirected to the worker still pass";
  pending.expire(5'000 + PendingFlows::kLingerNs);
  EXPECT_FALSE(pending.pending(flow(7)));
  EXPECT_EQ(pending.size(), 0u);
}

TEST(PendingFlows, AbandonedFrameIsNeverLearnt) {
  MapRecorder map;
  PendingFlows pending(map, kFrames, kFrameSize, 16);
  pending.set_frame(chunk(3));
  pending.insert(flow(3));
  pending.abandoned(chunk(3));
  EXPECT_FALSE(pending.pending(flow(3)));
  pending.completed(chunk(3), 10);
  EXPECT_TRUE(map.keys.empty()) << "the host never received that ACK";
  EXPECT_EQ(pending.size(), 0u);
}

TEST(PendingFlows, FullTableLearnsAtOnceAndCountsIt) {
  MapRecorder map;
  PendingFlows pending(map, kFrames, kFrameSize, 2);
  for (uint32_t i = 0; i < 3; ++i) {
    pending.set_frame(chunk(i));
    pending.insert(flow(i));
  }
  EXPECT_EQ(pending.overflows(), 1u);
  ASSERT_EQ(map.keys.size(), 1u);
  EXPECT_TRUE(map.has(flow(2)));
}

TEST(PendingFlows, MapInsertFailureIsReported) {
  MapRecorder map;
  map.ok = false;
  PendingFlows pending(map, kFrames, kFrameSize, 4);
  pending.set_frame(chunk(0));
  pending.insert(flow(0));
  EXPECT_FALSE(pending.completed(chunk(0), 1));
}

TEST(PendingFlows, ManyFlowsCompletedOutOfOrderEachLearntOnce) {
  MapRecorder map;
  PendingFlows pending(map, kFrames, kFrameSize, 2 * kFrames);
  for (uint32_t i = 0; i < kFrames; ++i) {
    pending.set_frame(chunk(i));
    ASSERT_TRUE(pending.insert(flow(i)));
  }
  EXPECT_EQ(pending.size(), kFrames);
  // Odd frames are dropped, even ones completed from the last to the first.
  for (uint32_t i = 1; i < kFrames; i += 2) pending.abandoned(chunk(i));
  for (uint32_t i = kFrames; i-- > 0;) {
    if (i % 2 == 0) pending.completed(chunk(i), 100 + i);
  }
  ASSERT_EQ(map.keys.size(), kFrames / 2);
  for (uint32_t i = 0; i < kFrames; ++i) {
    EXPECT_EQ(map.has(flow(i)), i % 2 == 0) << i;
    EXPECT_EQ(pending.pending(flow(i)), i % 2 == 0) << i;
  }
  pending.expire(100 + kFrames + PendingFlows::kLingerNs);
  EXPECT_EQ(pending.size(), 0u);
  for (uint32_t i = 0; i < kFrames; ++i) EXPECT_FALSE(pending.pending(flow(i))) << i;
  // Slots are reusable after expiry.
  pending.set_frame(chunk(9));
  pending.insert(flow(99));
  EXPECT_EQ(pending.overflows(), 0u);
  EXPECT_TRUE(pending.pending(flow(99)));
}

}  // namespace
}  // namespace synwarden::daemon
