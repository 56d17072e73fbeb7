#include "log.h"

#include <cstdio>
#include <mutex>

#include "synwarden/log_stamp.h"

namespace synwarden::daemon {

void log(LogLevel level, const std::string& message) {
  static std::mutex mutex;  // whole lines from concurrent start-up threads
  char stamp[32];
  log_stamp(stamp);
  const char* tag = level == LogLevel::kInfo ? "info" : level == LogLevel::kWarning ? "warning"
                                                                                     : "error";
  std::lock_guard lock(mutex);
  std::fprintf(stderr, "%s synwarden %s: %s\n", stamp, tag, message.c_str());
  std::fflush(stderr);
}

}  // namespace synwarden::daemon
