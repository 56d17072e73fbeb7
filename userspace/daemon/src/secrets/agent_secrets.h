// Live secrets for the protected hosts whose config names an "agent": one SecretPoller per such
// host (the channel library's firewall side: sealed request, nonce-checked reply, hold time,
// fail policy), all driven by one SecretPollerLoop thread. Every valid reply goes into the
// HostSecretsBook with its local receive time; every state transition is logged once (no secret
// material: the messages name addresses and durations only) and recorded in the book, which
// tells the control thread when the workers' snapshot must change.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "host_secrets_book.h"
#include "synwarden/channel_key.h"
#include "synwarden/channel_poller.h"

namespace synwarden::daemon {

// One agent host's channel counters, for /status and /metrics.
struct AgentChannelCounters {
  IpAddress host;
  std::string agent;                                   // "192.0.2.10:7070"
  SecretsState state = SecretsState::kNoSecrets;
  SecretPollerStats poller;                            // requests, replies, timeouts, ...
  std::array<uint64_t, kChannelResultCount> replies{};  // by ChannelResult (channel_result_name)
};

// The channel key of protected_hosts[index] (which has an agent). Throws std::runtime_error
// naming the config key, the file and the fix.
ChannelKey load_agent_key(const ProtectedHostConfig& host, size_t index);

// Loads every agent's channel key once, to refuse a start before anything is touched.
void check_agent_keys(const std::vector<ProtectedHostConfig>& hosts);

class AgentSecrets {
 public:
  // Loads every agent host's channel key (a 32-byte file with no group/other permission bits;
  // refused otherwise) and creates its poller. Nothing is sent before start(). Throws
  // std::runtime_error naming the config key ("protected_hosts[2].agent.key_file"), the file
  // and what to do.
  AgentSecrets(const std::vector<ProtectedHostConfig>& hosts, HostSecretsBook& book);
  ~AgentSecrets();  // stops the poller thread
  AgentSecrets(const AgentSecrets&) = delete;
  AgentSecrets& operator=(const AgentSecrets&) = delete;

  void start();
  void stop() noexcept;
  size_t size() const noexcept { return pollers_.size(); }

  // Safe from any thread (the counters are atomics).
  std::vector<AgentChannelCounters> counters() const;

 private:
  struct Polled {
    IpAddress host;
    const SecretPoller* poller;  // owned by loop_
  };
  SecretPollerLoop loop_;
  std::vector<Polled> pollers_;
};

}  // namespace synwarden::daemon
