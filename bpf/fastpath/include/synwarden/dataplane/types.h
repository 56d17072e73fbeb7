// Value types of the dataplane API: host entries, flow keys and the key fields of addresses. They
// convert to and from the kernel/user structs of bpf/synwarden_shared.h, which callers never need
// to touch. Addresses, MACs and fds are synwarden_base's types (ip_address.h, mac_address.h,
// unique_fd.h).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "synwarden/ip_address.h"
#include "synwarden/mac_address.h"
#include "synwarden/unique_fd.h"
#include "synwarden_shared.h"

namespace synwarden::dataplane {

// The shared vocabulary (synwarden_base), named here too so the dataplane's API reads alone.
using synwarden::IpAddress;
using synwarden::MacAddress;
using synwarden::UniqueFd;

// The address fields of the kernel/user key structs (sw_host_key, sw_flow_key, the list keys):
// SW_FAMILY_IPV4/SW_FAMILY_IPV6 and four network-order words (IPv4: the first, the rest zero).
[[nodiscard]] std::uint8_t sw_family_of(const IpAddress& addr) noexcept;
void copy_words(const IpAddress& addr, __u32 (&words)[4]) noexcept;
[[nodiscard]] IpAddress address_of_words(std::uint32_t sw_family, const __u32 (&words)[4]) noexcept;

// What protection-on does with non-handshake traffic for a host (pass mode forwards all): the
// sw_host.policy bits. The operator writes them as part of daemon::HostPolicy (config.h), which
// adds what only user space applies (fail policy, timestamp recovery).
struct HostPolicy {
  bool forward_icmp = true;
  bool forward_udp = true;
  bool forward_other = false;          // other IP protocols
  bool forward_tcp_fragments = false;  // fragmented TCP is an evasion technique

  friend bool operator==(const HostPolicy&, const HostPolicy&) = default;
};

// A protected address's value in the XDP hosts map (sw_hosts: struct sw_host), typed: what the
// XDP program reads for every frame. Not the workers' view of a host (daemon::HostEntry,
// snapshot.h: keys, clock, ports, fail policy), which never reaches this map.
struct HostEntry {
  MacAddress mac{};      // protected host's MAC, destination of forwarded frames
  bool protect = false;  // true: SYN cookies by the workers; false: pass mode (learning)
  bool monitor = false;  // with protect false: judge as protection would, count, forward
  bool auto_mode = false;  // SYNs counted (HostSynTable), pass-mode SYNs remembered
  HostPolicy policy{};

  friend bool operator==(const HostEntry&, const HostEntry&) = default;

  [[nodiscard]] sw_host to_raw() const noexcept;
  static HostEntry from_raw(const sw_host& raw) noexcept;
};

enum class FlowOrigin : std::uint32_t {
  learned = SW_FLOW_LEARNED,  // forwarded ACK in pass mode
  synack = SW_FLOW_SYNACK,    // SYN-ACK for the host's own outbound connection
  cookie = SW_FLOW_COOKIE,    // worker validated a cookie ACK
  admin = SW_FLOW_ADMIN,      // operator or test
  confirmed = SW_FLOW_CONFIRMED,  // the host's agent confirmed the socket (flow recovery)
};

// A flow as the fast path keys it: always in the inbound direction, remote peer -> protected
// host, as seen in the frame (ports in host order here; VLAN ids 0 when untagged).
struct FlowKey {
  IpAddress remote;
  IpAddress local;  // the protected address
  std::uint16_t remote_port = 0;
  std::uint16_t local_port = 0;
  std::uint16_t vlan_outer = 0;
  std::uint16_t vlan_inner = 0;

  friend bool operator==(const FlowKey&, const FlowKey&) = default;

  [[nodiscard]] sw_flow_key to_raw() const noexcept;
  static FlowKey from_raw(const sw_flow_key& raw) noexcept;
};

struct FlowInfo {
  std::uint64_t created_ns = 0;  // CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns)
  FlowOrigin origin = FlowOrigin::admin;
};

}  // namespace synwarden::dataplane
