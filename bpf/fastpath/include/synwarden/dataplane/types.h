// Value types of the dataplane API: addresses, host entries, flow keys. They convert to and from
// the kernel/user structs of bpf/synwarden_shared.h, which callers never need to touch.
#pragma once

#include <netinet/in.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "synwarden_shared.h"

namespace synwarden::dataplane {

using MacAddress = std::array<std::uint8_t, 6>;

// "02:00:00:00:00:01" -> bytes; nullopt unless exactly six hex pairs separated by ':'.
[[nodiscard]] std::optional<MacAddress> parse_mac(std::string_view text);
[[nodiscard]] std::string to_string(const MacAddress& mac);

// An IPv4 or IPv6 address in network byte order.
class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(const in_addr& addr);
  static IpAddress v6(const in6_addr& addr);
  // Dotted quad or RFC 5952 text; nullopt if neither.
  static std::optional<IpAddress> parse(std::string_view text);

  [[nodiscard]] bool is_v4() const noexcept { return family_ == SW_FAMILY_IPV4; }
  [[nodiscard]] bool is_v6() const noexcept { return family_ == SW_FAMILY_IPV6; }
  // IPv4 uses the first 4 bytes, the rest are zero.
  [[nodiscard]] const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::string to_string() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

  // Key-struct conversions (sw_host_key / sw_flow_key address fields).
  [[nodiscard]] std::uint8_t family_tag() const noexcept { return family_; }
  void copy_to(__u32 (&words)[4]) const noexcept;
  static IpAddress from_words(std::uint8_t family, const __u32 (&words)[4]) noexcept;

 private:
  std::uint8_t family_ = SW_FAMILY_IPV4;
  std::array<std::uint8_t, 16> bytes_{};
};

// What protection-on does with non-handshake traffic for a host (pass mode forwards all).
struct HostPolicy {
  bool forward_icmp = true;
  bool forward_udp = true;
  bool forward_other = false;          // other IP protocols
  bool forward_tcp_fragments = false;  // fragmented TCP is an evasion technique

  friend bool operator==(const HostPolicy&, const HostPolicy&) = default;
};

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
