#include "secrets_sources.h"

#include <chrono>
#include <thread>

#include "synwarden/channel_socket.h"

namespace synwarden::daemon {

SecretsSources::SecretsSources(const std::vector<ProtectedHostConfig>& hosts) {
  index_hosts(hosts);
  files_ = std::make_unique<SecretsFiles>(file_hosts_);
  book_.set_hosts(hosts, monotonic_ms());
  agents_ = std::make_unique<AgentSecrets>(hosts, book_);
}

SecretsSources::~SecretsSources() {
  // The poller thread writes into book_: stop it before anything else goes.
  agents_.reset();
}

void SecretsSources::index_hosts(const std::vector<ProtectedHostConfig>& hosts) {
  hosts_ = hosts;
  file_index_.assign(hosts.size(), std::nullopt);
  file_hosts_.clear();
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (hosts[i].agent) continue;
    file_index_[i] = file_hosts_.size();
    file_hosts_.push_back(hosts[i]);
  }
}

void SecretsSources::start() {
  started_ = true;
  agents_->start();
}

size_t SecretsSources::wait_for_agents(uint64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t waiting = 0;
    for (const auto& agent : agents_->counters()) {
      const bool answered_or_failed =
          agent.state != SecretsState::kNoSecrets || agent.poller.timeouts != 0 ||
          agent.poller.send_errors != 0 || agent.poller.payload_rejected != 0;
      if (!answered_or_failed) ++waiting;
    }
    if (waiting == 0 || std::chrono::steady_clock::now() >= deadline) return waiting;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void SecretsSources::feed_files() {
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (!file_index_[i]) continue;
    const auto& keys = files_->keys(*file_index_[i]);
    // SecretsFiles keeps a file's last good keys, so a file host never expires; the book only
    // changes (and asks for a snapshot) when the keys or the file's clock sample changed.
    if (keys) book_.offer(hosts_[i].address, keys->secrets, keys->clock.local_ms());
  }
}

bool SecretsSources::refresh() {
  if (files_->refresh()) feed_files();
  book_.tick(monotonic_ms());
  return book_.take_changes();
}

std::vector<std::tuple<IpAddress, AgentEndpoint, FailPolicy>> SecretsSources::agent_settings(
    const std::vector<ProtectedHostConfig>& hosts) {
  std::vector<std::tuple<IpAddress, AgentEndpoint, FailPolicy>> out;
  for (const auto& h : hosts) {
    if (h.agent) out.emplace_back(h.address, *h.agent, h.policy.fail);
  }
  return out;
}

void SecretsSources::reconfigure(const std::vector<ProtectedHostConfig>& hosts) {
  // A protection toggle or a change to another key leaves the pollers (and their state) alone.
  std::unique_ptr<AgentSecrets> next_agents;
  if (agent_settings(hosts) != agent_settings(hosts_)) {
    // Everything that can fail (key files, sockets) happens before the running pollers stop.
    next_agents = std::make_unique<AgentSecrets>(hosts, book_);
    agents_.reset();
  }
  index_hosts(hosts);
  files_->reconfigure(file_hosts_);
  book_.set_hosts(hosts, monotonic_ms());
  files_->refresh();
  feed_files();
  if (next_agents) {
    agents_ = std::move(next_agents);
    if (started_) agents_->start();
  }
}

void SecretsSources::fill_worker_keys(size_t index, HostEntry& entry, uint64_t now_ms) const {
  entry.address = hosts_.at(index).address;
  book_.fill_worker_keys(entry, now_ms);
}

SecretsFreshness SecretsSources::freshness(size_t index, uint64_t now_ms) const {
  if (const auto& file = file_index_.at(index)) return files_->freshness(*file, now_ms);
  return book_.freshness(hosts_.at(index).address, now_ms).value_or(SecretsFreshness{});
}

std::vector<AgentChannelCounters> SecretsSources::agent_counters() const {
  return agents_->counters();
}

std::unique_ptr<const Snapshot> build_snapshot(const DaemonConfig& config,
                                               const SecretsSources& sources,
                                               const MacAddress& firewall_mac, uint64_t version,
                                               const CounterSlots& slots) {
  const uint64_t now_ms = monotonic_ms();
  std::vector<HostEntry> hosts;
  hosts.reserve(config.protected_hosts.size());
  for (size_t i = 0; i < config.protected_hosts.size(); ++i) {
    const ProtectedHostConfig& h = config.protected_hosts[i];
    HostEntry entry = HostEntry::from_config(h);
    sources.fill_worker_keys(i, entry, now_ms);
    const auto slot = slots.find(h.address.to_string());
    entry.counter_slot = slot == slots.end() ? kNoCounterSlot : slot->second;
    hosts.push_back(std::move(entry));
  }
  return std::make_unique<const Snapshot>(std::move(hosts), firewall_mac, version);
}

}  // namespace synwarden::daemon
