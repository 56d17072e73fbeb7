#include "control_dataplane.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "synwarden/bpf_cookie_keys.h"

namespace synwarden::daemon {

dataplane::HostEntry to_dataplane(const ProtectedHostConfig& h) {
  dataplane::HostEntry e;
  e.mac = h.mac;
  e.protect = h.mode == HostMode::kProtect;
  e.monitor = h.mode == HostMode::kMonitor;
  e.auto_mode = h.mode == HostMode::kAuto;
  e.policy.forward_icmp = h.policy.forward_icmp;
  e.policy.forward_udp = h.policy.forward_udp;
  e.policy.forward_other = h.policy.forward_other;
  e.policy.forward_tcp_fragments = h.policy.forward_tcp_fragments;
  return e;
}

void FastpathPort::upsert_host(const ProtectedHostConfig& host) {
  const IpAddress& address = host.address;
  dataplane::HostEntry entry = to_dataplane(host);
  if (host.mode == HostMode::kAuto) {
    entry.protect = auto_protected(host.address);
    if (auto r = fastpath_.host_syns().track(address); !r.ok()) {
      throw std::runtime_error("auto mode of host " + host.address.to_string() + ": " +
                               r.error().message);
    }
  } else if (auto r = fastpath_.host_syns().untrack(address); !r.ok()) {
    throw std::runtime_error(r.error().message);
  }
  if (auto r = fastpath_.hosts().upsert(address, entry); !r.ok()) {
    throw std::runtime_error("writing host " + host.address.to_string() +
                             " into the XDP hosts map: " + r.error().message);
  }
}

uint64_t FastpathPort::read_syn_count(const IpAddress& address) {
  auto r = fastpath_.host_syns().read(address);
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return *r;
}

void FastpathPort::set_auto_protect(const IpAddress& address, bool protect) {
  if (auto r = fastpath_.hosts().set_protection(address, protect); !r.ok()) {
    throw std::runtime_error("auto mode: switching host " + address.to_string() + " to " +
                             (protect ? "protect" : "pass") + ": " + r.error().message);
  }
}

bool FastpathPort::auto_protected(const IpAddress& address) {
  auto r = fastpath_.hosts().lookup(address);
  // Absent (a new host) or unreadable: pass, the auto mode's resting state.
  return r.ok() && r->has_value() && (*r)->auto_mode && (*r)->protect;
}

void FastpathPort::erase_host(const IpAddress& address) {
  (void)fastpath_.host_syns().untrack(address);  // absent is fine
  auto r = fastpath_.hosts().erase(address);
  if (!r.ok() && r.error().code != ENOENT) {
    throw std::runtime_error("removing host " + address.to_string() +
                             " from the XDP hosts map: " + r.error().message);
  }
}

std::vector<IpAddress> FastpathPort::list_hosts() {
  auto r = fastpath_.hosts().list();
  if (!r.ok()) throw std::runtime_error("listing the XDP hosts map: " + r.error().message);
  std::vector<IpAddress> out;
  for (const auto& [address, entry] : *r) out.push_back(address);
  return out;
}

void FastpathPort::write_settings(const DaemonConfig& config) {
  dataplane::Settings settings;
  settings.firewall_mac = firewall_mac_;
  settings.synack_rate_pps = config.limits.forwarded_synack_pps;
  settings.xdp_cookies = config.datapath == Datapath::kXdp;
  settings.flow_label_seed = flow_label_seed_;
  // The workers' budget is per queue (one worker each); XDP's is split over the CPUs, which
  // RSS maps queues to: per CPU the same number.
  const uint64_t cpus = fastpath_.stats().possible_cpus();
  settings.cookie_synack_rate_pps = config.limits.synack_pps_per_queue * cpus;
  settings.cookie_synack_burst = uint64_t{config.limits.batch_size} * cpus;
  if (auto r = fastpath_.settings().write(settings); !r.ok()) {
    throw std::runtime_error("writing the XDP program's settings: " + r.error().message);
  }
}

void FastpathPort::write_host_cookies(const Snapshot& snapshot) {
  std::vector<dataplane::HostCookieTable::Entry> entries;
  entries.reserve(snapshot.hosts().size());
  for (const HostEntry& h : snapshot.hosts()) {
    dataplane::HostCookieTable::Entry e;
    e.addr = h.address;
    e.value.flags = h.policy == FailPolicy::kOpen ? SW_HC_FAIL_OPEN : 0;
    if (h.socket_confirm) e.value.flags |= SW_HC_CONFIRM;
    e.value.counter_slot = h.counter_slot;  // kNoCounterSlot = SW_NO_COUNTER_SLOT: not counted
    if (h.keys) {
      e.value.flags |= SW_HC_HAS_KEYS;
      e.value.current = bpf_cookie_keys(h.keys->secrets, h.keys->clock);
      e.value.current.recovery_window_s = static_cast<uint16_t>(h.recovery_window_ms / 1000);
    }
    if (h.previous_keys) {
      e.value.flags |= SW_HC_HAS_PREVIOUS;
      e.value.previous = bpf_cookie_keys(h.previous_keys->secrets, h.previous_keys->clock);
      e.value.previous_until_ms = h.previous_until_ms;
    }
    e.ports = h.ports;
    entries.push_back(std::move(e));
  }
  auto& table = fastpath_.host_cookies();
  if (auto r = table.write(entries); !r.ok()) {
    throw std::runtime_error("writing the hosts' keys into the XDP cookie map: " + r.error().message);
  }
  auto listed = table.list();
  if (!listed.ok()) {
    throw std::runtime_error("listing the XDP cookie map: " + listed.error().message);
  }
  for (const auto& addr : *listed) {
    if (snapshot.find(addr.is_v4() ? IpFamily::kIpv4 : IpFamily::kIpv6, addr.bytes().data())) {
      continue;
    }
    if (auto r = table.erase(addr); !r.ok() && r.error().code != ENOENT) {
      throw std::runtime_error("removing " + addr.to_string() + " from the XDP cookie map: " +
                               r.error().message);
    }
  }
}

void FastpathPort::write_outbound_keys(const Snapshot& snapshot) {
  std::vector<std::pair<dataplane::IpAddress, sw_sip_key>> keys;
  for (const HostEntry& h : snapshot.hosts()) {
    if (!h.keys || !h.keys->secrets.outbound_key) continue;
    keys.emplace_back(h.address,
                      sw_sip_key{h.keys->secrets.outbound_key->k0, h.keys->secrets.outbound_key->k1});
  }
  if (auto r = fastpath_.outbound_keys().sync(keys); !r.ok()) {
    throw std::runtime_error("writing the hosts' outbound stamp keys: " + r.error().message);
  }
}

}  // namespace synwarden::daemon
