// The protected host's two clocks, as seen from the firewall.
//
// - Cookie clock: count = jiffies_64 / (60 * HZ) (tcp_cookie_time() in include/net/tcp.h). The
//   host accepts a cookie made with its current count or the one before (MAX_SYNCOOKIE_AGE = 2)
//   and rejects one from its future.
// - TCP timestamp clock: the host's CLOCK_MONOTONIC in ms (tcp_clock_ns() / NSEC_PER_MSEC), to
//   which cookie_init_timestamp() applies and ts_off is added.
//
// The agent samples (jiffies_64, HZ, CLOCK_MONOTONIC ms) together on the host; the firewall notes
// its own CLOCK_MONOTONIC when the sample was valid and extrapolates with elapsed time. Both
// clocks run at the rate of the respective machine's CLOCK_MONOTONIC (jiffies are advanced from
// the same timekeeping), so one elapsed duration drives both.
//
// Errors only ever put the estimate BEHIND the host (delivery latency, truncation to ms and to
// whole jiffies), except the rate difference between two machines' clocks. HostClock biases
// both readings backwards by margins that cover that (ClockSafety), because being ahead is the
// failure that matters: a count one minute ahead is rejected by the host, a TSval ahead of the
// host clock makes the host's later TSvals go backwards and the client's PAWS drop them. Being
// behind costs little: a cookie made with the previous count is still accepted (for the rest of
// the current minute), and a TSval a few ms in the past only inflates the host's first RTT
// sample by that much.
#pragma once

#include <cstdint>

namespace synwarden {

// tcp_cookie_time(): do_div(jiffies_64, TCP_SYNCOOKIE_PERIOD) returned as u32.
constexpr uint32_t tcp_cookie_time(uint64_t jiffies64, uint32_t hz) noexcept {
  return static_cast<uint32_t>(jiffies64 / (uint64_t{60} * hz));
}

// One sample of the host's clocks, all read at (nearly) the same instant on the host.
struct HostClockSample {
  uint64_t jiffies = 0;  // get_jiffies_64()
  uint32_t hz = 0;       // CONFIG_HZ
  uint64_t mono_ms = 0;  // CLOCK_MONOTONIC in ms, the base of the host's TCP timestamps
  friend bool operator==(const HostClockSample&, const HostClockSample&) = default;
};

// What the cookie engine needs per SYN/ACK. Compute once per batch of packets, not per packet.
struct ClockReading {
  uint32_t cookie_count = 0;  // the count to make cookies with and to check them against
  uint64_t tcp_ms = 0;        // the host's TCP timestamp clock (before ts_off), never ahead
};

struct ClockSafety {
  // Subtracted from the elapsed time before computing the cookie count. Covers jiffies that lag
  // CLOCK_MONOTONIC on a tickless host (a few ticks at HZ=100), the sample's internal skew and
  // scheduling jitter. Costs only this: cookies made in the first 250 ms of a minute carry the
  // previous count and live ~60 s instead of ~120 s.
  uint32_t count_margin_ms = 250;
  // Subtracted from the elapsed time before computing the TCP ms clock: the firewall's own ms
  // truncation at both ends of the elapsed interval (+-1 ms each).
  uint32_t ts_margin_ms = 2;
  // Rate difference between the two machines' CLOCK_MONOTONIC. NTP may slew each by at most
  // MAXFREQ = 500 ppm (kernel/time/ntp.c), so two disciplined clocks diverge by <= 1000 ppm;
  // undisciplined crystals are far better than that.
  uint32_t drift_ppm = 1000;
};

// No margins: the host's clocks exactly, for comparing against the host's own SYN-ACKs.
inline constexpr ClockSafety kExactClock{0, 0, 0};

class HostClock {
 public:
  // `sample` was current on the host when the firewall's CLOCK_MONOTONIC read `local_ms`.
  // Throws std::invalid_argument if sample.hz is 0 or above kMaxHz.
  HostClock(const HostClockSample& sample, uint64_t local_ms, const ClockSafety& safety = {});

  // The reading to use at firewall time `local_now_ms`, biased backwards per ClockSafety.
  // Earlier times than the sample are allowed (elapsed < 0). No allocation, no syscalls.
  ClockReading at(uint64_t local_now_ms) const noexcept;

  // Unbiased extrapolations (diagnostics, tests).
  uint64_t jiffies_at(uint64_t local_now_ms) const noexcept;
  uint64_t host_ms_at(uint64_t local_now_ms) const noexcept;

  const HostClockSample& sample() const noexcept { return sample_; }
  uint64_t local_ms() const noexcept { return local_ms_; }
  const ClockSafety& safety() const noexcept { return safety_; }

  static constexpr uint32_t kMaxHz = 100000;

 private:
  int64_t elapsed_ms(uint64_t local_now_ms) const noexcept;
  uint64_t jiffies_after(int64_t delta_ms) const noexcept;

  HostClockSample sample_;
  uint64_t local_ms_;
  ClockSafety safety_;
};

}  // namespace synwarden
