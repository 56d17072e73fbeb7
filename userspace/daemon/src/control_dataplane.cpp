#include "control_dataplane.h"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace synwarden::daemon {

dataplane::IpAddress to_dataplane(const IpAddress& a) {
  if (a.family == IpAddress::Family::kIpv4) {
    in_addr v4{};
    std::memcpy(&v4, a.bytes.data(), 4);
    return dataplane::IpAddress::v4(v4);
  }
  in6_addr v6{};
  std::memcpy(&v6, a.bytes.data(), 16);
  return dataplane::IpAddress::v6(v6);
}

IpAddress from_dataplane(const dataplane::IpAddress& a) {
  IpAddress out;
  out.family = a.is_v4() ? IpAddress::Family::kIpv4 : IpAddress::Family::kIpv6;
  out.bytes = a.bytes();
  return out;
}

dataplane::HostEntry to_dataplane(const ProtectedHostConfig& h) {
  dataplane::HostEntry e;
  e.mac = h.mac;
  e.protect = h.protection;
  e.policy.forward_icmp = h.policy.forward_icmp;
  e.policy.forward_udp = h.policy.forward_udp;
  e.policy.forward_other = h.policy.forward_other;
  e.policy.forward_tcp_fragments = h.policy.forward_tcp_fragments;
  return e;
}

void FastpathPort::upsert_host(const ProtectedHostConfig& host) {
  if (auto r = fastpath_.hosts().upsert(to_dataplane(host.address), to_dataplane(host)); !r.ok()) {
    throw std::runtime_error("writing host " + host.address.to_string() +
                             " into the XDP hosts map: " + r.error().message);
  }
}

void FastpathPort::erase_host(const IpAddress& address) {
  auto r = fastpath_.hosts().erase(to_dataplane(address));
  if (!r.ok() && r.error().code != ENOENT) {
    throw std::runtime_error("removing host " + address.to_string() +
                             " from the XDP hosts map: " + r.error().message);
  }
}

std::vector<IpAddress> FastpathPort::list_hosts() {
  auto r = fastpath_.hosts().list();
  if (!r.ok()) throw std::runtime_error("listing the XDP hosts map: " + r.error().message);
  std::vector<IpAddress> out;
  for (const auto& [address, entry] : *r) out.push_back(from_dataplane(address));
  return out;
}

void FastpathPort::write_settings(const DaemonConfig& config) {
  dataplane::Settings settings;
  settings.firewall_mac = firewall_mac_;
  settings.synack_rate_pps = config.limits.forwarded_synack_pps;
  if (auto r = fastpath_.settings().write(settings); !r.ok()) {
    throw std::runtime_error("writing the XDP program's settings: " + r.error().message);
  }
}

}  // namespace synwarden::daemon
