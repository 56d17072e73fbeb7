// The daemon's configuration at run time, owned by the control thread: the running config, the
// file it came from, the hosts' secrets and per-host counter slots, and every way they change —
// reload (SIGHUP, POST /reload) and the API's host operations. All changes take one path:
//
//   new document -> parse_config (full validation, errors name the key path)
//   -> plan_reload (what changes; restart-only keys kept and reported)
//   -> apply: secrets for new hosts first, XDP stops steering removed hosts, workers get the new
//      snapshot, XDP starts steering added/changed hosts, settings map
//   -> API changes only: persist the document atomically (api.persist_changes)
//
// so traffic never meets a worker that does not know a host the XDP program steers to it, and an
// invalid file or request changes nothing. If the dataplane refuses a write halfway, the previous
// configuration is written back (idempotent sync) and the request fails with 500.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_types.h"
#include "auto_mode.h"
#include "config.h"
#include "control_config_file.h"
#include "control_dataplane.h"
#include "control_freshness.h"
#include "metrics_host_counters.h"
#include "reload_plan.h"
#include "secrets_sources.h"
#include "snapshot.h"

namespace synwarden::daemon {

// How long start-up waits for the agents' first replies (their reply timeout is 800 ms), so the
// first snapshot already has their keys instead of starting under the fail policy.
inline constexpr uint64_t kFirstAgentReplyMs = 1500;

class ControlPlane {
 public:
  using Publish = std::function<void(std::unique_ptr<const Snapshot>)>;

  // `counters` must have at least config.limits.host_table_size slots. Throws
  // std::runtime_error if an agent host's key file cannot be used (secrets_sources.h).
  ControlPlane(std::filesystem::path config_path, LoadedConfig loaded, DataplanePort& dataplane,
               HostCounters& counters, const MacAddress& firewall_mac);

  // Start-up, in this order: first_snapshot() (loads the secrets files, starts polling the
  // agents and waits up to kFirstAgentReplyMs for their first answers; the SnapshotStore is
  // created from it), set_publisher(), sync_dataplane() (the possibly adopted hosts map and the
  // settings then match the config: stale hosts removed first, then every configured host).
  std::unique_ptr<const Snapshot> first_snapshot();
  void set_publisher(Publish publish) { publish_ = std::move(publish); }
  void sync_dataplane();

  // Re-reads changed secrets files and takes what the agents' poller delivered; publishes a
  // snapshot if the workers' view of any host changed (keys, key change, fail policy switch).
  // Call periodically and whenever secrets_changes_fd() is readable.
  void refresh_secrets();
  int secrets_changes_fd() const noexcept { return secrets_.changes_fd(); }
  // Channel counters of every agent host, for /stats and /metrics.
  std::vector<AgentChannelCounters> agent_counters() const { return secrets_.agent_counters(); }
  // Readable when the agents' poller thread delivered something: call refresh_secrets().
  int secrets_fd() const noexcept { return secrets_.changes_fd(); }
  // Per-host freshness and the agents' channel counters (GET /status, /metrics).
  const SecretsSources& secrets() const noexcept { return secrets_; }

  // Re-reads the config file. Throws ApiError 422 (file invalid: the running config stays, the
  // reason is logged and kept for /status) or 500 (rolled back). `trigger`: "SIGHUP", "api".
  nlohmann::json reload(const std::string& trigger);

  // API host operations. Throw ApiError 400 (invalid), 404 (unknown host), 409 (conflict).
  nlohmann::json add_host(const nlohmann::json& spec);
  nlohmann::json remove_host(const IpAddress& address);
  nlohmann::json set_protection(const IpAddress& address, bool on);  // protect | pass
  nlohmann::json set_mode(const IpAddress& address, HostMode mode);

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
  nlohmann::json hosts_json() const;
  nlohmann::json host_json(const IpAddress& address) const;
  // Source lists (control_lists.cpp). GET: the list in its document form. POST/DELETE: a bulk
  // body {"host"?: ip, "prefixes": [...]} added or removed as a whole: every entry is checked
  // first (400 naming the entry; DELETE of an absent entry: 404 naming it), then applied in one
  // change (500 and nothing applied if the kernel refuses one), then persisted like hosts.
  nlohmann::json list_json(ListKindCfg kind) const;
  nlohmann::json change_list(ListKindCfg kind, const nlohmann::json& body, bool add);

  struct HostView {
    const ProtectedHostConfig* config;
    uint32_t counter_slot;
    SecretsFreshness secrets;
  };
  // Valid until the next change. `now_ms`: CLOCK_MONOTONIC.
  std::vector<HostView> host_views(uint64_t now_ms) const;
  // path, persistence, pending restart keys, last reload.
  nlohmann::json config_status() const;

  const DaemonConfig& config() const noexcept { return config_; }
  uint64_t snapshot_version() const noexcept { return version_; }
  uint64_t reloads_ok() const noexcept { return reloads_ok_; }
  uint64_t reloads_failed() const noexcept { return reloads_failed_; }
  bool last_reload_ok() const noexcept { return last_reload_ok_; }

 private:
  struct Applied {
    nlohmann::json changes;
    bool persisted = false;
    std::string persist_note;
  };
  Applied change_document(nlohmann::ordered_json next, const std::string& what);
  void apply(const ReloadPlan& plan);
  void rollback(const DaemonConfig& previous, const std::map<std::string, uint32_t>& slots,
                const std::vector<uint32_t>& acquired);
  std::unique_ptr<const Snapshot> build_snapshot();
  // Datapath "xdp": the snapshot's hosts into the XDP program's cookie map (errors logged).
  void write_host_cookies(const Snapshot& snapshot);
  // The plan's list and budget changes into the XDP maps (control_lists.cpp).
  void apply_lists(const ReloadPlan& plan);
  void publish();
  // Writes document_ back to the file when allowed; returns whether it did, and why not.
  bool persist(std::string& note);
  const ProtectedHostConfig& find_or_404(const IpAddress& address) const;
  size_t document_index(const IpAddress& address) const;
  void record_reload(const std::string& trigger, bool ok, const std::string& error);
  // After every change of the hosts (control_modes.cpp): auto hosts tracked from the XDP map's
  // state, effective modes updated and their changes counted.
  void refresh_modes(uint64_t now_ms);
  void note_effective(const std::string& host, HostMode effective);

  std::filesystem::path path_;
  std::string file_text_;             // the file's content as last read or written
  nlohmann::ordered_json document_;   // what the running config was parsed from
  DaemonConfig config_;               // running (effective) config
  DataplanePort& dataplane_;
  HostCounters& counters_;
  MacAddress firewall_mac_;
  SecretsSources secrets_;  // static files and live agents (secrets_sources.h)
  std::map<std::string, uint32_t> slots_;  // address text -> HostCounters slot
  Publish publish_;
  uint64_t version_ = 0;

  std::vector<std::string> pending_restart_;
  bool dirty_ = false;  // running config differs from the file (change not persisted)
  std::string last_persist_error_;
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
