// Internet checksum arithmetic. The sum runs over native-endian 64-bit words with an end-around
// carry, like the kernel's x86-64 csum_partial(): a one's-complement sum of 16-bit words can be
// computed in any word width whose modulus (2^64 - 1) is a multiple of 2^16 - 1, and in either
// byte order as long as the result is folded and stored in the same order (RFC 1071 2(B)).
#include "synwarden/checksum.h"

#include <cstring>

#include "synwarden/packet_bytes.h"

namespace synwarden {
namespace {

// a + b modulo 2^64 - 1 (one's-complement addition). After an overflow the wrapped sum is at
// most 2^64 - 2, so adding the carry back cannot overflow again.
inline uint64_t add_end_around(uint64_t a, uint64_t b) noexcept {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) ++r;
  return r;
}

// Host-order 16-bit one's-complement fold of a 32-bit sum of host-order words.
inline uint16_t fold_host32(uint32_t s) noexcept {
  s = (s & 0xFFFFU) + (s >> 16);
  s = (s & 0xFFFFU) + (s >> 16);
  return static_cast<uint16_t>(s);
}

}  // namespace

ChecksumAccumulator checksum_add(ChecksumAccumulator acc, const uint8_t* data, size_t len) noexcept {
  uint64_t s = acc.sum;
  // Two independent carry chains per 32-byte block keep the adder busy while loads retire.
  uint64_t t = 0;
  while (len >= 32) {
    s = add_end_around(s, load_raw64(data));
    t = add_end_around(t, load_raw64(data + 8));
    s = add_end_around(s, load_raw64(data + 16));
    t = add_end_around(t, load_raw64(data + 24));
    data += 32;
    len -= 32;
  }
  s = add_end_around(s, t);
  while (len >= 8) {
    s = add_end_around(s, load_raw64(data));
    data += 8;
    len -= 8;
  }
  if (len >= 4) {
    s = add_end_around(s, load_raw32(data));
    data += 4;
    len -= 4;
  }
  if (len >= 2) {
    s = add_end_around(s, load_raw16(data));
    data += 2;
    len -= 2;
  }
  if (len != 0) {
    // An odd final byte is the high-order byte of a word padded with zero (RFC 1071).
    const uint8_t tail[2] = {data[0], 0};
    s = add_end_around(s, load_raw16(tail));
  }
  return ChecksumAccumulator{s};
}

ChecksumAccumulator pseudo_header_v4(const uint8_t saddr[4], const uint8_t daddr[4],
                                     uint8_t protocol, uint16_t l4_len) noexcept {
  // Words of the pseudo-header: saddr, daddr, {0, protocol, length} (RFC 793 section 3.1).
  uint64_t s = load_raw32(saddr);
  s += load_raw32(daddr);
  s += to_be32((static_cast<uint32_t>(protocol) << 16) | l4_len);
  return ChecksumAccumulator{s};  // three 32-bit terms cannot overflow 64 bits
}

ChecksumAccumulator pseudo_header_v6(const uint8_t saddr[16], const uint8_t daddr[16],
                                     uint8_t next_header, uint32_t l4_len) noexcept {
  // RFC 8200 section 8.1: saddr, daddr, 32-bit upper-layer length, 24 zero bits, next header.
  ChecksumAccumulator acc = checksum_add(ChecksumAccumulator{}, saddr, 16);
  acc = checksum_add(acc, daddr, 16);
  acc.sum = add_end_around(acc.sum, to_be32(l4_len));
  acc.sum = add_end_around(acc.sum, to_be32(next_header));
  return acc;
}

uint16_t ipv4_header_checksum(const uint8_t* iph, size_t header_len) noexcept {
  // Sum with the checksum field (bytes 10-11) excluded, which is the same as summing it as 0.
  ChecksumAccumulator acc = checksum_add(ChecksumAccumulator{}, iph, 10);
  acc = checksum_add(acc, iph + 12, header_len - 12);
  return checksum_finish(acc);
}

bool ipv4_header_checksum_ok(const uint8_t* iph, size_t header_len) noexcept {
  return checksum_fold(checksum_add(ChecksumAccumulator{}, iph, header_len)) == 0xFFFF;
}

namespace {
// TCP checksum field is at offset 16 of the header.
uint16_t tcp_checksum_with(ChecksumAccumulator acc, const uint8_t* tcp, size_t tcp_len) noexcept {
  acc = checksum_add(acc, tcp, 16);
  acc = checksum_add(acc, tcp + 18, tcp_len - 18);
  return checksum_finish(acc);
}
}  // namespace

uint16_t tcp_checksum_v4(const uint8_t saddr[4], const uint8_t daddr[4], const uint8_t* tcp,
                         size_t tcp_len) noexcept {
  return tcp_checksum_with(
      pseudo_header_v4(saddr, daddr, 6, static_cast<uint16_t>(tcp_len)), tcp, tcp_len);
}

uint16_t tcp_checksum_v6(const uint8_t saddr[16], const uint8_t daddr[16], const uint8_t* tcp,
                         size_t tcp_len) noexcept {
  return tcp_checksum_with(
      pseudo_header_v6(saddr, daddr, 6, static_cast<uint32_t>(tcp_len)), tcp, tcp_len);
}

bool tcp_checksum_ok_v4(const uint8_t saddr[4], const uint8_t daddr[4], const uint8_t* tcp,
                        size_t tcp_len) noexcept {
  const ChecksumAccumulator acc =
      pseudo_header_v4(saddr, daddr, 6, static_cast<uint16_t>(tcp_len));
  return checksum_fold(checksum_add(acc, tcp, tcp_len)) == 0xFFFF;
}

bool tcp_checksum_ok_v6(const uint8_t saddr[16], const uint8_t daddr[16], const uint8_t* tcp,
                        size_t tcp_len) noexcept {
  const ChecksumAccumulator acc =
      pseudo_header_v6(saddr, daddr, 6, static_cast<uint32_t>(tcp_len));
  return checksum_fold(checksum_add(acc, tcp, tcp_len)) == 0xFFFF;
}

uint16_t checksum_update16(uint16_t check, uint16_t old_value, uint16_t new_value) noexcept {
  const uint32_t s = static_cast<uint32_t>(static_cast<uint16_t>(~check)) +
                     static_cast<uint16_t>(~old_value) + new_value;
  return static_cast<uint16_t>(~fold_host32(s));
}

uint16_t checksum_update32(uint16_t check, uint32_t old_value, uint32_t new_value) noexcept {
  const uint32_t s = static_cast<uint32_t>(static_cast<uint16_t>(~check)) +
                     static_cast<uint16_t>(~(old_value >> 16)) +
                     static_cast<uint16_t>(~old_value) + (new_value >> 16) +
                     (new_value & 0xFFFFU);
  return static_cast<uint16_t>(~fold_host32(s));
}

uint16_t checksum_update_bytes(uint16_t check, const uint8_t* old_bytes, const uint8_t* new_bytes,
                               size_t len) noexcept {
  uint32_t s = static_cast<uint16_t>(~check);
  for (size_t i = 0; i + 1 < len; i += 2) {
    s += static_cast<uint16_t>(~load_be16(old_bytes + i));
    s += load_be16(new_bytes + i);
    s = (s & 0xFFFFU) + (s >> 16);  // keep headroom for any length
  }
  return static_cast<uint16_t>(~fold_host32(s));
}

}  // namespace synwarden
