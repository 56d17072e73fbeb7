// What the workers know about the protected hosts at one moment: an immutable table built by the
// control thread (from the config and the hosts' secrets) and handed to workers through
// SnapshotStore. Workers never modify it, so they read it without locks; a change builds a new
// snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "metrics_host_counters.h"
#include "synwarden/clock.h"
#include "synwarden/codec.h"
#include "synwarden/secrets.h"

namespace synwarden::daemon {

// A protected host's secrets and the clock model derived from them.
struct HostKeys {
  HostSecrets secrets;
  HostClock clock;
};

// A protected host as the AF_XDP workers see it: the worker's view, built from the config
// (ProtectedHostConfig) and the host's secrets, with the cookie keys and clock a worker needs to
// answer a SYN or check an ACK. It is not the XDP map value: dataplane::HostEntry (bpf/fastpath,
// struct sw_host in the sw_hosts map) carries what the XDP program reads per frame (MAC, mode
// bits, forward_* policy bits), and the XDP cookie datapath's per-host keys are a third,
// kernel-shaped copy (sw_host_cookie, written from this entry by FastpathPort).
struct HostEntry {
  IpAddress address;
  MacAddress mac = {};
  bool protection = true;
  FailPolicy policy = kDefaultFailPolicy;  // the config's policy.fail
  std::vector<uint16_t> ports;       // sorted; empty = every port
  std::optional<HostKeys> keys;      // nullopt: no usable secrets yet (policy applies)
  // The keys in use before the cookie keys last changed (key rotation, host reboot): ACKs that
  // fail the current keys are checked with these until previous_until_ms (firewall
  // CLOCK_MONOTONIC), because cookies minted just before the change are still valid on the host.
  std::optional<HostKeys> previous_keys;
  uint64_t previous_until_ms = 0;
  uint32_t recovery_window_ms = 0;  // timestamp recovery of forgotten flows (0 = off)
  // Unknown ACKs that fail the cookie check are reported to the confirmer, which asks the
  // host's agent (policy.socket_confirm of a host with an agent).
  bool socket_confirm = false;
  uint32_t counter_slot = kNoCounterSlot;  // this host's block in each worker's HostCounterArea

  bool port_protected(uint16_t port_host_order) const noexcept;

  // The entry's configured part (address, MAC, protection, fail policy, ports); keys and the
  // counter slot are the caller's to fill.
  static HostEntry from_config(const ProtectedHostConfig& host);
};

class Snapshot {
 public:
  // `hosts` in any order; addresses must be unique. `version` numbers snapshots for reports.
  Snapshot(std::vector<HostEntry> hosts, const MacAddress& firewall_mac, uint64_t version = 0);

  // The host whose address is `daddr` (4 or 16 raw bytes per family), or nullptr.
  const HostEntry* find(IpFamily family, const uint8_t* daddr) const noexcept;

  const std::vector<HostEntry>& hosts() const noexcept { return hosts_; }
  const MacAddress& firewall_mac() const noexcept { return firewall_mac_; }
  uint64_t version() const noexcept { return version_; }

 private:
  std::vector<HostEntry> hosts_;  // sorted by (family, address bytes)
  MacAddress firewall_mac_;
  uint64_t version_;
};

}  // namespace synwarden::daemon
