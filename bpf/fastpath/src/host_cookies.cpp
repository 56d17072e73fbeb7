#include "synwarden/dataplane/host_cookies.h"

#include "map_util.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>

namespace synwarden::dataplane {

using detail::err_of;
using detail::host_key_of;

namespace {

bool same_host(const sw_host_key& a, const sw_host_key& b) {
  return a.family == b.family && std::memcmp(a.addr, b.addr, sizeof a.addr) == 0;
}

template <class Key>
std::vector<Key> all_keys(int fd) {
  std::vector<Key> keys;
  Key cur{}, next{};
  const Key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    keys.push_back(next);
    cur = next;
    prev = &cur;
  }
  return keys;
}

}  // namespace

Result<void> HostCookieTable::wait_for_readers() {
  // An update of a map-in-map with a valid inner map makes the kernel call synchronize_rcu()
  // before returning (maybe_wait_bpf_programs() in kernel/bpf/syscall.c; the BPF selftests'
  // kern_sync_rcu() relies on the same): every XDP program that started before has finished.
  if (!sync_outer_.valid()) {
    UniqueFd inner(bpf_map_create(BPF_MAP_TYPE_ARRAY, "sw_rcu_inner", 4, 4, 1, nullptr));
    if (!inner.valid()) return os_error(errno, "creating the RCU barrier's inner map");
    LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = static_cast<__u32>(inner.get()));
    UniqueFd outer(bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "sw_rcu_sync", 4, 4, 1, &opts));
    if (!outer.valid()) return os_error(errno, "creating the RCU barrier map (map-in-map)");
    sync_inner_ = std::move(inner);
    sync_outer_ = std::move(outer);
  }
  const __u32 slot = 0;
  const __u32 inner_fd = static_cast<__u32>(sync_inner_.get());
  if (int ret = bpf_map_update_elem(sync_outer_.get(), &slot, &inner_fd, BPF_ANY); ret < 0) {
    return os_error(err_of(ret), "waiting for running XDP programs (map-in-map update)");
  }
  return {};
}

Result<void> HostCookieTable::erase_ports(const IpAddress& addr) {
  const sw_host_key host = host_key_of(addr);
  for (const auto& k : all_keys<sw_host_port_key>(ports_.get())) {
    if (!same_host(k.host, host)) continue;
    if (int ret = bpf_map_delete_elem(ports_.get(), &k); ret < 0 && err_of(ret) != ENOENT) {
      return os_error(err_of(ret), "removing a port of " + addr.to_string() + " from sw_cookie_ports");
    }
  }
  return {};
}

Result<void> HostCookieTable::write(const std::vector<Entry>& hosts) {
  std::set<IpAddress> seen;
  for (const auto& h : hosts) {
    if (!seen.insert(h.addr).second) {
      return logic_error("writing sw_host_cookies: host " + h.addr.to_string() +
                         " listed twice in one batch (its old value could be recycled under a reader)");
    }
  }
  for (const auto& h : hosts) {
    // Ports first: a host never points at a port list it does not have yet.
    if (auto r = erase_ports(h.addr); !r) return r.error();
    sw_host_port_key pk{};
    pk.host = host_key_of(h.addr);
    for (std::uint16_t port : h.ports) {
      pk.port = htons(port);
      const __u8 one = 1;
      if (int ret = bpf_map_update_elem(ports_.get(), &pk, &one, BPF_ANY); ret < 0) {
        return os_error(err_of(ret), "adding port " + std::to_string(port) + " of " +
                                         h.addr.to_string() + " to sw_cookie_ports");
      }
    }
    sw_host_cookie value = h.value;
    if (h.ports.empty()) value.flags &= ~static_cast<__u32>(SW_HC_PORTS_LISTED);
    else value.flags |= SW_HC_PORTS_LISTED;
    const sw_host_key key = host_key_of(h.addr);
    if (int ret = bpf_map_update_elem(cookies_.get(), &key, &value, BPF_ANY); ret < 0) {
      return os_error(err_of(ret), "writing the keys of " + h.addr.to_string() + " to sw_host_cookies",
                      err_of(ret) == E2BIG ? "the table is full; raise host_table_size" : "");
    }
  }
  return wait_for_readers();
}

Result<void> HostCookieTable::erase(const IpAddress& addr) {
  const sw_host_key key = host_key_of(addr);
  if (int ret = bpf_map_delete_elem(cookies_.get(), &key); ret < 0) {
    return os_error(err_of(ret), "removing " + addr.to_string() + " from sw_host_cookies");
  }
  if (auto r = erase_ports(addr); !r) return r.error();
  return wait_for_readers();
}

Result<std::optional<sw_host_cookie>> HostCookieTable::lookup(const IpAddress& addr) const {
  const sw_host_key key = host_key_of(addr);
  sw_host_cookie value{};
  int ret = bpf_map_lookup_elem(cookies_.get(), &key, &value);
  if (err_of(ret) == ENOENT) return std::optional<sw_host_cookie>{};
  if (ret < 0) return os_error(err_of(ret), "looking up " + addr.to_string() + " in sw_host_cookies");
  return std::optional<sw_host_cookie>{value};
}

Result<std::vector<IpAddress>> HostCookieTable::list() const {
  std::vector<IpAddress> out;
  for (const auto& k : all_keys<sw_host_key>(cookies_.get())) {
    out.push_back(address_of_words(k.family, k.addr));
  }
  return out;
}

Result<HostStatsTable::Values> HostStatsTable::read(std::uint32_t slot) const {
  std::vector<sw_host_xdp_counters> per_cpu(cpus_);
  if (int ret = bpf_map_lookup_elem(fd_.get(), &slot, per_cpu.data()); ret < 0) {
    return os_error(err_of(ret), "reading per-host counters of slot " + std::to_string(slot) +
                                     " from sw_host_stats",
                    err_of(ret) == ENOENT ? "the slot is beyond host_table_size" : "");
  }
  Values sum{};
  for (const auto& cpu : per_cpu) {
    for (std::size_t c = 0; c < SW_HX_COUNT; ++c) sum[c] += cpu.value[c];
  }
  return sum;
}

}  // namespace synwarden::dataplane
