// ControlPlane's host modes (host_mode.h): setting a host's mode through the API, the auto
// mode's poll, and the effective-mode bookkeeping behind /status and /metrics.
#include <algorithm>

#include "control_plane.h"
#include "log.h"
#include "metrics_sample.h"

namespace synwarden::daemon {

namespace {

nlohmann::json mode_reply(const IpAddress& address, HostMode mode, bool changed, bool persisted,
                          const std::string& note) {
  return {{"address", address.to_string()}, {"mode", host_mode_name(mode)},
          {"protection", mode == HostMode::kProtect}, {"changed", changed},
          {"persisted", persisted}, {"persist_note", note}};
}

}  // namespace

nlohmann::json ControlPlane::set_mode(const IpAddress& address, HostMode mode) {
  const ProtectedHostConfig& host = find_host(address);
  if (host.mode == mode) return mode_reply(address, mode, false, !document_.unsaved(), "");
  nlohmann::ordered_json next = document_.document();
  auto& entry = next["protected_hosts"][document_index(address)];
  // The file keeps its form: a host written with the older "protection" stays so while its
  // mode is protect or pass; otherwise "mode" says it all.
  if (!entry.contains("mode") && (mode == HostMode::kProtect || mode == HostMode::kPass)) {
    entry["protection"] = mode == HostMode::kProtect;
  } else {
    entry.erase("protection");
    entry["mode"] = host_mode_name(mode);
  }
  const auto saved = change_document(
      std::move(next), "mode " + std::string(host_mode_name(mode)) + " for " + address.to_string());
  return mode_reply(address, mode, true, saved.persisted, saved.note);
}

nlohmann::json ControlPlane::set_protection(const IpAddress& address, bool on) {
  return set_mode(address, on ? HostMode::kProtect : HostMode::kPass);
}

void ControlPlane::note_effective(const std::string& host, HostMode effective) {
  auto [it, fresh] = modes_.try_emplace(host);
  if (!fresh && it->second.effective != effective) ++it->second.changes[host_mode_name(effective)];
  it->second.effective = effective;
}

void ControlPlane::refresh_modes(uint64_t now_ms) {
  auto_.configure(config().auto_mode);
  bool any_auto = false;
  for (const auto& host : config().protected_hosts) {
    const std::string name = host.address.to_string();
    if (host.mode != HostMode::kAuto) {
      auto_.untrack(name);
      note_effective(name, host.mode);
      continue;
    }
    any_auto = true;
    if (!auto_.tracked(name)) {
      uint64_t count = 0;
      try {
        count = dataplane_.read_syn_count(host.address);
      } catch (const std::exception& e) {
        log_error("auto mode of host " + name + ": " + e.what());
      }
      auto_.track(name, dataplane_.auto_protected(host.address), count, now_ms);
    }
    note_effective(name, auto_.state(name)->protect ? HostMode::kProtect : HostMode::kPass);
  }
  std::erase_if(modes_, [&](const auto& entry) {
    return std::none_of(config().protected_hosts.begin(), config().protected_hosts.end(),
                        [&](const ProtectedHostConfig& h) {
                          return h.address.to_string() == entry.first;
                        });
  });
  next_auto_poll_ms_ = any_auto ? now_ms + config().auto_mode.poll_ms : UINT64_MAX;
}

void ControlPlane::poll_auto_mode(uint64_t now_ms) {
  next_auto_poll_ms_ = UINT64_MAX;
  for (const auto& host : config().protected_hosts) {
    if (host.mode != HostMode::kAuto) continue;
    next_auto_poll_ms_ = now_ms + config().auto_mode.poll_ms;
    const std::string name = host.address.to_string();
    std::optional<AutoModeSwitch> change;
    try {
      const uint64_t count = dataplane_.read_syn_count(host.address);
      if (!auto_.tracked(name)) {
        // After a failure: start again from the map's state and this count.
        auto_.track(name, dataplane_.auto_protected(host.address), count, now_ms);
        continue;
      }
      change = auto_.sample(name, count, now_ms);
      if (!change) continue;
      dataplane_.set_auto_protect(host.address, change->protect);
    } catch (const std::exception& e) {
      // The host stays in whatever state the XDP map holds; the next poll starts over from it.
      log_error(std::string("auto mode: ") + e.what());
      auto_.untrack(name);
      continue;
    }
    const auto& c = config().auto_mode;
    if (change->protect) {
      log_info("auto mode: host " + name + " switched to protect: SYN rate " +
               std::to_string(change->rate_pps) + "/s, above auto.syn_pps_on " +
               std::to_string(c.syn_pps_on) + "/s for " + std::to_string(change->held_ms) +
               " ms");
    } else {
      log_info("auto mode: host " + name + " switched to pass: SYN rate " +
               std::to_string(change->rate_pps) + "/s, below auto.syn_pps_off " +
               std::to_string(c.syn_pps_off) + "/s for " + std::to_string(change->held_ms) +
               " ms");
    }
    note_effective(name, change->protect ? HostMode::kProtect : HostMode::kPass);
  }
}

ControlPlane::ModeView ControlPlane::mode_view(const IpAddress& address) const {
  ModeView v;
  const ProtectedHostConfig& host = find_host(address);
  v.configured = host.mode;
  v.effective = host.mode;
  const std::string name = address.to_string();
  if (const auto* s = auto_.state(name)) {
    v.effective = s->protect ? HostMode::kProtect : HostMode::kPass;
    v.syn_pps = s->rate_pps;
  }
  if (const auto it = modes_.find(name); it != modes_.end()) v.changes = it->second.changes;
  return v;
}

}  // namespace synwarden::daemon
