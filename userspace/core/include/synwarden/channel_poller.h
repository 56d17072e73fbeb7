// Firewall side of the secret channel: polls one protected host's agent (default once a
// second), hands every valid secrets document to the caller (who swaps the workers' snapshot),
// keeps the last good secrets while the agent is silent, and once they are too old declares
// that the host's fail policy applies: `open` (forward SYNs to the host unprotected) or `closed`
// (drop them). Every transition is reported once through StateFn with a sentence for the log;
// counters say how often each thing happened.
//
// Single-threaded and time-driven: SecretPollerLoop (or a test) calls tick() and
// on_readable(); nothing here sleeps. State and counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "synwarden/channel.h"
#include "synwarden/channel_key.h"
#include "synwarden/channel_socket.h"
#include "synwarden/fail_policy.h"
#include "synwarden/secrets.h"

namespace synwarden {

enum class SecretsState : uint8_t {
  kNoSecrets,  // no valid secrets received yet: the fail policy applies
  kFresh,      // the latest poll was answered with valid secrets
  kHolding,    // polls fail, but the last good secrets are recent enough to keep using
  kExpired,    // the last good secrets are older than the hold time: the fail policy applies
};
const char* secrets_state_name(SecretsState s) noexcept;
inline bool fail_policy_applies(SecretsState s) noexcept {
  return s == SecretsState::kNoSecrets || s == SecretsState::kExpired;
}

struct SecretPollerOptions {
  std::string host;                  // the protected host's name, for logs and metrics
  std::string agent;                 // agent address, "192.0.2.7:7070" or "[2001:db8::7]:7070"
  uint32_t interval_ms = 1000;       // one request per interval
  uint32_t reply_timeout_ms = 800;   // a reply later than this is late (counted, ignored)
  // How long the last good secrets stay in use after the last valid reply. The cookie keys of
  // a kmod-mode host never change and its clocks are extrapolated, so holding is safe for far
  // longer than a few missed polls; the bound exists because a host that rebooted meanwhile
  // has new keys, and a BPF-mode agent rotates its keys.
  uint32_t hold_ms = 30'000;
  FailPolicy fail_policy = kDefaultFailPolicy;  // only named in the log lines of transitions
};

struct SecretPollerStats {
  uint64_t requests_sent = 0;
  uint64_t replies_accepted = 0;   // valid, fresh secrets handed to SecretsFn
  uint64_t timeouts = 0;           // requests without a valid reply within reply_timeout_ms
  uint64_t payload_rejected = 0;   // authentic reply whose secrets document was refused
  uint64_t send_errors = 0;
  uint64_t state_changes = 0;
};

class SecretPoller {
 public:
  // Valid secrets, and the firewall's CLOCK_MONOTONIC ms at which their clock sample was current
  // (the reply's arrival: the sample is a little older, which keeps the extrapolated host clocks
  // behind, the safe side — see clock.h).
  using SecretsFn = std::function<void(const HostSecrets& secrets, uint64_t sample_local_ms)>;
  // A state transition with a one-line explanation (no secret material), e.g. "agent
  // 192.0.2.7:7070 silent for 30.0 s; fail policy closed: SYNs to web1 are dropped".
  using StateFn = std::function<void(SecretsState from, SecretsState to, const std::string& why)>;

  // Throws ChannelSocketError for a bad agent address.
  SecretPoller(SecretPollerOptions options, ChannelKey key, SecretsFn on_secrets,
               StateFn on_state = {});

  int fd() const noexcept { return socket_.fd(); }

  // Sends a request when one is due, gives up on an unanswered one after the reply timeout, and
  // moves to kHolding / kExpired as the last good secrets age. `now_ms`: CLOCK_MONOTONIC ms;
  // `now_unix_ms`: wall clock (sealed into the request). Returns the monotonic ms at which it
  // wants to be called again.
  uint64_t tick(uint64_t now_ms, uint64_t now_unix_ms);

  // Reads every datagram waiting on the socket.
  void on_readable(uint64_t now_ms);

  SecretsState state() const noexcept { return state_.load(std::memory_order_relaxed); }
  const SecretPollerOptions& options() const noexcept { return options_; }
  const ChannelCounters& channel_counters() const noexcept { return channel_counters_; }
  SecretPollerStats stats() const noexcept;

 private:
  void set_state(SecretsState to, const std::string& why);
  void poll_failed(uint64_t now_ms, const std::string& why);
  void update_age(uint64_t now_ms);
  void accept_reply(const std::string& payload, uint64_t now_ms);
  void forget_outstanding() noexcept;

  SecretPollerOptions options_;
  ChannelKey key_;
  SecretsFn on_secrets_;
  StateFn on_state_;
  SocketAddress agent_;
  UdpSocket socket_;
  std::string origin_;   // "agent <address>" for error messages

  bool outstanding_ = false;
  ChannelNonce expected_{};         // nonce of the outstanding request (random when none)
  uint64_t sent_ms_ = 0;
  uint64_t next_send_ms_ = 0;
  std::optional<uint64_t> last_good_ms_;

  std::atomic<SecretsState> state_{SecretsState::kNoSecrets};
  ChannelCounters channel_counters_;
  std::atomic<uint64_t> requests_sent_{0}, replies_accepted_{0}, timeouts_{0},
      payload_rejected_{0}, send_errors_{0}, state_changes_{0};
};

// Drives any number of pollers from one thread: poll(2) over their sockets, tick() at the times
// they ask for. Pollers are added before start(); the loop owns them.
class SecretPollerLoop {
 public:
  SecretPollerLoop();
  ~SecretPollerLoop();   // stops and joins
  SecretPollerLoop(const SecretPollerLoop&) = delete;
  SecretPollerLoop& operator=(const SecretPollerLoop&) = delete;

  SecretPoller& add(std::unique_ptr<SecretPoller> poller);
  void start();
  void stop() noexcept;

 private:
  void run(std::stop_token stop);

  std::vector<std::unique_ptr<SecretPoller>> pollers_;
  int wake_fd_ = -1;   // eventfd: stop() wakes the loop out of poll(2)
  std::jthread thread_;
};

}  // namespace synwarden
