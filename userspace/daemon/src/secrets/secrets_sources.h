// Where every protected host's secrets come from, behind one control-thread interface: static
// files (SecretsFiles) for hosts with "secrets_file", the hosts' agents (AgentSecrets, its own
// poller thread) for hosts with "agent", both feeding one HostSecretsBook that keeps the previous
// keys after a key change and the fail-policy state. The method names follow SecretsFiles, which
// this replaces wherever snapshots are built:
//
//   SecretsSources sources(config.protected_hosts);   // loads agent keys (throws on a bad file)
//   sources.start();                                  // agents are polled from now on
//   sources.refresh();                                // files re-read; true: rebuild snapshot
//   for each host i: entry = ...; sources.fill_worker_keys(i, entry, now_ms);
//   poll(sources.changes_fd()) readable  ->  refresh() again and publish if it says so
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <optional>
#include <tuple>
#include <vector>

#include "agent_secrets.h"
#include "config.h"
#include "control_freshness.h"
#include "host_secrets_book.h"
#include "metrics_host_counters.h"
#include "secrets_files.h"
#include "snapshot.h"

namespace synwarden::daemon {

class SecretsSources {
 public:
  // Throws std::runtime_error if an agent's key file is missing, has the wrong size or is
  // readable by group/others (the message names the config key and the chmod to run).
  explicit SecretsSources(const std::vector<ProtectedHostConfig>& hosts);
  ~SecretsSources();
  SecretsSources(const SecretsSources&) = delete;
  SecretsSources& operator=(const SecretsSources&) = delete;

  // Starts polling the agents (one thread for all of them).
  void start();
  // Waits up to `timeout_ms` until every agent has answered or failed once, so the daemon's
  // first snapshot already has their keys instead of starting under the fail policy. Returns
  // the number of agent hosts still without secrets.
  size_t wait_for_agents(uint64_t timeout_ms);

  // Control thread, periodically and whenever changes_fd() is readable: re-reads changed files,
  // expires carried-over keys an agent never confirmed, and returns true if the workers'
  // snapshot must be rebuilt (new keys, a key change, a fail-policy switch, a clock re-anchor).
  bool refresh();
  // Readable while the agents' poller has delivered something refresh() should look at.
  int changes_fd() const noexcept { return book_.changes_fd(); }

  // Follows a new host list (reload, API change). Hosts whose address and source are unchanged
  // keep their keys. If any host's agent settings changed, agents are polled by a new poller
  // thread (the keys are loaded before the old one stops, so a bad key file throws and leaves
  // everything as it was); otherwise the running pollers go on untouched. Control thread.
  void reconfigure(const std::vector<ProtectedHostConfig>& hosts);

  // Sets entry.keys / previous_keys / previous_until_ms for host `index` of the current list.
  void fill_worker_keys(size_t index, HostEntry& entry, uint64_t now_ms) const;

  // For GET /status: how current host `index`'s secrets are. Control thread (as reconfigure()).
  SecretsFreshness freshness(size_t index, uint64_t now_ms) const;
  // Channel counters of every agent (requests, replies, timeouts, rejections by reason).
  std::vector<AgentChannelCounters> agent_counters() const;

 private:
  void index_hosts(const std::vector<ProtectedHostConfig>& hosts);
  // What the running pollers were built from: each agent host's address, endpoint and policy.
  static std::vector<std::tuple<IpAddress, AgentEndpoint, FailPolicy>> agent_settings(
      const std::vector<ProtectedHostConfig>& hosts);
  void feed_files();

  HostSecretsBook book_;  // declared first: the pollers' callbacks write into it
  std::vector<ProtectedHostConfig> hosts_;
  std::vector<std::optional<size_t>> file_index_;  // host index -> SecretsFiles index
  std::vector<ProtectedHostConfig> file_hosts_;
  std::unique_ptr<SecretsFiles> files_;
  std::unique_ptr<AgentSecrets> agents_;
  bool started_ = false;
};

// Per-host counter slots (HostCounters) by address text.
using CounterSlots = std::map<std::string, uint32_t>;

// The workers' view of the hosts, as the control plane publishes it: each configured host with
// the sources' keys at the current time and its counter slot (kNoCounterSlot if `slots` has none).
std::unique_ptr<const Snapshot> build_snapshot(const DaemonConfig& config,
                                               const SecretsSources& sources,
                                               const MacAddress& firewall_mac, uint64_t version,
                                               const CounterSlots& slots = {});

}  // namespace synwarden::daemon
