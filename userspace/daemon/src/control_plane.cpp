#include "control_plane.h"

#include <time.h>

#include <algorithm>

#include "log.h"
#include "metrics_sample.h"

namespace synwarden::daemon {

namespace {

std::string summary(const ReloadPlan& plan) {
  std::string s = std::to_string(plan.added.size()) + " host(s) added, " +
                  std::to_string(plan.removed.size()) + " removed, " +
                  std::to_string(plan.changed.size()) + " changed";
  if (!plan.restart_required.empty()) {
    s += "; waiting for a restart:";
    for (const auto& key : plan.restart_required) s += " " + key;
  }
  return s;
}

}  // namespace

ControlPlane::ControlPlane(std::filesystem::path config_path, LoadedConfig loaded,
                           DataplanePort& dataplane, HostCounters& counters,
                           const MacAddress& firewall_mac)
    : path_(std::move(config_path)),
      file_text_(std::move(loaded.text)),
      document_(std::move(loaded.document)),
      config_(std::move(loaded.config)),
      dataplane_(dataplane),
      counters_(counters),
      firewall_mac_(firewall_mac),
      secrets_(config_.protected_hosts) {
  for (const auto& host : config_.protected_hosts) {
    slots_[host.address.to_string()] = counters_.acquire();
  }
}

std::unique_ptr<const Snapshot> ControlPlane::first_snapshot() {
  // Agents are polled from now on; a short wait lets the first snapshot start with their keys
  // rather than under their fail policy (an agent that does not answer is waited for once).
  secrets_.start();
  secrets_.wait_for_agents(1500);
  secrets_.refresh();
  auto snapshot = build_snapshot();
  write_host_cookies(*snapshot);
  return snapshot;
}

void ControlPlane::write_host_cookies(const Snapshot& snapshot) {
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

std::unique_ptr<const Snapshot> ControlPlane::build_snapshot() {
  std::vector<HostEntry> hosts;
  hosts.reserve(config_.protected_hosts.size());
  const uint64_t now_ms = monotonic_ms();
  for (size_t i = 0; i < config_.protected_hosts.size(); ++i) {
    const ProtectedHostConfig& h = config_.protected_hosts[i];
    HostEntry entry = HostEntry::from_config(h);
    secrets_.fill_worker_keys(i, entry, now_ms);
    entry.counter_slot = slots_.at(h.address.to_string());
    hosts.push_back(std::move(entry));
  }
  return std::make_unique<const Snapshot>(std::move(hosts), firewall_mac_, ++version_);
}

void ControlPlane::publish() {
  auto snapshot = build_snapshot();
  write_host_cookies(*snapshot);
  if (publish_) publish_(std::move(snapshot));
}

void ControlPlane::sync_dataplane() {
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
  refresh_modes(monotonic_ms());
}

void ControlPlane::refresh_secrets() {
  if (secrets_.refresh()) publish();
}

void ControlPlane::apply(const ReloadPlan& plan) {
  const DaemonConfig previous = config_;
  const std::map<std::string, uint32_t> previous_slots = slots_;
  // New hosts' secrets are read before any worker or XDP entry knows the host, so it starts
  // with its keys (or its fail policy if its source fails), never a half-configured state. An
  // unusable agent key file throws here, before anything else changed.
  try {
    secrets_.reconfigure(plan.effective.protected_hosts);
  } catch (const std::exception& e) {
    throw ApiError(422, std::string(e.what()) + "; nothing was changed");
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
    throw ApiError(500, why + "; the previous configuration was restored");
  }
  for (const auto& address : plan.removed) {
    // Reused only by a later host, with the counts up to then as its baseline.
    counters_.release(previous_slots.at(address.to_string()));
  }
  pending_restart_ = plan.restart_required;
  refresh_modes(monotonic_ms());
}

void ControlPlane::rollback(const DaemonConfig& previous,
                            const std::map<std::string, uint32_t>& slots,
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

ControlPlane::Applied ControlPlane::change_document(nlohmann::ordered_json next,
                                                   const std::string& what) {
  DaemonConfig parsed;
  ReloadPlan plan;
  try {
    parsed = parse_config_document(next);
    plan = plan_reload(config_, parsed);
  } catch (const ConfigError& e) {
    // The request was well-formed on its own but the resulting config is not (limits).
    throw ApiError(409, std::string(e.what()) + "; nothing was changed");
  }
  apply(plan);
  document_ = std::move(next);
  Applied applied;
  applied.changes = reload_plan_to_json(plan);
  applied.persisted = persist(applied.persist_note);
  log_info("API: " + what + (applied.persisted ? " (saved to " + path_.string() + ")"
                                               : " (not saved: " + applied.persist_note + ")"));
  return applied;
}

bool ControlPlane::persist(std::string& note) {
  const auto not_saved = [&](const std::string& why) {
    dirty_ = true;
    last_persist_error_ = why;
    note = why;
    return false;
  };
  if (!config_.api.persist_changes) {
    dirty_ = true;
    note = "runtime only (api.persist_changes is false): a reload or restart returns to the file";
    return false;
  }
  std::string current;
  try {
    current = read_text_file(path_);
  } catch (const ConfigError& e) {
    return not_saved(e.what());
  }
  if (current != file_text_) {
    return not_saved("the config file changed on disk since the daemon last read it; those edits "
                     "were not overwritten (reload to adopt them, then repeat this change)");
  }
  const std::string text = document_.dump(2) + "\n";
  try {
    write_file_atomically(path_, text);
  } catch (const std::exception& e) {
    return not_saved(std::string("saving the config file failed: ") + e.what());
  }
  file_text_ = text;
  dirty_ = false;
  last_persist_error_.clear();
  return true;
}

void ControlPlane::record_reload(const std::string& trigger, bool ok, const std::string& error) {
  (ok ? reloads_ok_ : reloads_failed_) += 1;
  last_reload_ok_ = ok;
  last_reload_ = {{"trigger", trigger}, {"ok", ok}, {"unix_ms", unix_time_ms()},
                  {"error", ok ? nlohmann::json(nullptr) : nlohmann::json(error)}};
}

nlohmann::json ControlPlane::reload(const std::string& trigger) {
  LoadedConfig loaded;
  ReloadPlan plan;
  try {
    loaded = read_config_file(path_);
    plan = plan_reload(config_, loaded.config);
  } catch (const ConfigError& e) {
    const std::string why = std::string("reload refused, the running configuration stays: ") +
                            e.what();
    record_reload(trigger, false, why);
    log_error("reload (" + trigger + "): " + why);
    throw ApiError(422, why);
  }
  if (dirty_) {
    log_warning("reload (" + trigger + "): API changes that were not saved are replaced by the "
                "file's content");
  }
  try {
    apply(plan);
  } catch (const ApiError& e) {
    record_reload(trigger, false, e.what());
    throw;
  }
  file_text_ = std::move(loaded.text);
  document_ = std::move(loaded.document);
  dirty_ = false;
  last_persist_error_.clear();
  record_reload(trigger, true, "");
  log_info("reload (" + trigger + "): " + summary(plan) + "; snapshot " +
           std::to_string(version_));
  for (const auto& key : plan.restart_required) {
    log_warning("reload: config key '" + key + "' changed; the new value takes effect only "
                "after a restart (the running value stays)");
  }
  return {{"reloaded", true}, {"trigger", trigger}, {"changes", reload_plan_to_json(plan)},
          {"snapshot_version", version_}};
}

const ProtectedHostConfig& ControlPlane::find_or_404(const IpAddress& address) const {
  for (const auto& host : config_.protected_hosts) {
    if (host.address == address) return host;
  }
  throw ApiError(404, "host " + address.to_string() + " is not a protected host");
}

size_t ControlPlane::document_index(const IpAddress& address) const {
  const auto& hosts = document_.at("protected_hosts");
  for (size_t i = 0; i < hosts.size(); ++i) {
    const auto ip = IpAddress::parse(hosts[i].at("address").get<std::string>());
    if (ip && *ip == address) return i;
  }
  // The document's hosts are exactly the running ones (hosts are never restart-only).
  throw ApiError(500, "host " + address.to_string() + " is running but not in the config "
                      "document; reload to resynchronise");
}

nlohmann::json ControlPlane::add_host(const nlohmann::json& spec) {
  if (!spec.is_object()) {
    throw ApiError(400, "expected a JSON object describing the host, in the config file's "
                        "protected_hosts[] form");
  }
  ProtectedHostConfig host;
  try {
    host = parse_protected_host(spec, "host");
  } catch (const ConfigError& e) {
    throw ApiError(400, e.what());
  }
  for (const auto& existing : config_.protected_hosts) {
    if (existing.address == host.address) {
      throw ApiError(409, "host " + host.address.to_string() + " is already protected (change "
                          "it with POST /hosts/{ip}/protect, or DELETE it first)");
    }
  }
  nlohmann::ordered_json next = document_;
  next["protected_hosts"].push_back(nlohmann::ordered_json(spec));
  const Applied applied = change_document(std::move(next), "added host " + host.address.to_string());
  return {{"host", protected_host_to_json(host)},
          {"persisted", applied.persisted},
          {"persist_note", applied.persist_note}};
}

nlohmann::json ControlPlane::remove_host(const IpAddress& address) {
  find_or_404(address);
  if (config_.protected_hosts.size() == 1) {
    throw ApiError(409, "host " + address.to_string() + " is the only protected host and the "
                        "config needs at least one: add another first, or stop the daemon");
  }
  nlohmann::ordered_json next = document_;
  next["protected_hosts"].erase(document_index(address));
  const Applied applied = change_document(std::move(next), "removed host " + address.to_string());
  return {{"removed", address.to_string()},
          {"persisted", applied.persisted},
          {"persist_note", applied.persist_note}};
}

nlohmann::json ControlPlane::hosts_json() const {
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& host : config_.protected_hosts) hosts.push_back(protected_host_to_json(host));
  return {{"hosts", std::move(hosts)}};
}

nlohmann::json ControlPlane::host_json(const IpAddress& address) const {
  return protected_host_to_json(find_or_404(address));
}

std::vector<ControlPlane::HostView> ControlPlane::host_views(uint64_t now_ms) const {
  std::vector<HostView> views;
  views.reserve(config_.protected_hosts.size());
  for (size_t i = 0; i < config_.protected_hosts.size(); ++i) {
    const ProtectedHostConfig& h = config_.protected_hosts[i];
    views.push_back({&h, slots_.at(h.address.to_string()), secrets_.freshness(i, now_ms)});
  }
  return views;
}

nlohmann::json ControlPlane::config_status() const {
  return {{"path", path_.string()},
          {"persist_changes", config_.api.persist_changes},
          {"unsaved_changes", dirty_},
          {"last_persist_error",
           last_persist_error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_persist_error_)},
          {"pending_restart", pending_restart_},
          {"last_reload", last_reload_},
          {"reloads", {{"ok", reloads_ok_}, {"failed", reloads_failed_}}}};
}

}  // namespace synwarden::daemon
