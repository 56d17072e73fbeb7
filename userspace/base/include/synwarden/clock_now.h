// The clocks the product reads, in the units it keeps them in. CLOCK_MONOTONIC is the
// firewall's one time base: the XDP program reads it as bpf_ktime_get_ns(), the workers and the
// control thread through these functions, and the host clock model (clock.h) extrapolates from
// it. clock_gettime() goes through the vDSO here: no system call, so the workers may read it per
// batch. CLOCK_REALTIME is only for what people read (Unix time in the API and logs).
#pragma once

#include <time.h>

#include <cstdint>

namespace synwarden {

inline uint64_t clock_now_ns(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// CLOCK_MONOTONIC in ns and in ms.
inline uint64_t monotonic_ns() noexcept { return clock_now_ns(CLOCK_MONOTONIC); }
inline uint64_t monotonic_ms() noexcept { return monotonic_ns() / 1'000'000; }
// CLOCK_REALTIME in ms since the Unix epoch.
inline uint64_t unix_time_ms() noexcept { return clock_now_ns(CLOCK_REALTIME) / 1'000'000; }

}  // namespace synwarden
