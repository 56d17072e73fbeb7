// The daemon's configuration operations, owned by the control thread: reload (SIGHUP, POST
// /reload), the API's host, mode and list operations, and the auto mode's switches. Every change
// takes one path:
//
//   new document -> parse_config (full validation, errors name the key path)
//   -> plan_reload (what changes; restart-only keys kept and reported)
//   -> RunningConfig::apply (dataplane and workers' snapshot, in order; rolled back on failure)
//   -> API changes only: ConfigDocument::commit (saved atomically if api.persist_changes)
//
// so an invalid file or request changes nothing. Refusals are ControlErrors (control_error.h);
// what they mean in HTTP is the API router's business.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_backend.h"
#include "auto_mode.h"
#include "config.h"
#include "control_config_file.h"
#include "control_dataplane.h"
#include "control_running.h"
#include "metrics_host_counters.h"
#include "reload_plan.h"
#include "snapshot.h"

namespace synwarden::daemon {

class ControlPlane : public ControlOperations {
 public:
  using Publish = RunningConfig::Publish;

  // `counters` must have at least config.limits.host_table_size slots; `publish` receives every
  // snapshot after the first. Throws std::runtime_error if an agent host's key file cannot be
  // used (secrets_sources.h).
  ControlPlane(std::filesystem::path config_path, LoadedConfig loaded, DataplanePort& dataplane,
               HostCounters& counters, const MacAddress& firewall_mac, Publish publish);

  // Start-up in one step (RunningConfig::start): secrets loaded, agents asked, the dataplane
  // made to match the config. Returns the first snapshot, for the SnapshotStore.
  std::unique_ptr<const Snapshot> start();

  // The control loop: call periodically and whenever secrets_fd() is readable.
  void refresh_secrets() { running_.refresh_secrets(); }
  int secrets_fd() const noexcept { return running_.secrets_fd(); }

  // Re-reads the config file. Refusals: kInvalidConfig (file invalid: the running config stays,
  // the reason is logged and kept for /status) or kRolledBack.
  nlohmann::json reload(const std::string& trigger) override;

  // Refusals: kInvalidRequest, kNotFound (unknown host), kConflict, kRolledBack.
  nlohmann::json add_host(const nlohmann::json& spec) override;
  nlohmann::json remove_host(const IpAddress& address) override;
  nlohmann::json set_protection(const IpAddress& address, bool on) override;  // protect | pass
  nlohmann::json set_mode(const IpAddress& address, HostMode mode) override;
  nlohmann::json hosts_json() const override;
  nlohmann::json host_json(const IpAddress& address) const override;
  // Source lists (control_lists.cpp). GET: the list in its document form. POST/DELETE: a bulk
  // body {"host"?: ip, "prefixes": [...]} added or removed as a whole: every entry is checked
  // first (kInvalidRequest naming the entry; DELETE of an absent entry: kNotFound naming it),
  // then applied in one change (kRolledBack and nothing applied if the kernel refuses one), then
  // persisted like hosts.
  nlohmann::json list_json(ListKindCfg kind) const override;
  nlohmann::json change_list(ListKindCfg kind, const nlohmann::json& body, bool add) override;

  // Auto mode (control_modes.cpp): reads the auto hosts' SYN counts and switches them. Call
  // when next_auto_poll_ms() is due; it returns UINT64_MAX while no host is in auto.
  void poll_auto_mode(uint64_t now_ms);
  uint64_t next_auto_poll_ms() const noexcept { return next_auto_poll_ms_; }
  struct ModeView {
    HostMode configured = HostMode::kProtect;
    HostMode effective = HostMode::kProtect;  // protect, pass or monitor (auto's current state)
    uint64_t syn_pps = 0;                     // auto: the last poll window's SYN rate
    // Changes of the effective mode, by the mode changed to (protect, pass, monitor).
    std::map<std::string, uint64_t> changes;
  };
  ModeView mode_view(const IpAddress& address) const;

  // path, persistence, pending restart keys, last reload.
  nlohmann::json config_status() const;
  const RunningConfig& running() const noexcept { return running_; }
  const DaemonConfig& config() const noexcept { return running_.config(); }
  uint64_t snapshot_version() const noexcept { return running_.snapshot_version(); }
  uint64_t reloads_ok() const noexcept { return reloads_ok_; }
  uint64_t reloads_failed() const noexcept { return reloads_failed_; }
  bool last_reload_ok() const noexcept { return last_reload_ok_; }

 private:
  // An API change: `next` validated, planned, applied, then committed to the document (and
  // saved if allowed). `what` says it in the log.
  ConfigDocument::Saved change_document(nlohmann::ordered_json next, const std::string& what);
  // running_.apply(plan), then the modes follow the hosts (also after a rollback).
  void apply(const ReloadPlan& plan);
  const ProtectedHostConfig& find_host(const IpAddress& address) const;  // or kNotFound
  size_t document_index(const IpAddress& address) const;                // or kOutOfSync
  void record_reload(const std::string& trigger, bool ok, const std::string& error);
  // After every change of the hosts (control_modes.cpp): auto hosts tracked from the XDP map's
  // state, effective modes updated and their changes counted.
  void refresh_modes(uint64_t now_ms);
  void note_effective(const std::string& host, HostMode effective);

  ConfigDocument document_;
  RunningConfig running_;
  DataplanePort& dataplane_;  // the auto mode's SYN counts and switches

  std::vector<std::string> pending_restart_;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  bool last_reload_ok_ = true;
  nlohmann::json last_reload_;  // {"trigger", "ok", "unix_ms", "error"}

  AutoModeController auto_;
  struct ModeState {
    HostMode effective = HostMode::kProtect;
    std::map<std::string, uint64_t> changes;
  };
  std::map<std::string, ModeState> modes_;  // address text -> effective mode, changes
  uint64_t next_auto_poll_ms_ = UINT64_MAX;
};

}  // namespace synwarden::daemon
