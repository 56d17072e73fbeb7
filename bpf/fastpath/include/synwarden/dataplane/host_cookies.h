// The XDP cookie datapath's per-host maps: sw_host_cookies (keys, clock, sysctls of each
// protected host, struct sw_host_cookie) and sw_cookie_ports (the protected ports of hosts with
// a port list). Control-plane only; every call is a syscall.
//
// Atomic per host: write() replaces each host's whole value with one BPF_MAP_UPDATE_ELEM (the
// kernel links a fresh hash element and unlinks the old one, so a running program sees one
// value or the other), then waits until every XDP program that may still read a replaced
// element has finished (synchronize_rcu(), run by the kernel on a map-in-map update), because
// the kernel recycles a replaced element on the map's next update. See synwarden_shared.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "synwarden/dataplane/result.h"
#include "synwarden/dataplane/types.h"
#include "synwarden/unique_fd.h"

namespace synwarden::dataplane {

class HostCookieTable {
 public:
  HostCookieTable(UniqueFd cookies, UniqueFd ports)
      : cookies_(std::move(cookies)), ports_(std::move(ports)) {}

  // Writes every listed host (each address at most once), then waits for running programs (see
  // above). `ports`: the host's protected ports in host order, empty = every port; the value's
  // SW_HC_PORTS_LISTED flag is set from it.
  struct Entry {
    IpAddress addr;
    sw_host_cookie value{};
    std::vector<std::uint16_t> ports;
  };
  Result<void> write(const std::vector<Entry>& hosts);
  // Removes a host and its ports; ENOENT if it is not there.
  Result<void> erase(const IpAddress& addr);
  Result<std::optional<sw_host_cookie>> lookup(const IpAddress& addr) const;
  Result<std::vector<IpAddress>> list() const;

  [[nodiscard]] int fd() const noexcept { return cookies_.get(); }

 private:
  Result<void> wait_for_readers();
  Result<void> erase_ports(const IpAddress& addr);

  UniqueFd cookies_;
  UniqueFd ports_;
  UniqueFd sync_inner_;  // created on first use: the map-in-map whose update waits for RCU
  UniqueFd sync_outer_;
};

// sw_host_stats: the XDP cookie datapath's per-host counters (struct sw_host_xdp_counters per
// CPU, indexed by sw_host_cookie.counter_slot). Read by the metrics thread; one syscall per slot.
class HostStatsTable {
 public:
  using Values = std::array<std::uint64_t, SW_HX_COUNT>;  // enum sw_host_xdp_counter

  HostStatsTable(UniqueFd fd, unsigned possible_cpus) : fd_(std::move(fd)), cpus_(possible_cpus) {}

  // The slot's counters summed over CPUs (the array's slots always exist: zero until counted).
  Result<Values> read(std::uint32_t slot) const;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  unsigned cpus_;
};

}  // namespace synwarden::dataplane
