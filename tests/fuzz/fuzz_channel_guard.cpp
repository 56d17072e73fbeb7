// Fuzz target "channel_guard": the agent's admission of authenticated requests
// (channel_guard.h) over a fuzzer-chosen history -- a few recurring nonces, send times skewed
// around the agent's clock, the wall clock stepping forward and (NTP steps) backward, a small
// replay-window capacity so eviction happens constantly (fuzz_cases.h GuardCase/GuardStep).
//
// Properties of ChannelReplayWindow::admit():
//  1. A request (nonce, send time) -- i.e. one captured datagram -- is admitted at most once,
//     whatever the clock does afterwards.
//  2. Admitted only if its send time is within max_age of the agent's clock; refused as kStale
//     otherwise.
//  3. kReplayed only for a nonce that was admitted before.
//  4. Liveness: a fresh nonce sent within max_age and later than every request admitted so far
//     is admitted (the window can never lock the firewall out).
//  5. It remembers at most `capacity` nonces.
// Properties of TokenBucket::try_take() on a monotonic clock:
//  6. At most burst + rate * elapsed replies are allowed since the first call.
//  7. With rate > 0, a call 2/rate seconds after the previous one is allowed.
#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "fuzz_cases.h"
#include "fuzz_support.h"
#include "synwarden/channel_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden;
  using namespace synwarden::fuzz;
  FuzzInput in(data, size);
  CaseReader reader(in);
  GuardCase c;
  c.visit(reader);

  const uint64_t tick = c.tick_ms;
  const uint64_t max_age = uint64_t{c.max_age_ticks} * tick;
  ChannelReplayWindow window(max_age, c.capacity);
  TokenBucket bucket(c.rate_per_s, c.burst);
  const double burst = std::max(1.0, static_cast<double>(c.burst));

  // Wall clock well away from 0 so skews in both directions stay positive.
  uint64_t now = 1'800'000'000'000;
  uint64_t mono_ns = 0;
  std::set<std::pair<uint8_t, uint64_t>> admitted;  // (nonce id, send time)
  std::set<uint8_t> admitted_nonces;
  uint64_t newest_admitted = 0;
  uint64_t taken = 0;
  uint64_t first_take_ns = 0;
  uint64_t last_call_ns = 0;
  bool called = false;

  while (in.remaining() > 0) {
    GuardStep step;
    step.visit(reader);
    // time_step: low 7 bits ticks, top bit = the wall clock steps back instead (NTP step).
    const uint64_t delta = uint64_t{step.time_step & 0x7Fu} * tick;
    now = (step.time_step & 0x80u) != 0 ? now - delta : now + delta;
    mono_ns += delta * 1'000'000;  // CLOCK_MONOTONIC never steps back
    const uint64_t sent = static_cast<uint64_t>(static_cast<int64_t>(now) +
                                                int64_t{step.send_skew} * static_cast<int64_t>(tick));
    ChannelRequest req;
    req.nonce.fill(step.nonce_id);
    req.sent_unix_ms = sent;

    const bool seen_nonce = admitted_nonces.contains(step.nonce_id);
    const uint64_t skew = sent > now ? sent - now : now - sent;
    const ChannelResult r = window.admit(req, now);
    FUZZ_CHECK(r == ChannelResult::kOk || r == ChannelResult::kStale ||
                   r == ChannelResult::kReplayed,
               "admit returned %s", channel_result_name(r));
    if (r == ChannelResult::kOk) {
      FUZZ_CHECK(admitted.insert({step.nonce_id, sent}).second,
                 "request (nonce %u, sent %llu) admitted twice (now %llu)", step.nonce_id,
                 static_cast<unsigned long long>(sent), static_cast<unsigned long long>(now));
      FUZZ_CHECK(skew <= max_age, "admitted with skew %llu > %llu",
                 static_cast<unsigned long long>(skew), static_cast<unsigned long long>(max_age));
      admitted_nonces.insert(step.nonce_id);
      newest_admitted = std::max(newest_admitted, sent);
    }
    if (skew > max_age) {
      FUZZ_CHECK(r == ChannelResult::kStale, "stale request: %s", channel_result_name(r));
    }
    if (r == ChannelResult::kReplayed) {
      FUZZ_CHECK(seen_nonce, "kReplayed for never-admitted nonce %u", step.nonce_id);
    }
    if (!seen_nonce && skew <= max_age && sent > newest_admitted) {
      // (newest_admitted was updated above only if this very request was admitted.)
      FUZZ_CHECK(r == ChannelResult::kOk, "fresh request refused: %s", channel_result_name(r));
    }
    FUZZ_CHECK(window.remembered() <= c.capacity, "remembers %zu > capacity %u",
               window.remembered(), c.capacity);

    // Token bucket: one try per step on the monotonic clock.
    const double idle_ns = double(mono_ns - last_call_ns);
    const bool idle_long = called && c.rate_per_s > 0 && idle_ns >= 2e9 / c.rate_per_s;
    const bool got = bucket.try_take(mono_ns);
    if (!called) first_take_ns = mono_ns;
    called = true;
    last_call_ns = mono_ns;
    if (got) ++taken;
    const double allowed = burst + double(c.rate_per_s) * double(mono_ns - first_take_ns) / 1e9;
    FUZZ_CHECK(double(taken) <= std::floor(allowed + 1e-6), "%llu replies allowed, bound %.3f",
               static_cast<unsigned long long>(taken), allowed);
    if (idle_long) {
      FUZZ_CHECK(got, "refused after %.3f s idle at %u/s", idle_ns / 1e9, c.rate_per_s);
    }
  }
  return 0;
}
