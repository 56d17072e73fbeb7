// The auto mode's decision (docs/modes.md): from a host's SYN count, read every
// poll_ms from the XDP program, when to switch it to protect and back to pass. Pure logic on
// the caller's clock (tests drive it with a fake one); the control plane does the reading and
// the switching (ControlPlane::poll_auto_mode), never the packet path.
//
// Rate: SYNs since the previous poll / time since it. A condition "holds for D" when every poll
// window since it started was on its side of the threshold; it starts at the beginning of the
// first such window, so a flood that starts at t is acted on by the first poll at or after
// t + on_ms + one poll window (the window in which it started may count when it pushed that
// window's rate over the threshold).
//   pass -> protect: rate > syn_pps_on held for on_ms
//   protect -> pass: rate < syn_pps_off held for off_s
// Between the thresholds neither condition holds: the mode stays (hysteresis).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "host_mode.h"

namespace synwarden::daemon {

struct AutoModeSwitch {
  bool protect = false;   // the new state: true = protect, false = pass
  uint64_t rate_pps = 0;  // the rate of the poll window that completed the condition
  uint64_t held_ms = 0;   // how long the condition had held
};

class AutoModeController {
 public:
  explicit AutoModeController(const AutoModeConfig& config = {}) : config_(config) {}

  // New thresholds apply from the next sample; running conditions restart.
  void configure(const AutoModeConfig& config);
  const AutoModeConfig& config() const noexcept { return config_; }

  // Starts deciding for `host`, in state `protect` (what the XDP map holds: a restarted
  // daemon keeps a host that was being protected protected). A host already tracked is kept.
  void track(const std::string& host, bool protect, uint64_t syn_count, uint64_t now_ms);
  void untrack(const std::string& host);
  bool tracked(const std::string& host) const { return hosts_.count(host) != 0; }

  // One poll of `host` (tracked): its SYN counter and the time. Returns the switch to make, if
  // any; the controller's state already reflects it.
  std::optional<AutoModeSwitch> sample(const std::string& host, uint64_t syn_count,
                                       uint64_t now_ms);

  struct HostState {
    bool protect = false;
    uint64_t rate_pps = 0;      // of the last poll window
    uint64_t last_count = 0;
    uint64_t last_ms = 0;
    std::optional<uint64_t> above_since_ms;  // start of the run of windows above syn_pps_on
    std::optional<uint64_t> below_since_ms;  // start of the run of windows below syn_pps_off
  };
  const HostState* state(const std::string& host) const;

 private:
  AutoModeConfig config_;
  std::map<std::string, HostState> hosts_;
};

}  // namespace synwarden::daemon
