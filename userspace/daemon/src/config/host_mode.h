// A protected host's mode (docs/modes.md) and the auto mode's thresholds: what the
// operator writes in the config ("mode" of a host, the top-level "auto" object) as typed values.
//
//   protect  SYN cookies on (the old "protection": true)
//   pass     forward and learn flows (the old "protection": false)
//   monitor  forward and learn like pass, but judge every frame as protect would and count
//            that verdict per reason (the XDP program's would-counters)
//   auto     pass while the host's SYN rate is low, protect while it is high (auto_mode.h)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace synwarden::daemon {

enum class HostMode : uint8_t { kProtect, kPass, kMonitor, kAuto };

const char* host_mode_name(HostMode mode) noexcept;  // "protect", "pass", "monitor", "auto"
std::optional<HostMode> parse_host_mode(std::string_view text) noexcept;
// What a config or API error says is allowed.
inline constexpr const char* kHostModeChoices = "\"protect\", \"pass\", \"monitor\" or \"auto\"";

// Thresholds of the auto mode, for every host in it. Defaults and why: docs/modes.md.
struct AutoModeConfig {
  uint64_t syn_pps_on = 5000;  // switch to protect when the SYN rate stays above this...
  uint32_t on_ms = 200;        // ... for this long
  uint64_t syn_pps_off = 1000; // back to pass when it stays below this ...
  uint32_t off_s = 30;         // ... for this long
  uint32_t poll_ms = 50;       // how often the control thread reads the XDP SYN counts

  friend bool operator==(const AutoModeConfig&, const AutoModeConfig&) = default;
};

// Parses the top-level "auto" object; `path` prefixes errors. Throws ConfigError.
AutoModeConfig parse_auto_mode_config(const nlohmann::json& value, const std::string& path);
nlohmann::json auto_mode_config_to_json(const AutoModeConfig& config);

}  // namespace synwarden::daemon
