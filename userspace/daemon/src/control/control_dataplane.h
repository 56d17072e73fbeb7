// What the control plane changes in the XDP program when the configuration changes: the hosts
// map (protected addresses, their MAC, protection flag and policy) and the settings map. An
// interface so the control plane's ordering and rollback are tested without BPF; FastpathPort is
// the real one over dataplane::XdpFastpath.
#pragma once

#include <vector>

#include "config.h"
#include "snapshot.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace synwarden::daemon {

class DataplanePort {
 public:
  virtual ~DataplanePort() = default;
  // All throw std::runtime_error saying what failed on which host.
  virtual void upsert_host(const ProtectedHostConfig& host) = 0;
  virtual void erase_host(const IpAddress& address) = 0;  // an absent address is not an error
  virtual std::vector<IpAddress> list_hosts() = 0;
  virtual void write_settings(const DaemonConfig& config) = 0;
  // Datapath "xdp": every host of `snapshot` (the one the workers get) into the XDP program's
  // per-host cookie map (keys, clock model, previous keys and their grace, fail policy, ports);
  // hosts no longer in it are removed.
  virtual void write_host_cookies(const Snapshot& snapshot) = 0;
  // Both datapaths: the outbound stamp key of every host of `snapshot` whose agent sends one
  // (docs/outbound-stamp.md); hosts without one are removed from the map.
  virtual void write_outbound_keys(const Snapshot& snapshot) = 0;

  // Auto mode (host_mode.h). upsert_host() of an auto host keeps the protect state the map
  // holds (a new entry starts in pass) and starts counting its SYNs; of any other host, stops.
  // The defaults serve stand-ins that have no XDP program: no SYNs, state not kept.
  virtual uint64_t read_syn_count(const IpAddress& /*address*/) { return 0; }
  virtual void set_auto_protect(const IpAddress& /*address*/, bool /*protect*/) {}
  virtual bool auto_protected(const IpAddress& /*address*/) { return false; }
  // Source lists (config_lists.h): one list gains and loses prefixes, all or nothing (the
  // kernel refusing one restores the others); sync_lists() makes both lists and the budget
  // exactly the config's (start, rollback). Defined in control_lists.cpp.
  virtual void update_list(ListKindCfg kind, const ListDiff& diff) = 0;
  virtual void sync_lists(const DaemonConfig& config) = 0;
  virtual void write_synack_budget(const SynAckBudget& budget) = 0;
};

// The host's value in the XDP hosts map (MAC, mode bits, forward_* policy bits).
dataplane::HostEntry to_dataplane(const ProtectedHostConfig& host);

class FastpathPort : public DataplanePort {
 public:
  // `flow_label_seed`: the workers' SynAckFrameParams::flow_label_seed, so IPv6 SYN-ACKs of
  // both datapaths carry the same flow label.
  FastpathPort(dataplane::XdpFastpath& fastpath, const MacAddress& firewall_mac,
               uint32_t flow_label_seed = 0)
      : fastpath_(fastpath), firewall_mac_(firewall_mac), flow_label_seed_(flow_label_seed) {}

  void upsert_host(const ProtectedHostConfig& host) override;
  void erase_host(const IpAddress& address) override;
  std::vector<IpAddress> list_hosts() override;
  void write_settings(const DaemonConfig& config) override;
  void write_host_cookies(const Snapshot& snapshot) override;
  void write_outbound_keys(const Snapshot& snapshot) override;
  uint64_t read_syn_count(const IpAddress& address) override;
  void set_auto_protect(const IpAddress& address, bool protect) override;
  bool auto_protected(const IpAddress& address) override;
  void update_list(ListKindCfg kind, const ListDiff& diff) override;
  void sync_lists(const DaemonConfig& config) override;
  void write_synack_budget(const SynAckBudget& budget) override;

 private:
  dataplane::XdpFastpath& fastpath_;
  MacAddress firewall_mac_;
  uint32_t flow_label_seed_;
};

}  // namespace synwarden::daemon
