#include "log.h"

#include <time.h>

#include <cstdio>
#include <mutex>

namespace synwarden::daemon {

void log(LogLevel level, const std::string& message) {
  static std::mutex mutex;  // whole lines from concurrent start-up threads
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const char* tag = level == LogLevel::kInfo ? "info" : level == LogLevel::kWarning ? "warning"
                                                                                     : "error";
  std::lock_guard lock(mutex);
  std::fprintf(stderr, "[%ld.%03ld] synwarden %s: %s\n", static_cast<long>(ts.tv_sec),
               ts.tv_nsec / 1'000'000, tag, message.c_str());
  std::fflush(stderr);
}

}  // namespace synwarden::daemon
