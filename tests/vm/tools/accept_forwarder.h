// The acceptance test's stand-in for the synwarden firewall: sits on the wire between a client
// namespace and the protected host (two TAP devices), answers every client SYN itself with the
// engine's cookie SYN-ACK made from the host's published secrets, and forwards all other TCP
// frames both ways. The host's kernel therefore never sees a SYN, only the cookie ACK.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "guest_net.h"
#include "synwarden/clock.h"
#include "synwarden/secrets.h"

namespace synwarden::vmtest {

class AcceptForwarder {
 public:
  // `host_clock` maps this machine's CLOCK_MONOTONIC (ms) to the host's clocks; in the guest
  // both are the same clock, but the firewall's safety margins apply as in production.
  AcceptForwarder(const TapDevice& client_side, const TapDevice& host_side,
                  const MacAddress& client_mac, const MacAddress& host_mac,
                  const HostSecrets& secrets, const HostClock& host_clock);
  ~AcceptForwarder();
  AcceptForwarder(const AcceptForwarder&) = delete;
  AcceptForwarder& operator=(const AcceptForwarder&) = delete;

  uint64_t syns_answered() const noexcept { return syns_answered_.load(); }
  uint64_t syns_leaked() const noexcept { return syns_leaked_.load(); }  // must stay 0
  uint64_t frames_forwarded() const noexcept { return forwarded_.load(); }

 private:
  void run() noexcept;
  void from_client(uint8_t* frame, size_t len);
  void from_host(uint8_t* frame, size_t len);

  const TapDevice& client_side_;
  const TapDevice& host_side_;
  MacAddress client_mac_;  // the client namespace's TAP address
  MacAddress host_mac_;    // the host's TAP address
  HostSecrets secrets_;
  HostClock host_clock_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> syns_answered_{0};
  std::atomic<uint64_t> syns_leaked_{0};
  std::atomic<uint64_t> forwarded_{0};
  std::thread thread_;
};

}  // namespace synwarden::vmtest
