#include "cli_args.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>

#include "synwarden/ip_address.h"

namespace synwarden::ctl {

uint64_t parse_unsigned(const std::string& option, const std::string& text, uint64_t max) {
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const char* first = text.data() + (hex ? 2 : 0);
  const char* last = text.data() + text.size();
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(first, last, value, hex ? 16 : 10);
  if (text.empty() || ec != std::errc{} || end != last || value > max) {
    throw CLI::ValidationError(option, "expected an integer 0.." + std::to_string(max) +
                                           " (decimal or 0x-hex), got \"" + text + "\"");
  }
  return value;
}

Endpoint parse_endpoint(const std::string& option, const std::string& text) {
  Endpoint ep;
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw CLI::ValidationError(option, "expected [IPv6]:PORT, got \"" + text + "\"");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      throw CLI::ValidationError(
          option, "expected IPv4:PORT or [IPv6]:PORT, got \"" + text + "\"");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const bool ipv6 = text.front() == '[';
  const auto address = IpAddress::parse(host);
  if (!address || address->is_v6() != ipv6) {
    throw CLI::ValidationError(option, "\"" + host + "\" is not an IPv" +
                                           (ipv6 ? "6" : "4") + " address");
  }
  ep.address = *address;
  ep.port = static_cast<uint16_t>(parse_unsigned(option + " port", port, 65535));
  return ep;
}

const std::string& check_host_address(const std::string& option, const std::string& text) {
  if (!IpAddress::parse(text)) {
    throw CLI::ValidationError(option, "expected an IPv4 or IPv6 address such as 192.0.2.10 or "
                                       "2001:db8::10, got \"" + text + "\"");
  }
  return text;
}

}  // namespace synwarden::ctl
