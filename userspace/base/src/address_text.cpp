#include "synwarden/address_text.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cstdio>
#include <string>

namespace synwarden {
namespace {

// inet_pton reads a C string: the text is checked for NUL first and copied so the parser sees
// exactly the bytes given, and nothing else can hide behind a terminator.
template <size_t N>
std::optional<std::array<uint8_t, N>> pton(int family, std::string_view text) {
  if (text.empty() || contains_nul(text) || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);
  std::array<uint8_t, N> out{};
  if (inet_pton(family, copy.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::array<uint8_t, 4>> parse_ipv4_text(std::string_view text) {
  return pton<4>(AF_INET, text);
}

std::optional<std::array<uint8_t, 16>> parse_ipv6_text(std::string_view text) {
  return pton<16>(AF_INET6, text);
}

std::optional<MacAddress> parse_mac_text(std::string_view text) {
  // "aa:bb:cc:dd:ee:ff" is exactly 17 bytes; the length check also refuses trailing bytes.
  if (text.size() != 17) return std::nullopt;
  const char separator = text[2];
  if (separator != ':' && separator != '-') return std::nullopt;
  MacAddress mac{};
  for (size_t i = 0; i < mac.size(); ++i) {
    const int hi = hex_value(text[i * 3]);
    const int lo = hex_value(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != separator) return std::nullopt;
    mac[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5]);
  return text;
}

const char* interface_name_problem(std::string_view name) noexcept {
  if (name.empty()) return "is empty";
  if (name.size() >= IF_NAMESIZE) return "is longer than 15 bytes (IFNAMSIZ)";
  if (name == "." || name == "..") return "is \".\" or \"..\"";
  for (const char c : name) {
    if (c == '\0') return "contains a NUL byte";
    if (c == '/' || c == ':') return "contains '/' or ':'";
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return "contains whitespace or a control character";
  }
  return nullptr;
}

}  // namespace synwarden
