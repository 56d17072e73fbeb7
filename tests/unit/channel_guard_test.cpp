// The agent's admission of authenticated requests (channel_guard.h): each request is answered at
// most once and only while fresh, and replies are rate-limited.
#include "synwarden/channel_guard.h"

#include <gtest/gtest.h>

namespace synwarden {
namespace {

constexpr uint64_t kNow = 1'790'000'000'000;

ChannelRequest request(uint8_t id, uint64_t sent) {
  ChannelRequest r;
  r.nonce.fill(id);
  r.sent_unix_ms = sent;
  return r;
}

TEST(ChannelReplayWindow, AcceptsAFreshRequestOnce) {
  ChannelReplayWindow w(120'000);
  EXPECT_EQ(w.admit(request(1, kNow), kNow), ChannelResult::kOk);
  EXPECT_EQ(w.admit(request(1, kNow), kNow + 5), ChannelResult::kReplayed);
  EXPECT_EQ(w.admit(request(2, kNow), kNow + 5), ChannelResult::kOk);
}

TEST(ChannelReplayWindow, RefusesRequestsOutsideTheWindowEitherWay) {
  ChannelReplayWindow w(120'000);
  EXPECT_EQ(w.admit(request(1, kNow - 120'001), kNow), ChannelResult::kStale);
  EXPECT_EQ(w.admit(request(2, kNow + 120'001), kNow), ChannelResult::kStale);
  EXPECT_EQ(w.admit(request(3, kNow - 120'000), kNow), ChannelResult::kOk);
  EXPECT_EQ(w.admit(request(4, kNow + 120'000), kNow), ChannelResult::kOk);
}

TEST(ChannelReplayWindow, ForgetsNoncesOnlyOnceTheyWouldBeStaleAnyway) {
  ChannelReplayWindow w(1'000);
  ASSERT_EQ(w.admit(request(1, kNow), kNow), ChannelResult::kOk);
  // Still inside the window: remembered, so a replay is caught.
  EXPECT_EQ(w.admit(request(1, kNow), kNow + 999), ChannelResult::kReplayed);
  // Later, the same request is refused for its age, and its nonce may be dropped.
  EXPECT_EQ(w.admit(request(1, kNow), kNow + 1'001), ChannelResult::kStale);
  EXPECT_EQ(w.admit(request(9, kNow + 1'001), kNow + 1'001), ChannelResult::kOk);
  EXPECT_EQ(w.remembered(), 1u);
}

TEST(ChannelReplayWindow, AtCapacityAnEvictedNonceCanNeverBeReplayed) {
  ChannelReplayWindow w(120'000, 2);
  ASSERT_EQ(w.admit(request(1, kNow), kNow), ChannelResult::kOk);
  ASSERT_EQ(w.admit(request(2, kNow + 1), kNow), ChannelResult::kOk);
  ASSERT_EQ(w.admit(request(3, kNow + 2), kNow), ChannelResult::kOk);   // evicts nonce 1
  EXPECT_EQ(w.remembered(), 2u);
  // Request 1 is no longer remembered, but everything sent up to it is now refused.
  EXPECT_EQ(w.admit(request(1, kNow), kNow), ChannelResult::kStale);
  EXPECT_EQ(w.admit(request(4, kNow), kNow), ChannelResult::kStale);
  EXPECT_EQ(w.admit(request(5, kNow + 3), kNow), ChannelResult::kOk);
}

TEST(TokenBucket, AllowsTheBurstThenTheRate) {
  TokenBucket b(10.0, 3.0);   // 10/s, burst 3
  uint64_t t = 1'000'000'000;
  EXPECT_TRUE(b.try_take(t));
  EXPECT_TRUE(b.try_take(t));
  EXPECT_TRUE(b.try_take(t));
  EXPECT_FALSE(b.try_take(t));
  t += 50'000'000;   // 50 ms: half a token
  EXPECT_FALSE(b.try_take(t));
  t += 50'000'000;   // 100 ms: one token
  EXPECT_TRUE(b.try_take(t));
  EXPECT_FALSE(b.try_take(t));
}

TEST(TokenBucket, NeverSavesMoreThanTheBurst) {
  TokenBucket b(10.0, 2.0);
  uint64_t t = 5;
  EXPECT_TRUE(b.try_take(t));
  t += 3'600'000'000'000ULL;   // an hour idle
  EXPECT_TRUE(b.try_take(t));
  EXPECT_TRUE(b.try_take(t));
  EXPECT_FALSE(b.try_take(t));
}

TEST(TokenBucket, ClockGoingBackwardsGrantsNothing) {
  TokenBucket b(1.0, 1.0);
  EXPECT_TRUE(b.try_take(10'000'000'000));
  EXPECT_FALSE(b.try_take(1'000'000'000));
  EXPECT_FALSE(b.try_take(10'500'000'000));
  EXPECT_TRUE(b.try_take(11'000'000'000));
}

}  // namespace
}  // namespace synwarden
