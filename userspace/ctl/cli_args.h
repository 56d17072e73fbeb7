// Argument parsing shared by synwardenctl commands: numbers (decimal or 0x-hex, never octal)
// and IP:PORT endpoints. Failures throw CLI::ValidationError naming the option.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "synwarden/ip_address.h"

namespace synwarden::ctl {

// Parses `text` as an unsigned integer no larger than `max`.
uint64_t parse_unsigned(const std::string& option, const std::string& text, uint64_t max);

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;  // host order
};

// "192.0.2.1:443" or "[2001:db8::1]:443".
Endpoint parse_endpoint(const std::string& option, const std::string& text);

// A host address that goes into an API URL path (/hosts/{ip}): exactly an IPv4 or IPv6
// address, or CLI::ValidationError. Without this check "198.51.100.10%00" or
// "198.51.100.10/protect" would be sent as path text and decoded by the daemon.
const std::string& check_host_address(const std::string& option, const std::string& text);

}  // namespace synwarden::ctl
