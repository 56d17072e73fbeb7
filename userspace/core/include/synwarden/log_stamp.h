// The one timestamp format of synwarden's logs (daemon, agent, tools): wall-clock UTC in
// ISO 8601 with milliseconds, e.g. 2026-12-03T10:21:07.123Z, so lines from the firewall and
// from every protected host can be lined up with each other and with other logs.
#pragma once

#include <time.h>

#include <cstdio>
#include <ctime>

namespace synwarden {

// Writes the current time into `out` (at least 25 bytes) and returns it.
inline const char* log_stamp(char (&out)[32]) noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  const size_t n = std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &t);
  std::snprintf(out + n, sizeof out - n, ".%03dZ", static_cast<int>(ts.tv_nsec / 1'000'000));
  return out;
}

}  // namespace synwarden
