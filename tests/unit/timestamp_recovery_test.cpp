// Stateless flow recovery from TCP timestamps (synwarden/timestamp_recovery.h): a segment echoing
// a TSval the host sent within the window is recognised for both ts_off variants and families; a
// forged TSecr passes at the documented rate; hosts whose offset is public get no recovery.
#include "synwarden/timestamp_recovery.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <random>

namespace synwarden {
namespace {

constexpr uint32_t kWindowMs = 300'000;

HostSecrets secrets(TsOffsetMode mode) {
  HostSecrets s;
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 13 + 5);
  s.syncookie = {SipKey::from_bytes(b), SipKey{1, 2}};
  s.syncookie6 = {SipKey{3, 4}, SipKey{5, 6}};
  s.ts_offset = mode;
  s.ts_key = SipKey{0x1122334455667788ULL, 0x99aabbccddeeff00ULL};
  s.clock = {5'000'000'000ULL, 250, 3'600'000};
  return s;
}

uint32_t raw4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const std::array<uint8_t, 4> bytes{a, b, c, d};
  uint32_t v;
  std::memcpy(&v, bytes.data(), 4);
  return v;
}

const Ipv4Flow kFlow4{raw4(198, 51, 100, 23), raw4(192, 0, 2, 10), 0x409c, 0xbb01};
const Ipv6Flow kFlow6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23},
                      {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10},
                      0x409c,
                      0xbb01};
constexpr ClockReading kClock{71'234, 9'876'543};

AckSegment echoing(uint32_t tsecr) {
  AckSegment a;
  a.seq = 1;
  a.ack = 2;
  a.has_timestamp = true;
  a.tsval = 7;
  a.tsecr = tsecr;
  return a;
}

template <class Flow>
void check_flow(const Flow& flow, TsOffsetMode mode) {
  const HostSecrets s = secrets(mode);
  const uint32_t off = host_ts_off(mode, s.ts_key, flow, 1);
  const auto at = [&](int64_t ms_behind) {
    return echoing(static_cast<uint32_t>(kClock.tcp_ms - ms_behind) + off);
  };
  EXPECT_EQ(recover_by_timestamp(s, kClock, flow, at(0), kWindowMs), RecoveryStatus::kRecovered);
  EXPECT_EQ(recover_by_timestamp(s, kClock, flow, at(200'000), kWindowMs), RecoveryStatus::kRecovered);
  EXPECT_EQ(recover_by_timestamp(s, kClock, flow, at(kWindowMs), kWindowMs), RecoveryStatus::kRecovered);
  EXPECT_EQ(recover_by_timestamp(s, kClock, flow, at(kWindowMs + 1), kWindowMs),
            RecoveryStatus::kOutOfWindow);
  EXPECT_EQ(recover_by_timestamp(s, kClock, flow, at(-500), kWindowMs), RecoveryStatus::kRecovered)
      << "the estimate is biased backwards: a TSval slightly ahead of it is the host's";
  EXPECT_EQ(recover_by_timestamp(s, kClock, flow, at(-2000), kWindowMs),
            RecoveryStatus::kOutOfWindow);
  // The SYN-ACK the engine itself would send for this flow carries a TSval the ACK echoes.
  SynOptions syn;
  syn.has_timestamp = true;
  syn.tsval = 1;
  const SynAckPlan plan = plan_synack(s, kClock, flow, 99, syn);
  ASSERT_TRUE(plan.has_timestamp);
  EXPECT_EQ(recover_by_timestamp(s, kClock, flow, echoing(plan.tsval), kWindowMs),
            RecoveryStatus::kRecovered);
  // Another flow's offset does not fit this one (per-connection) or fits only for the same pair.
  Flow other = flow;
  other.client_port = static_cast<uint16_t>(other.client_port + 1);
  const auto other_status = recover_by_timestamp(s, kClock, other, at(0), kWindowMs);
  if (mode == TsOffsetMode::kPerConnection) {
    EXPECT_EQ(other_status, RecoveryStatus::kOutOfWindow);
  } else {
    EXPECT_EQ(other_status, RecoveryStatus::kRecovered) << "per-host offsets ignore ports";
  }
}

TEST(TimestampRecovery, EchoOfARecentHostTsvalIsRecognisedBothVariantsBothFamilies) {
  check_flow(kFlow4, TsOffsetMode::kPerConnection);
  check_flow(kFlow4, TsOffsetMode::kPerHost);
  check_flow(kFlow6, TsOffsetMode::kPerConnection);
  check_flow(kFlow6, TsOffsetMode::kPerHost);
}

TEST(TimestampRecovery, NothingToProveWithoutASecretOffsetOrATimestamp) {
  HostSecrets s = secrets(TsOffsetMode::kPerConnection);
  const AckSegment a = echoing(static_cast<uint32_t>(kClock.tcp_ms));
  EXPECT_EQ(recover_by_timestamp(s, kClock, kFlow4, a, 0), RecoveryStatus::kDisabled);
  s.sysctls.tcp_timestamps = 2;  // timestamps without offsets: the host clock is public
  EXPECT_EQ(recover_by_timestamp(s, kClock, kFlow4, a, kWindowMs), RecoveryStatus::kDisabled);
  s.sysctls.tcp_timestamps = 0;
  EXPECT_EQ(recover_by_timestamp(s, kClock, kFlow4, a, kWindowMs), RecoveryStatus::kDisabled);
  s.sysctls.tcp_timestamps = 1;
  AckSegment none = a;
  none.has_timestamp = false;
  EXPECT_EQ(recover_by_timestamp(s, kClock, kFlow4, none, kWindowMs), RecoveryStatus::kNoTimestamp);
  EXPECT_EQ(recover_by_timestamp(s, kClock, kFlow4, echoing(0), kWindowMs),
            RecoveryStatus::kNoTimestamp);
}

TEST(TimestampRecovery, RandomTsecrPassesAtTheDocumentedRate) {
  const HostSecrets s = secrets(TsOffsetMode::kPerConnection);
  std::mt19937 rng(1234);
  constexpr int kTries = 4'000'000;
  int passed = 0;
  for (int i = 0; i < kTries; ++i) {
    passed += recover_by_timestamp(s, kClock, kFlow4, echoing(static_cast<uint32_t>(rng()) | 1),
                                   kWindowMs) == RecoveryStatus::kRecovered;
  }
  // Expected (300 000 + 1 000 + 1) / 2^32 * 4e6 = 280; Poisson sd 17.
  EXPECT_GT(passed, 200);
  EXPECT_LT(passed, 360);
}

}  // namespace
}  // namespace synwarden
