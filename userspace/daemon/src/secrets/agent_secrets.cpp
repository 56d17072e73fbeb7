#include "agent_secrets.h"

#include <algorithm>
#include <stdexcept>

#include "log.h"

namespace synwarden::daemon {

namespace {

// Severity of a transition: losing secrets matters more than regaining them.
void log_transition(SecretsState to, const std::string& message) {
  switch (to) {
    case SecretsState::kFresh: log_info(message); break;
    case SecretsState::kHolding: log_warning(message); break;
    case SecretsState::kExpired:
    case SecretsState::kNoSecrets: log_error(message); break;
  }
}

}  // namespace

ChannelKey load_agent_key(const ProtectedHostConfig& host, size_t index) {
  try {
    return ChannelKey::load_file(host.agent->key_file.string());
  } catch (const ChannelKeyError& e) {
    throw std::runtime_error("config key 'protected_hosts[" + std::to_string(index) +
                             "].agent.key_file': " + e.what());
  }
}

void check_agent_keys(const std::vector<ProtectedHostConfig>& hosts) {
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (hosts[i].agent) (void)load_agent_key(hosts[i], i);
  }
}

AgentSecrets::AgentSecrets(const std::vector<ProtectedHostConfig>& hosts, HostSecretsBook& book) {
  for (size_t i = 0; i < hosts.size(); ++i) {
    const ProtectedHostConfig& host = hosts[i];
    if (!host.agent) continue;
    const AgentEndpoint& agent = *host.agent;
    ChannelKey key = load_agent_key(host, i);
    SecretPollerOptions options;
    options.host = host.address.to_string();
    options.agent = agent.address;
    options.interval_ms = agent.poll_interval_ms;
    // A reply on the same L2 segment takes well under a millisecond; waiting most of the
    // interval tolerates a busy agent without overlapping the next request.
    options.reply_timeout_ms = std::min<uint32_t>(800, agent.poll_interval_ms * 4 / 5);
    options.hold_ms = agent.hold_ms;
    options.fail_policy = host.policy.fail;
    const IpAddress address = host.address;
    auto on_secrets = [&book, address](const HostSecrets& secrets, uint64_t sample_local_ms) {
      book.offer(address, secrets, sample_local_ms);
    };
    auto on_state = [&book, address](SecretsState from, SecretsState to, const std::string& why) {
      if (from == to) {  // the poller's first tick: says what applies until the first reply
        log_info("host " + address.to_string() + ": " + why);
        return;
      }
      book.set_state(address, to, why);
      log_transition(to, "host " + address.to_string() + ": secrets " +
                             secrets_state_name(from) + " -> " + secrets_state_name(to) + ": " +
                             why);
    };
    try {
      const SecretPoller& poller = loop_.add(std::make_unique<SecretPoller>(
          std::move(options), std::move(key), std::move(on_secrets), std::move(on_state)));
      pollers_.push_back({address, &poller});
    } catch (const ChannelSocketError& e) {
      throw std::runtime_error("config key 'protected_hosts[" + std::to_string(i) +
                               "].agent.address': " + e.what());
    }
  }
}

AgentSecrets::~AgentSecrets() { stop(); }

void AgentSecrets::start() {
  if (pollers_.empty()) return;
  loop_.start();
  log_info("polling " + std::to_string(pollers_.size()) + " agent(s) for secrets");
}

void AgentSecrets::stop() noexcept { loop_.stop(); }

std::vector<AgentChannelCounters> AgentSecrets::counters() const {
  std::vector<AgentChannelCounters> out;
  out.reserve(pollers_.size());
  for (const Polled& p : pollers_) {
    AgentChannelCounters c;
    c.host = p.host;
    c.agent = p.poller->options().agent;
    c.state = p.poller->state();
    c.poller = p.poller->stats();
    for (size_t r = 0; r < kChannelResultCount; ++r) {
      c.replies[r] = p.poller->channel_counters().get(static_cast<ChannelResult>(r));
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace synwarden::daemon
