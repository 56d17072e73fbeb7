// Strict text forms of addresses and names that the operator writes (config files, the API's
// URL paths and bodies, command-line arguments). One parser per concept, shared by the daemon,
// the dataplane library, the agent and synwardenctl, so every caller refuses the same inputs
// (IpAddress::parse() is built on the two address parsers here):
//   - the whole text must be the value: no trailing bytes, no embedded NUL. (inet_pton() and
//     if_nametoindex() read C strings, so "198.51.100.10\0x" would otherwise be taken as
//     198.51.100.10 and "eth0\0junk" as eth0.)
//   - no surrounding whitespace, no sign characters, no leading "0x".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "synwarden/mac_address.h"

namespace synwarden {

// True if `text` holds a NUL byte anywhere.
constexpr bool contains_nul(std::string_view text) noexcept {
  return text.find('\0') != std::string_view::npos;
}

// Dotted quad ("192.0.2.1"; four decimal parts, no leading zeros beyond "0"), network order.
std::optional<std::array<uint8_t, 4>> parse_ipv4_text(std::string_view text);
// RFC 4291 text ("2001:db8::1", "::ffff:192.0.2.1"; no zone "%eth0", no brackets), network order.
std::optional<std::array<uint8_t, 16>> parse_ipv6_text(std::string_view text);
// "02:00:5e:00:53:01" or "02-00-5e-00-53-01": exactly six pairs of hex digits (either case) and
// one separator throughout; nothing else ("2:0:5e:0:53:1", "0200.5e00.5301", a trailing ':'
// or mixed separators are refused). The '-' form is accepted because operators copy MACs from
// tools that print it; format_mac() always writes ':'.
std::optional<MacAddress> parse_mac_text(std::string_view text);

// Why `name` cannot be a Linux network interface name (nullptr if it can): the kernel's
// dev_valid_name() rules — 1 to 15 bytes, not "." or "..", no '/', ':', whitespace or NUL —
// plus no other control characters.
const char* interface_name_problem(std::string_view name) noexcept;

}  // namespace synwarden
