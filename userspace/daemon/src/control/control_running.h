// The configuration the daemon runs, and the one way it changes. RunningConfig owns the running
// (effective) config, the hosts' secrets sources and counter slots, and applies a ReloadPlan over
// the dataplane (XDP maps) and the workers' snapshot (the publisher):
//
//   secrets for new hosts first, XDP stops steering removed hosts, workers get the new snapshot,
//   XDP starts steering added/changed hosts, settings map, source lists and SYN-ACK budget
//
// so traffic never meets a worker that does not know a host the XDP program steers to it. If the
// dataplane refuses a write halfway, the previous configuration is written back (idempotent sync)
// and the change fails with Refusal::kRolledBack. Where a change comes from (reload, API) and what
// is saved to the file is the ControlPlane's business (control_plane.h). Control thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
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

// One configured host as GET /status, /stats and /health show it. Valid until the next change.
struct HostView {
  const ProtectedHostConfig* config;
  uint32_t counter_slot;
  SecretsFreshness secrets;
};

class RunningConfig {
 public:
  // Receives every snapshot after the first (start() returns that one). Called on the control
  // thread, never from the constructor or start().
  using Publish = std::function<void(std::unique_ptr<const Snapshot>)>;

  // `counters` must have at least config.limits.host_table_size slots. Throws
  // std::runtime_error if an agent host's key file cannot be used (secrets_sources.h).
  RunningConfig(DaemonConfig config, DataplanePort& dataplane, HostCounters& counters,
                const MacAddress& firewall_mac, Publish publish);

  // Start-up: loads the secrets files, starts polling the agents and waits up to
  // kFirstAgentReplyMs for their first answers, then makes the (possibly adopted) hosts map,
  // settings and lists match the config (stale hosts removed first). Returns the first snapshot,
  // for the SnapshotStore the workers read.
  std::unique_ptr<const Snapshot> start();

  // Applies `plan` (plan_reload against config()). Throws ControlError: kInvalidConfig (an agent
  // key file is unusable; nothing changed) or kRolledBack.
  void apply(const ReloadPlan& plan);

  // Re-reads changed secrets files and takes what the agents' poller delivered; publishes a
  // snapshot if the workers' view of any host changed (keys, key change, fail policy switch).
  void refresh_secrets();
  // Readable when the agents' poller delivered something: call refresh_secrets().
  int secrets_fd() const noexcept { return secrets_.changes_fd(); }

  const DaemonConfig& config() const noexcept { return config_; }
  uint64_t snapshot_version() const noexcept { return version_; }
  // Per-host freshness and the agents' channel counters.
  const SecretsSources& secrets() const noexcept { return secrets_; }
  // `now_ms`: CLOCK_MONOTONIC.
  std::vector<HostView> host_views(uint64_t now_ms) const;

 private:
  void sync_dataplane();
  void rollback(const DaemonConfig& previous, const CounterSlots& slots,
                const std::vector<uint32_t>& acquired);
  std::unique_ptr<const Snapshot> next_snapshot();
  void publish();
  // The outbound stamp keys (both datapaths) and, in datapath "xdp", the XDP program's cookie
  // map, from the snapshot the workers get (errors logged; the next publish retries).
  void write_host_cookies(const Snapshot& snapshot);
  // The plan's list and budget changes into the XDP maps (control_lists.cpp).
  void apply_lists(const ReloadPlan& plan);

  DaemonConfig config_;
  DataplanePort& dataplane_;
  HostCounters& counters_;
  MacAddress firewall_mac_;
  Publish publish_;
  SecretsSources secrets_;  // static files and live agents (secrets_sources.h)
  CounterSlots slots_;      // address text -> HostCounters slot
  uint64_t version_ = 0;
};

}  // namespace synwarden::daemon
