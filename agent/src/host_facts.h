// The host's own settings that shape its SYN-ACK, as the firewall must reproduce them: the TCP
// sysctls, the MSS it advertises per address family, and its window scale. Sysctls come from
// /proc/sys of the agent's network namespace (the root is a parameter so tests use a fake tree),
// the MTU from the interface itself (SIOCGIFMTU, which unlike /sys needs no matching mount).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "synwarden/secrets.h"

namespace synwarden::agent {

class FactsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HostFacts {
  TcpSysctls sysctls;
  uint8_t tcp_syncookies = 1;  // 0 makes the kernel ignore every cookie ACK
  uint32_t mtu = 1500;         // of the first configured interface
  uint16_t mss = 1460;         // advertised over IPv4
  uint16_t mss6 = 1440;        // advertised over IPv6
  uint8_t rcv_wscale = 7;
  bool rmem_max_assumed = false;  // rmem_max_hidden(): the default stood in for rmem_max
  friend bool operator==(const HostFacts&, const HostFacts&) = default;
};

// The window scale as the agent's log states it: "<N>", and where rmem_max_assumed why it
// may be wrong.
std::string wscale_text(const HostFacts& facts);

// ipv4_default_advmss() / ip6_default_advmss(): the route MSS of a device MTU.
uint16_t advertised_mss_v4(uint32_t mtu) noexcept;
uint16_t advertised_mss_v6(uint32_t mtu) noexcept;

// The MTU of `interface` in the agent's network namespace. Throws FactsError.
uint32_t interface_mtu(const std::string& interface);

// Reads everything: the TCP sysctls and window scale through synwarden/kmod_secrets.h (one
// reader for the agent and the VM tier), tcp_syncookies, the MTU. `interface` names the device
// whose MTU sets the MSS. Throws FactsError naming the file or interface that could not be read
// or parsed.
HostFacts read_host_facts(const std::string& interface, const std::string& proc_root = "/proc");

}  // namespace synwarden::agent
