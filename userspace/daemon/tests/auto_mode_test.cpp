// Specification of the auto mode's decision (auto_mode.h) on a fake clock: each row is a
// sequence of poll windows (duration, SYNs) and the switches it must cause, with the poll at
// which each happens. The thresholds are those of the rows' config: on above 1000/s held
// 200 ms, off below 100/s held 2 s, polls every 50 ms.
#include "auto_mode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace synwarden::daemon {
namespace {

AutoModeConfig thresholds() {
  AutoModeConfig c;
  c.syn_pps_on = 1000;
  c.on_ms = 200;
  c.syn_pps_off = 100;
  c.off_s = 2;
  c.poll_ms = 50;
  return c;
}

struct Phase {
  int polls;          // 50 ms windows
  uint64_t syn_pps;   // SYN rate during them
};

struct Row {
  const char* what;
  bool start_protected;
  std::vector<Phase> phases;
  // Expected switches as (poll index counted from 1, to protect?).
  std::vector<std::pair<int, bool>> switches;
};

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"quiet host stays in pass", false, {{100, 50}}, {}},
      {"a flood switches on after on_ms: the 4th window above completes 200 ms", false,
       {{10, 50}, {20, 5000}}, {{14, true}}},
      {"a burst shorter than on_ms does not switch", false,
       {{10, 50}, {3, 5000}, {10, 50}, {3, 5000}, {10, 50}}, {}},
      {"exactly at syn_pps_on is not above it", false, {{40, 1000}}, {}},
      {"a rate between the thresholds keeps protect (hysteresis)", true, {{200, 500}}, {}},
      {"a rate between the thresholds keeps pass", false, {{200, 500}}, {}},
      {"back to pass after off_s below syn_pps_off: 40 windows", true, {{60, 20}}, {{40, false}}},
      {"a window at or above syn_pps_off restarts the off timer", true,
       {{30, 20}, {1, 100}, {45, 20}}, {{71, false}}},
      {"flood on, off, on again: three switches", false,
       {{4, 5000}, {40, 0}, {4, 5000}}, {{4, true}, {44, false}, {48, true}}},
      {"a dip below syn_pps_on restarts the on timer", false,
       {{3, 5000}, {1, 900}, {4, 5000}}, {{8, true}}},
  };
  return r;
}

TEST(AutoModeController, SwitchesAsTheTableSays) {
  for (const Row& row : rows()) {
    SCOPED_TRACE(row.what);
    AutoModeController c(thresholds());
    uint64_t now = 1'000'000, count = 7;
    c.track("h", row.start_protected, count, now);
    std::vector<std::pair<int, bool>> got;
    int poll = 0;
    for (const Phase& p : row.phases) {
      for (int i = 0; i < p.polls; ++i) {
        now += 50;
        count += p.syn_pps * 50 / 1000;
        ++poll;
        if (auto s = c.sample("h", count, now)) got.emplace_back(poll, s->protect);
      }
    }
    EXPECT_EQ(got, row.switches);
  }
}

TEST(AutoModeController, ASwitchReportsTheRateAndHowLongTheConditionHeld) {
  AutoModeController c(thresholds());
  c.track("h", false, 0, 0);
  std::optional<AutoModeSwitch> s;
  uint64_t count = 0;
  for (uint64_t t = 50; !s && t <= 1000; t += 50) s = c.sample("h", count += 250, t);  // 5000/s
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->protect);
  EXPECT_EQ(s->rate_pps, 5000u);
  EXPECT_EQ(s->held_ms, 200u);
  EXPECT_TRUE(c.state("h")->protect);
}

TEST(AutoModeController, AFloodIsActedOnWithinOnMsPlusOnePollOfItsStart) {
  // The flood starts 10 ms into a window: that window's rate is already above the threshold.
  AutoModeController c(thresholds());
  c.track("h", false, 0, 0);
  uint64_t count = 0, switched_at = 0;
  const uint64_t flood_start = 510;
  for (uint64_t t = 50; t <= 2000 && !switched_at; t += 50) {
    const uint64_t from = t - 50;
    const uint64_t flood_ms = t <= flood_start ? 0 : t - std::max(from, flood_start);
    count += flood_ms * 20;  // 20 000 SYN/s during the flood
    if (auto s = c.sample("h", count, t)) switched_at = t;
  }
  ASSERT_NE(switched_at, 0u);
  EXPECT_LE(switched_at - flood_start, 200u + 50u);
}

TEST(AutoModeController, ACounterThatWentBackwardsCountsAsAQuietWindow) {
  AutoModeController c(thresholds());
  c.track("h", false, 1'000'000, 0);
  EXPECT_FALSE(c.sample("h", 5, 50).has_value());
  EXPECT_EQ(c.state("h")->rate_pps, 0u);
}

TEST(AutoModeController, TrackingKeepsAKnownHostAndUntrackForgetsIt) {
  AutoModeController c(thresholds());
  c.track("h", true, 0, 0);
  c.track("h", false, 0, 0);
  EXPECT_TRUE(c.state("h")->protect) << "a second track() keeps the state";
  c.untrack("h");
  EXPECT_EQ(c.state("h"), nullptr);
  EXPECT_FALSE(c.sample("h", 10, 100).has_value());
}

TEST(AutoModeController, NewThresholdsRestartRunningConditions) {
  AutoModeController c(thresholds());
  c.track("h", false, 0, 0);
  uint64_t count = 0;
  for (uint64_t t = 50; t <= 150; t += 50) EXPECT_FALSE(c.sample("h", count += 250, t));
  AutoModeConfig higher = thresholds();
  higher.syn_pps_on = 10'000;
  c.configure(higher);
  for (uint64_t t = 200; t <= 1000; t += 50) EXPECT_FALSE(c.sample("h", count += 250, t));
}

}  // namespace
}  // namespace synwarden::daemon
