// Start-up, control-thread and shutdown logging to stderr (journald adds its own timestamps; the
// monotonic prefix here orders lines across threads when run by hand). Never called per packet.
#pragma once

#include <string>

namespace synwarden::daemon {

enum class LogLevel { kInfo, kWarning, kError };

void log(LogLevel level, const std::string& message);
inline void log_info(const std::string& m) { log(LogLevel::kInfo, m); }
inline void log_warning(const std::string& m) { log(LogLevel::kWarning, m); }
inline void log_error(const std::string& m) { log(LogLevel::kError, m); }

}  // namespace synwarden::daemon
