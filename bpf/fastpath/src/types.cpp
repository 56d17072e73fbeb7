#include "synwarden/dataplane/types.h"

#include <arpa/inet.h>

#include <cstring>

namespace synwarden::dataplane {

namespace {

std::uint8_t policy_bits(const HostPolicy& p) {
  unsigned bits = 0;
  if (p.forward_icmp) bits |= SW_POLICY_FWD_ICMP;
  if (p.forward_udp) bits |= SW_POLICY_FWD_UDP;
  if (p.forward_other) bits |= SW_POLICY_FWD_OTHER;
  if (p.forward_tcp_fragments) bits |= SW_POLICY_FWD_TCP_FRAGMENTS;
  return static_cast<std::uint8_t>(bits);
}

}  // namespace

std::uint8_t sw_family_of(const IpAddress& addr) noexcept {
  return addr.is_v4() ? SW_FAMILY_IPV4 : SW_FAMILY_IPV6;
}

void copy_words(const IpAddress& addr, __u32 (&words)[4]) noexcept {
  std::memcpy(words, addr.bytes().data(), sizeof(words));
}

IpAddress address_of_words(std::uint32_t sw_family, const __u32 (&words)[4]) noexcept {
  return IpAddress::from_bytes(
      sw_family == SW_FAMILY_IPV6 ? IpAddress::Family::kIpv6 : IpAddress::Family::kIpv4, words);
}

sw_host HostEntry::to_raw() const noexcept {
  sw_host raw{};
  std::memcpy(raw.mac, mac.data(), mac.size());
  raw.flags = static_cast<__u8>((protect ? SW_HOST_PROTECT : 0) |
                                 (monitor ? SW_HOST_MONITOR : 0) | (auto_mode ? SW_HOST_AUTO : 0));
  raw.policy = policy_bits(policy);
  return raw;
}

HostEntry HostEntry::from_raw(const sw_host& raw) noexcept {
  HostEntry e;
  std::memcpy(e.mac.data(), raw.mac, e.mac.size());
  e.protect = (raw.flags & SW_HOST_PROTECT) != 0;
  e.monitor = (raw.flags & SW_HOST_MONITOR) != 0;
  e.auto_mode = (raw.flags & SW_HOST_AUTO) != 0;
  e.policy.forward_icmp = (raw.policy & SW_POLICY_FWD_ICMP) != 0;
  e.policy.forward_udp = (raw.policy & SW_POLICY_FWD_UDP) != 0;
  e.policy.forward_other = (raw.policy & SW_POLICY_FWD_OTHER) != 0;
  e.policy.forward_tcp_fragments = (raw.policy & SW_POLICY_FWD_TCP_FRAGMENTS) != 0;
  return e;
}

sw_flow_key FlowKey::to_raw() const noexcept {
  sw_flow_key raw{};  // zeroes pad: keys are hashed bytewise
  copy_words(remote, raw.saddr);
  copy_words(local, raw.daddr);
  raw.sport = htons(remote_port);
  raw.dport = htons(local_port);
  // The fast path keys on the 12-bit VLAN id only (priority and DEI bits are not identity).
  raw.vlan_outer = static_cast<__u16>(vlan_outer & 0x0fff);
  raw.vlan_inner = static_cast<__u16>(vlan_inner & 0x0fff);
  raw.family = sw_family_of(local);
  return raw;
}

FlowKey FlowKey::from_raw(const sw_flow_key& raw) noexcept {
  FlowKey k;
  k.remote = address_of_words(raw.family, raw.saddr);
  k.local = address_of_words(raw.family, raw.daddr);
  k.remote_port = ntohs(raw.sport);
  k.local_port = ntohs(raw.dport);
  k.vlan_outer = raw.vlan_outer;
  k.vlan_inner = raw.vlan_inner;
  return k;
}

}  // namespace synwarden::dataplane
