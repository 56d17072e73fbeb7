// The host clock model: the host's cookie count (tcp_cookie_time()) and TCP ms clock
// extrapolated from one sample, never ahead of the host.
#include "synwarden/clock.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <stdexcept>

namespace synwarden {
namespace {

constexpr std::array<uint32_t, 4> kHzValues{100, 250, 300, 1000};

uint64_t minute_jiffies(uint32_t hz) { return uint64_t{60} * hz; }

TEST(TcpCookieTime, CountsWholeMinutesOfJiffiesForEveryCommonHz) {
  for (uint32_t hz : kHzValues) {
    const uint64_t minute = minute_jiffies(hz);
    EXPECT_EQ(tcp_cookie_time(0, hz), 0u);
    EXPECT_EQ(tcp_cookie_time(minute - 1, hz), 0u) << hz;
    EXPECT_EQ(tcp_cookie_time(minute, hz), 1u) << hz;
    EXPECT_EQ(tcp_cookie_time(1000 * minute + minute - 1, hz), 1000u) << hz;
  }
}

TEST(TcpCookieTime, IsTruncatedToThirtyTwoBitsLikeTheKernel) {
  // do_div() leaves a u64 quotient; tcp_cookie_time() returns it as u32.
  const uint32_t hz = 1000;
  const uint64_t count = (uint64_t{1} << 32) + 5;
  EXPECT_EQ(tcp_cookie_time(count * minute_jiffies(hz), hz), 5u);
}

TEST(HostClock, ExactClockReproducesTheSampleAndExtrapolatesByHz) {
  for (uint32_t hz : kHzValues) {
    const HostClockSample s{123 * minute_jiffies(hz) + 7, hz, 5'000'000};
    const HostClock clock(s, 9'000, kExactClock);
    EXPECT_EQ(clock.at(9'000).cookie_count, 123u) << hz;
    EXPECT_EQ(clock.at(9'000).tcp_ms, 5'000'000u) << hz;
    EXPECT_EQ(clock.jiffies_at(9'000 + 2'000), s.jiffies + 2 * uint64_t{hz}) << hz;
    EXPECT_EQ(clock.host_ms_at(9'000 + 2'000), 5'002'000u) << hz;
    // 61 s later the count has advanced by exactly one minute.
    EXPECT_EQ(clock.at(9'000 + 61'000).cookie_count, 124u) << hz;
  }
}

TEST(HostClock, MinuteRolloverHappensAtTheBoundaryWithoutMarginsAndLaterWithThem) {
  for (uint32_t hz : kHzValues) {
    const uint64_t boundary = 500 * minute_jiffies(hz);  // count 499 -> 500 here
    // The sample is taken 1 s before the boundary.
    const HostClockSample s{boundary - hz, hz, 77'000};
    const uint64_t local0 = 1'000'000;
    const uint64_t boundary_local = local0 + 1'000;
    const HostClock exact(s, local0, kExactClock);
    EXPECT_EQ(exact.at(boundary_local - 1).cookie_count, 499u) << hz;
    EXPECT_EQ(exact.at(boundary_local).cookie_count, 500u) << hz;

    const ClockSafety safety;  // the firewall's defaults
    const HostClock biased(s, local0, safety);
    const uint64_t allowance = safety.count_margin_ms + 2;  // + drift over ~1.25 s, rounded up
    EXPECT_EQ(biased.at(boundary_local).cookie_count, 499u) << hz;
    EXPECT_EQ(biased.at(boundary_local + safety.count_margin_ms - 1).cookie_count, 499u) << hz;
    EXPECT_EQ(biased.at(boundary_local + allowance + 1000 / hz).cookie_count, 500u) << hz;
  }
}

TEST(HostClock, DefaultReadingIsSlightlyBehindTheHostTimestampClock) {
  const ClockSafety safety;
  const HostClock clock({1'000'000, 250, 40'000}, 10, safety);
  EXPECT_EQ(clock.at(10).tcp_ms, 40'000u - safety.ts_margin_ms);
  // After 10 s the drift allowance (1000 ppm -> 10 ms) is subtracted too.
  EXPECT_EQ(clock.at(10'010).tcp_ms, 50'000u - safety.ts_margin_ms - 10);
}

// The model's promise, checked against simulated hosts: whatever the phase of the sample
// within its jiffy, and with the firewall's clock running up to 900 ppm faster than the
// host's, the reading is never ahead of the host and at most one minute behind.
TEST(HostClock, NeverAheadOfASimulatedHostAtAnyTime) {
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 200'000; ++i) {
    const uint32_t hz = kHzValues[rng() % kHzValues.size()];
    const double tick_ms = 1000.0 / hz;
    // Host CLOCK_MONOTONIC at the sample, in ms with a fractional part.
    const double host_t0 = 1e6 + static_cast<double>(rng() % 100'000'000) +
                           static_cast<double>(rng() % 1000) / 1000.0;
    // jiffies advance with the host's monotonic clock; the sample's jiffy began `phase` ago.
    const double phase = tick_ms * static_cast<double>(rng() % 1000) / 1000.0;
    const uint64_t jiffies0 = (uint64_t{1} << 32) - 300 * uint64_t{hz} + rng() % 10'000'000;
    const HostClockSample s{jiffies0, hz, static_cast<uint64_t>(host_t0)};
    const uint64_t local0 = rng() % 1'000'000'000;
    const HostClock clock(s, local0);

    const uint64_t elapsed_local = rng() % 3'600'000;  // up to an hour without a new sample
    const double ppm = static_cast<double>(rng() % 901);
    const double elapsed_host = static_cast<double>(elapsed_local) * (1.0 - ppm * 1e-6);
    const auto true_jiffies =
        jiffies0 + static_cast<uint64_t>((phase + elapsed_host) / tick_ms);
    const uint32_t true_count = tcp_cookie_time(true_jiffies, hz);
    const auto true_ms = static_cast<uint64_t>(host_t0 + elapsed_host);

    const ClockReading r = clock.at(local0 + elapsed_local);
    ASSERT_LE(r.cookie_count, true_count) << "hz " << hz << " i " << i;
    ASSERT_GE(r.cookie_count + 1, true_count) << "hz " << hz << " i " << i;
    ASSERT_LE(r.tcp_ms, true_ms) << "hz " << hz << " i " << i;
  }
}

TEST(HostClock, LowThirtyTwoBitsOfJiffiesWrappingIsInvisible) {
  // On 64-bit kernels jiffies_64 starts at INITIAL_JIFFIES = 2^32 - 300 * HZ, so the low 32 bits
  // wrap five minutes after boot; the model works on the full 64-bit value.
  for (uint32_t hz : kHzValues) {
    const uint64_t before_wrap = (uint64_t{1} << 32) - 3 * uint64_t{hz};  // 3 s before
    const HostClock clock({before_wrap, hz, 290'000}, 0, kExactClock);
    EXPECT_EQ(clock.jiffies_at(10'000), before_wrap + 10 * uint64_t{hz}) << hz;
    EXPECT_GT(clock.jiffies_at(10'000), uint64_t{1} << 32) << hz;
    uint32_t last = clock.at(0).cookie_count;
    for (uint64_t t = 0; t <= 600'000; t += 500) {
      const uint32_t c = clock.at(t).cookie_count;
      ASSERT_TRUE(c == last || c == last + 1) << "count jumped at " << t << " ms, hz " << hz;
      last = c;
    }
    EXPECT_EQ(last, tcp_cookie_time(before_wrap + 600 * uint64_t{hz}, hz));
  }
}

TEST(HostClock, TimesBeforeTheSampleReadEarlierNeverLater) {
  const uint32_t hz = 250;
  const HostClockSample s{100 * minute_jiffies(hz) + 5 * hz, hz, 600'000};
  const HostClock clock(s, 50'000);
  const ClockReading at_sample = clock.at(50'000);
  const ClockReading earlier = clock.at(40'000);  // 10 s before the sample
  EXPECT_LT(earlier.tcp_ms, at_sample.tcp_ms);
  EXPECT_LE(earlier.tcp_ms, 590'000u);
  EXPECT_EQ(earlier.cookie_count, 99u);  // 100 min + 5 s - 10 s is in minute 99
}

TEST(HostClock, RejectsAnImpossibleHz) {
  EXPECT_THROW(HostClock({1, 0, 1}, 0), std::invalid_argument);
  EXPECT_THROW(HostClock({1, HostClock::kMaxHz + 1, 1}, 0), std::invalid_argument);
  EXPECT_NO_THROW(HostClock({1, 1000, 1}, 0));
}

}  // namespace
}  // namespace synwarden
