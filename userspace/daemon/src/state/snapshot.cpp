#include "snapshot.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace synwarden::daemon {

namespace {

int compare_key(IpAddress::Family fa, const uint8_t* a, IpAddress::Family fb, const uint8_t* b) {
  if (fa != fb) return fa < fb ? -1 : 1;
  return std::memcmp(a, b, fa == IpAddress::Family::kIpv4 ? 4 : 16);
}

}  // namespace

HostEntry HostEntry::from_config(const ProtectedHostConfig& host) {
  HostEntry entry;
  entry.address = host.address;
  entry.mac = host.mac;
  // The workers see only what XDP steers to them: an auto host's frames only while it is in
  // protect, a monitor host's never (monitor forwards everything).
  entry.protection = host.mode == HostMode::kProtect || host.mode == HostMode::kAuto;
  entry.policy = host.policy.fail;
  entry.ports = host.ports;
  entry.recovery_window_ms = host.policy.timestamp_recovery_s * 1000;
  entry.socket_confirm = host.agent.has_value() && host.policy.socket_confirm.value_or(true);
  return entry;
}

bool HostEntry::port_protected(uint16_t port_host_order) const noexcept {
  return ports.empty() || std::binary_search(ports.begin(), ports.end(), port_host_order);
}

Snapshot::Snapshot(std::vector<HostEntry> hosts, const MacAddress& firewall_mac, uint64_t version)
    : hosts_(std::move(hosts)), firewall_mac_(firewall_mac), version_(version) {
  std::sort(hosts_.begin(), hosts_.end(), [](const HostEntry& a, const HostEntry& b) {
    return compare_key(a.address.family(), a.address.bytes().data(), b.address.family(),
                       b.address.bytes().data()) < 0;
  });
  for (size_t i = 1; i < hosts_.size(); ++i) {
    if (compare_key(hosts_[i - 1].address.family(), hosts_[i - 1].address.bytes().data(),
                    hosts_[i].address.family(), hosts_[i].address.bytes().data()) == 0) {
      throw std::invalid_argument("snapshot lists host " + hosts_[i].address.to_string() +
                                  " twice");
    }
  }
}

const HostEntry* Snapshot::find(IpFamily family, const uint8_t* daddr) const noexcept {
  if (family != IpFamily::kIpv4 && family != IpFamily::kIpv6) return nullptr;
  const auto f = family == IpFamily::kIpv4 ? IpAddress::Family::kIpv4 : IpAddress::Family::kIpv6;
  // Binary search: a few compares even for thousands of hosts, no hashing, no allocation.
  size_t lo = 0, hi = hosts_.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const HostEntry& h = hosts_[mid];
    const int c = compare_key(h.address.family(), h.address.bytes().data(), f, daddr);
    if (c == 0) return &h;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return nullptr;
}

}  // namespace synwarden::daemon
