// An IPv4 or IPv6 address: the one type for a host or source address in the daemon, the
// dataplane library, synwardenctl and the tests. Bytes are in network order; an IPv4 address
// uses the first 4 bytes and the other 12 are always zero, so == and <=> compare addresses
// (IPv4 sorts before IPv6). The text form is strict (address_text.h): the whole string is the
// address, with no NUL byte, whitespace, brackets, zone or prefix length.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synwarden {

class IpAddress {
 public:
  enum class Family : uint8_t { kIpv4, kIpv6 };

  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(const std::array<uint8_t, 4>& bytes) noexcept;
  static IpAddress v6(const std::array<uint8_t, 16>& bytes) noexcept;
  // The address of `family` whose network-order bytes start at `bytes` (4 or 16 are read).
  static IpAddress from_bytes(Family family, const void* bytes) noexcept;
  // "192.0.2.1" (dotted quad) or "2001:db8::1" (RFC 4291 text); nullopt if neither.
  static std::optional<IpAddress> parse(std::string_view text);

  [[nodiscard]] Family family() const noexcept { return family_; }
  [[nodiscard]] bool is_v4() const noexcept { return family_ == Family::kIpv4; }
  [[nodiscard]] bool is_v6() const noexcept { return family_ == Family::kIpv6; }
  // 4 or 16: how many of bytes() are the address.
  [[nodiscard]] size_t size() const noexcept { return is_v4() ? 4 : 16; }
  [[nodiscard]] const std::array<uint8_t, 16>& bytes() const noexcept { return bytes_; }
  [[nodiscard]] bool is_loopback() const noexcept;  // 127.0.0.0/8 or ::1
  // inet_ntop's form: "192.0.2.1", "2001:db8::1" (RFC 5952).
  [[nodiscard]] std::string to_string() const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::kIpv4;
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace synwarden
