// Reading GET /stats answers for `stats` and `top`: per-host counters, XDP reason totals, and the
// per-second rates between two answers (timed by the daemon's own taken_at_ms, so a slow
// terminal or network does not distort them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace synwarden::ctl {

struct HostRates {
  std::string address;
  bool protection = false;
  std::string mode;  // mode_label()
  std::string secrets_state;
  double syn = 0, synack = 0, ack_valid = 0, ack_invalid = 0, forwarded = 0, dropped = 0;
};

struct XdpRates {
  double fwd_established = 0, fwd_learned = 0, fwd_pass_mode = 0, xsk_syn = 0, xsk_ack = 0,
         dropped = 0;
};

struct TopView {
  double interval_s = 0;
  std::vector<HostRates> hosts;  // busiest (SYN/s) first
  XdpRates xdp;
  uint64_t established_flows = 0;
};

// Rates from `before` to `after` (two /stats answers). A host only in `after` counts from zero.
// Throws std::runtime_error if `after` is not newer than `before`.
TopView top_view(const nlohmann::json& before, const nlohmann::json& after);
nlohmann::json top_view_to_json(const TopView& view);
std::string render_top(const TopView& view);

// A host's mode from a /status or /stats host object: "protect", "pass", "monitor",
// "auto:protect" / "auto:pass" (auto and its current state); from a daemon that reports no mode,
// `on` / `off` by its "protection".
std::string mode_label(const nlohmann::json& host, const char* on = "on", const char* off = "pass");

// `synwardenctl stats` as tables: per host, per worker, XDP reasons that counted something.
std::string render_stats(const nlohmann::json& stats);

}  // namespace synwarden::ctl
