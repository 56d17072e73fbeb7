// The test's stand-in for the firewall while the daemon is not in the loop: it watches the
// protected host's interface through an AF_PACKET socket, and answers every SYN to the protected
// port with the cookie SYN-ACK the firewall's engine (plan_synack + build_synack_in_place) makes
// from the secrets the agent served over the secret channel. The test drops the SYN before the
// host's TCP sees it (nftables prerouting), so the host itself never answers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "synwarden/clock.h"
#include "synwarden/packet_headers.h"
#include "synwarden/secrets.h"

namespace synwarden::test {

// The latest secrets from the poller, shared with the responder thread.
class SecretsSlot {
 public:
  void set(const HostSecrets& s, uint64_t sample_local_ms);
  // The secrets and the clock model built from their sample, if any arrived yet.
  bool get(HostSecrets& secrets, std::optional<HostClock>& clock) const;

 private:
  mutable std::mutex mutex_;
  std::optional<HostSecrets> secrets_;
  uint64_t sample_local_ms_ = 0;
};

class SynResponder {
 public:
  // `packet_fd`: an AF_PACKET socket bound to the host's interface (created by the caller in the
  // host's namespace). Answers SYNs to `port` with source MAC `host_mac`.
  SynResponder(int packet_fd, int ifindex, uint16_t port, const MacAddress& host_mac,
               const SecretsSlot& secrets);
  ~SynResponder();   // stops the thread, closes the socket
  SynResponder(const SynResponder&) = delete;
  SynResponder& operator=(const SynResponder&) = delete;

  uint64_t syn_acks_sent() const { return sent_.load(); }
  uint64_t syns_without_secrets() const { return no_secrets_.load(); }

 private:
  void run();

  int fd_;
  int ifindex_;
  uint16_t port_;
  MacAddress mac_;
  const SecretsSlot& secrets_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> no_secrets_{0};
  std::thread thread_;
};

}  // namespace synwarden::test
