#include "control_plane.h"

#include "control_error.h"
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
                           const MacAddress& firewall_mac, Publish publish)
    : document_(std::move(config_path), std::move(loaded.text), std::move(loaded.document)),
      running_(std::move(loaded.config), dataplane, counters, firewall_mac, std::move(publish)),
      dataplane_(dataplane) {}

std::unique_ptr<const Snapshot> ControlPlane::start() {
  auto first = running_.start();
  refresh_modes(monotonic_ms());
  return first;
}

void ControlPlane::apply(const ReloadPlan& plan) {
  try {
    running_.apply(plan);
  } catch (...) {
    refresh_modes(monotonic_ms());  // the rollback rewrote the hosts map
    throw;
  }
  pending_restart_ = plan.restart_required;
  refresh_modes(monotonic_ms());
}

ConfigDocument::Saved ControlPlane::change_document(nlohmann::ordered_json next,
                                                    const std::string& what) {
  ReloadPlan plan;
  try {
    plan = plan_reload(config(), parse_config_document(next));
  } catch (const ConfigError& e) {
    // The request was well-formed on its own but the resulting config is not (limits).
    throw ControlError(Refusal::kConflict, std::string(e.what()) + "; nothing was changed");
  }
  apply(plan);
  const ConfigDocument::Saved saved =
      document_.commit(std::move(next), config().api.persist_changes);
  log_info("API: " + what + (saved.persisted ? " (saved to " + document_.path().string() + ")"
                                             : " (not saved: " + saved.note + ")"));
  return saved;
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
    loaded = read_config_file(document_.path());
    plan = plan_reload(config(), loaded.config);
  } catch (const ConfigError& e) {
    const std::string why = std::string("reload refused, the running configuration stays: ") +
                            e.what();
    record_reload(trigger, false, why);
    log_error("reload (" + trigger + "): " + why);
    throw ControlError(Refusal::kInvalidConfig, why);
  }
  if (document_.unsaved()) {
    log_warning("reload (" + trigger + "): API changes that were not saved are replaced by the "
                "file's content");
  }
  try {
    apply(plan);
  } catch (const ControlError& e) {
    record_reload(trigger, false, e.what());
    throw;
  }
  document_.adopt(std::move(loaded.text), std::move(loaded.document));
  record_reload(trigger, true, "");
  log_info("reload (" + trigger + "): " + summary(plan) + "; snapshot " +
           std::to_string(snapshot_version()));
  for (const auto& key : plan.restart_required) {
    log_warning("reload: config key '" + key + "' changed; the new value takes effect only "
                "after a restart (the running value stays)");
  }
  return {{"reloaded", true}, {"trigger", trigger}, {"changes", reload_plan_to_json(plan)},
          {"snapshot_version", snapshot_version()}};
}

const ProtectedHostConfig& ControlPlane::find_host(const IpAddress& address) const {
  for (const auto& host : config().protected_hosts) {
    if (host.address == address) return host;
  }
  throw ControlError(Refusal::kNotFound,
                     "host " + address.to_string() + " is not a protected host");
}

size_t ControlPlane::document_index(const IpAddress& address) const {
  if (const auto index = document_.host_index(address)) return *index;
  // The document's hosts are exactly the running ones (hosts are never restart-only).
  throw ControlError(Refusal::kOutOfSync, "host " + address.to_string() + " is running but not "
                                          "in the config document; reload to resynchronise");
}

nlohmann::json ControlPlane::add_host(const nlohmann::json& spec) {
  if (!spec.is_object()) {
    throw ControlError(Refusal::kInvalidRequest, "expected a JSON object describing the host, in "
                                                 "the config file's protected_hosts[] form");
  }
  ProtectedHostConfig host;
  try {
    host = parse_protected_host(spec, "host");
  } catch (const ConfigError& e) {
    throw ControlError(Refusal::kInvalidRequest, e.what());
  }
  for (const auto& existing : config().protected_hosts) {
    if (existing.address == host.address) {
      throw ControlError(Refusal::kConflict,
                         "host " + host.address.to_string() + " is already protected (change it "
                         "with POST /hosts/{ip}/protect, or DELETE it first)");
    }
  }
  nlohmann::ordered_json next = document_.document();
  next["protected_hosts"].push_back(nlohmann::ordered_json(spec));
  const auto saved = change_document(std::move(next), "added host " + host.address.to_string());
  return {{"host", protected_host_to_json(host)},
          {"persisted", saved.persisted},
          {"persist_note", saved.note}};
}

nlohmann::json ControlPlane::remove_host(const IpAddress& address) {
  find_host(address);
  if (config().protected_hosts.size() == 1) {
    throw ControlError(Refusal::kConflict,
                       "host " + address.to_string() + " is the only protected host and the "
                       "config needs at least one: add another first, or stop the daemon");
  }
  nlohmann::ordered_json next = document_.document();
  next["protected_hosts"].erase(document_index(address));
  const auto saved = change_document(std::move(next), "removed host " + address.to_string());
  return {{"removed", address.to_string()},
          {"persisted", saved.persisted},
          {"persist_note", saved.note}};
}

nlohmann::json ControlPlane::hosts_json() const {
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& host : config().protected_hosts) hosts.push_back(protected_host_to_json(host));
  return {{"hosts", std::move(hosts)}};
}

nlohmann::json ControlPlane::host_json(const IpAddress& address) const {
  return protected_host_to_json(find_host(address));
}

nlohmann::json ControlPlane::config_status() const {
  nlohmann::json out = document_.status_json();
  out["persist_changes"] = config().api.persist_changes;
  out["pending_restart"] = pending_restart_;
  out["last_reload"] = last_reload_;
  out["reloads"] = {{"ok", reloads_ok_}, {"failed", reloads_failed_}};
  return out;
}

}  // namespace synwarden::daemon
