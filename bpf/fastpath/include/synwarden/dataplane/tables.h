// Typed views of the fast path's maps. Each table owns a duplicate of its map's fd, so it stays
// valid (and keeps the map alive) independently of the XdpFastpath that created it. All calls
// are syscalls: control-plane use only, never per packet. Tables are not synchronised; the
// kernel makes each single-element operation atomic with respect to the fast path.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "synwarden/dataplane/result.h"
#include "synwarden/dataplane/types.h"
#include "synwarden/unique_fd.h"

namespace synwarden::dataplane {

class FlowHint;

// Protected hosts: destination address -> MAC, protection on/off, policy.
class HostTable {
 public:
  explicit HostTable(UniqueFd fd) : fd_(std::move(fd)) {}

  Result<void> upsert(const IpAddress& addr, const HostEntry& entry);
  // Deleting an address that is not there is an error with code ENOENT.
  Result<void> erase(const IpAddress& addr);
  Result<std::optional<HostEntry>> lookup(const IpAddress& addr) const;
  // Flips protection of an existing host; ENOENT if the host is unknown.
  Result<void> set_protection(const IpAddress& addr, bool protect);
  Result<std::vector<std::pair<IpAddress, HostEntry>>> list() const;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
};

// Established flows (LRU hash; pinned so it outlives daemon restarts).
class FlowTable {
 public:
  explicit FlowTable(UniqueFd fd) : fd_(std::move(fd)) {}

  // sw_flows only: every insert then marks its key in `hint` (docs/flow-hint.md). The hint must
  // outlive the table's inserts.
  void set_hint(FlowHint* hint) noexcept { hint_ = hint; }

  // Inserts or refreshes a flow (a worker after a valid cookie ACK uses FlowOrigin::cookie).
  Result<void> insert(const FlowKey& key, FlowOrigin origin);
  Result<std::optional<FlowInfo>> lookup(const FlowKey& key) const;
  Result<void> erase(const FlowKey& key);  // ENOENT if absent
  // Walks the whole map (batched where the kernel supports it): O(entries), for metrics at
  // scrape intervals, not per event.
  Result<std::uint64_t> count() const;
  Result<void> clear();
  // Every key, chunk by chunk (batched): fn(keys, n). Keys present for the whole walk are all
  // seen; keys inserted or removed during it may or may not be.
  Result<void> walk_keys(const std::function<void(const sw_flow_key*, std::uint32_t)>& fn) const;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  FlowHint* hint_ = nullptr;
};

// Per host: the key its agent stamps outbound SYNs with (sw_outbound_keys).
class OutboundKeyTable {
 public:
  explicit OutboundKeyTable(UniqueFd fd) : fd_(std::move(fd)) {}
  // Makes the map hold exactly `keys` (one per address): writes changed values, removes hosts
  // not listed. Values that did not change are not rewritten.
  Result<void> sync(const std::vector<std::pair<IpAddress, sw_sip_key>>& keys);
  Result<std::optional<sw_sip_key>> lookup(const IpAddress& addr) const;
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
};

// XSKMAP: RX queue index -> AF_XDP socket. The kernel drops a socket's entry when it closes.
class XskTable {
 public:
  explicit XskTable(UniqueFd fd) : fd_(std::move(fd)) {}

  Result<void> set(std::uint32_t queue, int xsk_fd);
  Result<void> clear(std::uint32_t queue);  // not an error if the slot is already empty

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
};

struct Counter {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

// Per-reason totals summed over CPUs, indexed by enum sw_reason.
struct CounterSnapshot {
  std::array<Counter, SW_REASON_COUNT> by_reason{};
  // Monitor mode: frames per reason protection would have counted (sw_cpu_stats.would).
  std::array<std::uint64_t, SW_REASON_COUNT> would{};

  [[nodiscard]] const Counter& operator[](sw_reason r) const { return by_reason.at(r); }
  [[nodiscard]] std::uint64_t total_packets() const;
};

// Per-CPU counters, last decision and SYN-ACK token bucket.
class StatsTable {
 public:
  StatsTable(UniqueFd fd, unsigned possible_cpus) : fd_(std::move(fd)), cpus_(possible_cpus) {}

  Result<CounterSnapshot> read() const;
  // Index = CPU number. A record with seq == 0 means that CPU decided nothing since reset().
  Result<std::vector<sw_decision>> last_decisions() const;
  // Zeroes counters, last decisions and token buckets on every CPU.
  Result<void> reset();

  // Metric label ("xsk_syn") and help text of a reason, from SW_REASON_LIST.
  static std::string_view reason_name(sw_reason r);
  static std::string_view reason_help(sw_reason r);

  [[nodiscard]] unsigned possible_cpus() const noexcept { return cpus_; }
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  Result<std::vector<sw_cpu_stats>> read_all() const;
  UniqueFd fd_;
  unsigned cpus_;
};

struct Settings {
  MacAddress firewall_mac{};  // source MAC of every forwarded frame
  // SYN-ACKs forwarded per second while protection is on, 0 = unlimited. The budget is split
  // evenly over the CPUs (one token bucket each, no shared state), so a flood that RSS puts
  // on a single queue gets 1/N of it.
  std::uint64_t synack_rate_pps = 0;
  std::uint64_t synack_burst = 0;  // packets; 0 = one second's worth
  // Datapath "xdp": the program answers SYNs and checks cookie ACKs itself (hosts described in
  // host_cookies()); false ("afxdp"): both go to the AF_XDP workers.
  bool xdp_cookies = false;
  // Cookie SYN-ACKs sent by XDP per second, split over the CPUs like synack_rate_pps; 0 =
  // unlimited. Burst in packets, 0 = one second's worth.
  std::uint64_t cookie_synack_rate_pps = 0;
  std::uint64_t cookie_synack_burst = 0;
  // SynAckFrameParams::flow_label_seed of the workers: the IPv6 flow labels of both datapaths
  // then agree.
  std::uint32_t flow_label_seed = 0;
};

class SettingsTable {
 public:
  SettingsTable(UniqueFd fd, unsigned possible_cpus) : fd_(std::move(fd)), cpus_(possible_cpus) {}

  // Writes the settings and marks them valid: until the first write the fast path forwards
  // nothing (reason PASS_UNCONFIGURED).
  Result<void> write(const Settings& settings);
  Result<sw_settings> read_raw() const;
  // The per-CPU token bucket parameters write() derives from a Settings (exposed for tests).
  static sw_settings to_raw(const Settings& settings, unsigned possible_cpus);

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  unsigned cpus_;
};

}  // namespace synwarden::dataplane
