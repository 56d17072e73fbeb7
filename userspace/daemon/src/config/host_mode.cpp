#include "host_mode.h"

#include <nlohmann/json.hpp>

#include "json_reader.h"

namespace synwarden::daemon {

const char* host_mode_name(HostMode mode) noexcept {
  switch (mode) {
    case HostMode::kProtect: return "protect";
    case HostMode::kPass: return "pass";
    case HostMode::kMonitor: return "monitor";
    case HostMode::kAuto: return "auto";
  }
  return "invalid";
}

std::optional<HostMode> parse_host_mode(std::string_view text) noexcept {
  for (HostMode m : {HostMode::kProtect, HostMode::kPass, HostMode::kMonitor, HostMode::kAuto}) {
    if (text == host_mode_name(m)) return m;
  }
  return std::nullopt;
}

AutoModeConfig parse_auto_mode_config(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  AutoModeConfig c;
  c.syn_pps_on = r.uint_or("syn_pps_on", c.syn_pps_on, 1, 1'000'000'000);
  c.syn_pps_off = r.uint_or("syn_pps_off", c.syn_pps_off, 0, 1'000'000'000);
  c.poll_ms = static_cast<uint32_t>(r.uint_or("poll_ms", c.poll_ms, 10, 1000));
  c.on_ms = static_cast<uint32_t>(r.uint_or("on_ms", c.on_ms, 0, 60'000));
  c.off_s = static_cast<uint32_t>(r.uint_or("off_s", c.off_s, 1, 86'400));
  if (c.syn_pps_off >= c.syn_pps_on) {
    // Without a gap between the two thresholds a rate hovering around one of them would flip
    // the mode every poll.
    throw_config_error(r.path_of("syn_pps_off"),
                       "must be below " + r.path_of("syn_pps_on") + " (" +
                           std::to_string(c.syn_pps_on) + "): the gap is the hysteresis");
  }
  r.reject_unknown_keys();
  return c;
}

nlohmann::json auto_mode_config_to_json(const AutoModeConfig& c) {
  return {{"syn_pps_on", c.syn_pps_on}, {"on_ms", c.on_ms}, {"syn_pps_off", c.syn_pps_off},
          {"off_s", c.off_s}, {"poll_ms", c.poll_ms}};
}

}  // namespace synwarden::daemon
