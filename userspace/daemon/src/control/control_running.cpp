#include "control_running.h"

#include <algorithm>

#include "control_error.h"
#include "log.h"

namespace synwarden::daemon {

RunningConfig::RunningConfig(DaemonConfig config, DataplanePort& dataplane,
                             HostCounters& counters, const MacAddress& firewall_mac,
                             Publish publish)
    : config_(std::move(config)),
      dataplane_(dataplane),
      counters_(counters),
      firewall_mac_(firewall_mac),
      publish_(std::move(publish)),
      secrets_(config_.protected_hosts) {
  for (const auto& host : config_.protected_hosts) {
    slots_[host.address.to_string()] = counters_.acquire();
  }
}

std::unique_ptr<const Snapshot> RunningConfig::start() {
  // Agents are polled from now on; a short wait lets the first snapshot start with their keys
  // rather than under their fail policy (an agent that does not answer is waited for once).
  secrets_.start();
  secrets_.wait_for_agents(kFirstAgentReplyMs);
  secrets_.refresh();
  auto snapshot = next_snapshot();
  write_host_cookies(*snapshot);
  // The hosts map is pinned: drop addresses an earlier configuration protected, then write ours
  // (unchanged entries are rewritten with the same value: no gap for established flows).
  sync_dataplane();
  return snapshot;
}

void RunningConfig::write_host_cookies(const Snapshot& snapshot) {
  try {
    dataplane_.write_outbound_keys(snapshot);
  } catch (const std::exception& e) {
    // SYN-ACKs of hosts whose key is missing take the budgeted path until the next publish.
    log_error(e.what());
  }
  if (config_.datapath != Datapath::kXdp) return;
  try {
    dataplane_.write_host_cookies(snapshot);
  } catch (const std::exception& e) {
    // The XDP program keeps the keys it had (or the fail policy of a host it never had keys
    // for); the next publish retries.
    log_error(e.what());
  }
}

std::unique_ptr<const Snapshot> RunningConfig::next_snapshot() {
  return build_snapshot(config_, secrets_, firewall_mac_, ++version_, slots_);
}

void RunningConfig::publish() {
  auto snapshot = next_snapshot();
  write_host_cookies(*snapshot);
  if (publish_) publish_(std::move(snapshot));
}

void RunningConfig::sync_dataplane() {
  for (const auto& address : dataplane_.list_hosts()) {
    const bool configured = std::any_of(
        config_.protected_hosts.begin(), config_.protected_hosts.end(),
        [&](const ProtectedHostConfig& h) { return h.address == address; });
    if (!configured) {
      dataplane_.erase_host(address);
      log_info("host " + address.to_string() + " is no longer configured: removed from XDP");
    }
  }
  for (const auto& host : config_.protected_hosts) dataplane_.upsert_host(host);
  dataplane_.write_settings(config_);
  dataplane_.sync_lists(config_);
}

void RunningConfig::refresh_secrets() {
  if (secrets_.refresh()) publish();
}

void RunningConfig::apply(const ReloadPlan& plan) {
  const DaemonConfig previous = config_;
  const CounterSlots previous_slots = slots_;
  // New hosts' secrets are read before any worker or XDP entry knows the host, so it starts
  // with its keys (or its fail policy if its source fails), never a half-configured state. An
  // unusable agent key file throws here, before anything else changed.
  try {
    secrets_.reconfigure(plan.effective.protected_hosts);
  } catch (const std::exception& e) {
    throw ControlError(Refusal::kInvalidConfig, std::string(e.what()) + "; nothing was changed");
  }
  std::vector<uint32_t> acquired;
  try {
    for (const auto& host : plan.added) {
      acquired.push_back(counters_.acquire());
      slots_[host.address.to_string()] = acquired.back();
    }
    secrets_.refresh();
    // Removed hosts: XDP stops steering them to the workers before the workers forget them.
    for (const auto& address : plan.removed) dataplane_.erase_host(address);
    config_ = plan.effective;
    for (const auto& address : plan.removed) slots_.erase(address.to_string());
    publish();
    // Added and changed hosts: the workers know them (snapshot above) before XDP steers to them.
    for (const auto& host : plan.added) dataplane_.upsert_host(host);
    for (const auto& change : plan.changed) {
      for (const auto& host : config_.protected_hosts) {
        if (host.address == change.address) dataplane_.upsert_host(host);
      }
    }
    if (plan.settings_changed) dataplane_.write_settings(config_);
    apply_lists(plan);
  } catch (const std::exception& e) {
    const std::string why = e.what();
    rollback(previous, previous_slots, acquired);
    throw ControlError(Refusal::kRolledBack, why + "; the previous configuration was restored");
  }
  for (const auto& address : plan.removed) {
    // Reused only by a later host, with the counts up to then as its baseline.
    counters_.release(previous_slots.at(address.to_string()));
  }
}

void RunningConfig::rollback(const DaemonConfig& previous, const CounterSlots& slots,
                             const std::vector<uint32_t>& acquired) {
  log_error("a configuration change failed halfway; restoring the previous configuration");
  config_ = previous;
  slots_ = slots;
  for (const uint32_t slot : acquired) counters_.release(slot);
  try {
    secrets_.reconfigure(config_.protected_hosts);
    secrets_.refresh();
  } catch (const std::exception& e) {
    log_error("restoring the previous hosts' secrets sources failed: " + std::string(e.what()));
  }
  try {
    sync_dataplane();
  } catch (const std::exception& e) {
    log_error("restoring the XDP hosts map failed too: " + std::string(e.what()) +
              "; reload once the cause is fixed");
  }
  publish();
}

std::vector<HostView> RunningConfig::host_views(uint64_t now_ms) const {
  std::vector<HostView> views;
  views.reserve(config_.protected_hosts.size());
  for (size_t i = 0; i < config_.protected_hosts.size(); ++i) {
    const ProtectedHostConfig& h = config_.protected_hosts[i];
    views.push_back({&h, slots_.at(h.address.to_string()), secrets_.freshness(i, now_ms)});
  }
  return views;
}

}  // namespace synwarden::daemon
