#include "synwarden/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "synwarden/address_text.h"

namespace synwarden {

IpAddress IpAddress::v4(const std::array<uint8_t, 4>& bytes) noexcept {
  return from_bytes(Family::kIpv4, bytes.data());
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) noexcept {
  return from_bytes(Family::kIpv6, bytes.data());
}

IpAddress IpAddress::from_bytes(Family family, const void* bytes) noexcept {
  IpAddress ip;
  ip.family_ = family;
  std::memcpy(ip.bytes_.data(), bytes, ip.size());
  return ip;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (const auto v4_bytes = parse_ipv4_text(text)) return v4(*v4_bytes);
  if (const auto v6_bytes = parse_ipv6_text(text)) return v6(*v6_bytes);
  return std::nullopt;
}

bool IpAddress::is_loopback() const noexcept {
  if (is_v4()) return bytes_[0] == 127;
  static constexpr std::array<uint8_t, 16> kLoopback6 = {0, 0, 0, 0, 0, 0, 0, 0,
                                                         0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kLoopback6;
}

std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), text, sizeof text) == nullptr) {
    return "?";
  }
  return text;
}

}  // namespace synwarden
