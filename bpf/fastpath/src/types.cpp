#include "synwarden/dataplane/types.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace synwarden::dataplane {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::uint8_t policy_bits(const HostPolicy& p) {
  unsigned bits = 0;
  if (p.forward_icmp) bits |= SW_POLICY_FWD_ICMP;
  if (p.forward_udp) bits |= SW_POLICY_FWD_UDP;
  if (p.forward_other) bits |= SW_POLICY_FWD_OTHER;
  if (p.forward_tcp_fragments) bits |= SW_POLICY_FWD_TCP_FRAGMENTS;
  return static_cast<std::uint8_t>(bits);
}

}  // namespace

std::optional<MacAddress> parse_mac(std::string_view text) {
  // "aa:bb:cc:dd:ee:ff" is exactly 17 characters.
  if (text.size() != 17) return std::nullopt;
  MacAddress mac{};
  for (std::size_t i = 0; i < mac.size(); ++i) {
    const int hi = hex_digit(text[i * 3]);
    const int lo = hex_digit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
    mac[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string to_string(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

IpAddress IpAddress::v4(const in_addr& addr) {
  IpAddress ip;
  ip.family_ = SW_FAMILY_IPV4;
  std::memcpy(ip.bytes_.data(), &addr, 4);
  return ip;
}

IpAddress IpAddress::v6(const in6_addr& addr) {
  IpAddress ip;
  ip.family_ = SW_FAMILY_IPV6;
  std::memcpy(ip.bytes_.data(), &addr, 16);
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton reads a C string: "198.51.100.10\0x" must not parse as 198.51.100.10. (The same
  // rule as synwarden_core's address_text.h, which this library does not link.)
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string s(text);
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) return v4(a4);
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) return v6(a6);
  return std::nullopt;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof(buf));
  return buf;
}

void IpAddress::copy_to(__u32 (&words)[4]) const noexcept {
  std::memcpy(words, bytes_.data(), sizeof(words));
}

IpAddress IpAddress::from_words(std::uint8_t family, const __u32 (&words)[4]) noexcept {
  IpAddress ip;
  ip.family_ = family;
  std::memcpy(ip.bytes_.data(), words, sizeof(words));
  return ip;
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
  remote.copy_to(raw.saddr);
  local.copy_to(raw.daddr);
  raw.sport = htons(remote_port);
  raw.dport = htons(local_port);
  // The fast path keys on the 12-bit VLAN id only (priority and DEI bits are not identity).
  raw.vlan_outer = static_cast<__u16>(vlan_outer & 0x0fff);
  raw.vlan_inner = static_cast<__u16>(vlan_inner & 0x0fff);
  raw.family = local.family_tag();
  return raw;
}

FlowKey FlowKey::from_raw(const sw_flow_key& raw) noexcept {
  FlowKey k;
  k.remote = IpAddress::from_words(raw.family, raw.saddr);
  k.local = IpAddress::from_words(raw.family, raw.daddr);
  k.remote_port = ntohs(raw.sport);
  k.local_port = ntohs(raw.dport);
  k.vlan_outer = raw.vlan_outer;
  k.vlan_inner = raw.vlan_inner;
  return k;
}

}  // namespace synwarden::dataplane
