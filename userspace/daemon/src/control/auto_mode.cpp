#include "auto_mode.h"

namespace synwarden::daemon {

void AutoModeController::configure(const AutoModeConfig& config) {
  if (config == config_) return;
  config_ = config;
  for (auto& [host, s] : hosts_) {
    s.above_since_ms.reset();
    s.below_since_ms.reset();
  }
}

void AutoModeController::track(const std::string& host, bool protect, uint64_t syn_count,
                               uint64_t now_ms) {
  if (hosts_.count(host) != 0) return;
  HostState s;
  s.protect = protect;
  s.last_count = syn_count;
  s.last_ms = now_ms;
  hosts_.emplace(host, s);
}

void AutoModeController::untrack(const std::string& host) { hosts_.erase(host); }

const AutoModeController::HostState* AutoModeController::state(const std::string& host) const {
  const auto it = hosts_.find(host);
  return it == hosts_.end() ? nullptr : &it->second;
}

std::optional<AutoModeSwitch> AutoModeController::sample(const std::string& host,
                                                         uint64_t syn_count, uint64_t now_ms) {
  const auto it = hosts_.find(host);
  if (it == hosts_.end() || now_ms <= it->second.last_ms) return std::nullopt;
  HostState& s = it->second;
  const uint64_t window_start = s.last_ms;
  // A counter that went backwards was recreated (the host left auto and came back, or the
  // program was reloaded): that window tells nothing.
  const uint64_t syns = syn_count >= s.last_count ? syn_count - s.last_count : 0;
  s.rate_pps = syns * 1000 / (now_ms - window_start);
  s.last_count = syn_count;
  s.last_ms = now_ms;

  if (s.rate_pps > config_.syn_pps_on) {
    if (!s.above_since_ms) s.above_since_ms = window_start;
  } else {
    s.above_since_ms.reset();
  }
  if (s.rate_pps < config_.syn_pps_off) {
    if (!s.below_since_ms) s.below_since_ms = window_start;
  } else {
    s.below_since_ms.reset();
  }

  if (!s.protect && s.above_since_ms && now_ms - *s.above_since_ms >= config_.on_ms) {
    const uint64_t held = now_ms - *s.above_since_ms;
    s.protect = true;
    s.above_since_ms.reset();
    s.below_since_ms.reset();
    return AutoModeSwitch{true, s.rate_pps, held};
  }
  if (s.protect && s.below_since_ms &&
      now_ms - *s.below_since_ms >= uint64_t{config_.off_s} * 1000) {
    const uint64_t held = now_ms - *s.below_since_ms;
    s.protect = false;
    s.above_since_ms.reset();
    s.below_since_ms.reset();
    return AutoModeSwitch{false, s.rate_pps, held};
  }
  return std::nullopt;
}

}  // namespace synwarden::daemon
