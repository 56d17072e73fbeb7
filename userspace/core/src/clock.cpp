#include "synwarden/clock.h"

#include <stdexcept>
#include <string>

namespace synwarden {

namespace {

// Elapsed times beyond this (~35 years) are clamped so that `ms * hz` cannot overflow int64.
constexpr int64_t kMaxElapsedMs = int64_t{1} << 40;

// Floor division for a possibly negative numerator: extrapolating backwards must round towards
// the past as well, never towards the host's future.
constexpr int64_t floor_div(int64_t a, int64_t b) noexcept {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

constexpr uint64_t add_clamped(uint64_t base, int64_t delta) noexcept {
  if (delta >= 0) {
    const auto d = static_cast<uint64_t>(delta);
    return base > UINT64_MAX - d ? UINT64_MAX : base + d;
  }
  const uint64_t d = static_cast<uint64_t>(-(delta + 1)) + 1;
  return base < d ? 0 : base - d;
}

}  // namespace

HostClock::HostClock(const HostClockSample& sample, uint64_t local_ms, const ClockSafety& safety)
    : sample_(sample), local_ms_(local_ms), safety_(safety) {
  if (sample.hz == 0 || sample.hz > kMaxHz) {
    throw std::invalid_argument("host clock sample has HZ " + std::to_string(sample.hz) +
                                "; expected 1.." + std::to_string(kMaxHz) +
                                " (the host's CONFIG_HZ, e.g. 100, 250, 300 or 1000)");
  }
}

int64_t HostClock::elapsed_ms(uint64_t local_now_ms) const noexcept {
  const auto e = static_cast<int64_t>(local_now_ms - local_ms_);  // two's-complement difference
  if (e > kMaxElapsedMs) return kMaxElapsedMs;
  if (e < -kMaxElapsedMs) return -kMaxElapsedMs;
  return e;
}

uint64_t HostClock::jiffies_after(int64_t delta_ms) const noexcept {
  // Truncating to whole jiffies rounds down: the sample's own jiffy was already partly elapsed,
  // so the true count can only be higher.
  const int64_t delta_jiffies = floor_div(delta_ms * int64_t{sample_.hz}, 1000);
  return add_clamped(sample_.jiffies, delta_jiffies);
}

uint64_t HostClock::jiffies_at(uint64_t local_now_ms) const noexcept {
  return jiffies_after(elapsed_ms(local_now_ms));
}

uint64_t HostClock::host_ms_at(uint64_t local_now_ms) const noexcept {
  return add_clamped(sample_.mono_ms, elapsed_ms(local_now_ms));
}

ClockReading HostClock::at(uint64_t local_now_ms) const noexcept {
  const int64_t elapsed = elapsed_ms(local_now_ms);
  const int64_t magnitude = elapsed < 0 ? -elapsed : elapsed;
  // Rounded up: the allowance must cover the worst case.
  const int64_t drift = (magnitude * int64_t{safety_.drift_ppm} + 999'999) / 1'000'000;

  ClockReading r;
  r.cookie_count = tcp_cookie_time(
      jiffies_after(elapsed - int64_t{safety_.count_margin_ms} - drift), sample_.hz);
  r.tcp_ms = add_clamped(sample_.mono_ms, elapsed - int64_t{safety_.ts_margin_ms} - drift);
  return r;
}

}  // namespace synwarden
