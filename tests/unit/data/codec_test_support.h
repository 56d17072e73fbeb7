// Shared by the codec unit tests: an independent, deliberately naive RFC 1071 checksum (16-bit
// big-endian words summed byte by byte, no tricks) that the fast implementation is judged
// against, and small frame helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace codec_test {

// Sum of big-endian 16-bit words, an odd last byte padded with zero, folded, not complemented.
inline uint16_t naive_fold(const std::vector<uint8_t>& bytes) {
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    const uint32_t hi = bytes[i];
    const uint32_t lo = i + 1 < bytes.size() ? bytes[i + 1] : 0;
    sum += (hi << 8) | lo;
  }
  while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

inline uint16_t naive_checksum(const std::vector<uint8_t>& bytes) {
  return static_cast<uint16_t>(~naive_fold(bytes));
}

inline std::vector<uint8_t> slice(const uint8_t* p, size_t n) { return {p, p + n}; }

// Pseudo-header + segment with its checksum field (offset 16) zeroed, as RFC 793/8200 define.
inline std::vector<uint8_t> tcp_checksum_input(const uint8_t* saddr, const uint8_t* daddr,
                                               size_t addr_len, const uint8_t* tcp,
                                               size_t tcp_len) {
  std::vector<uint8_t> v(saddr, saddr + addr_len);
  v.insert(v.end(), daddr, daddr + addr_len);
  if (addr_len == 4) {
    v.insert(v.end(), {0, 6, static_cast<uint8_t>(tcp_len >> 8), static_cast<uint8_t>(tcp_len)});
  } else {
    v.insert(v.end(), {static_cast<uint8_t>(tcp_len >> 24), static_cast<uint8_t>(tcp_len >> 16),
                       static_cast<uint8_t>(tcp_len >> 8), static_cast<uint8_t>(tcp_len), 0, 0,
                       0, 6});
  }
  const size_t at = v.size();
  v.insert(v.end(), tcp, tcp + tcp_len);
  v[at + 16] = 0;
  v[at + 17] = 0;
  return v;
}

inline uint16_t be16_at(const std::vector<uint8_t>& f, size_t off) {
  return static_cast<uint16_t>((f[off] << 8) | f[off + 1]);
}
inline uint32_t be32_at(const std::vector<uint8_t>& f, size_t off) {
  return (static_cast<uint32_t>(f[off]) << 24) | (static_cast<uint32_t>(f[off + 1]) << 16) |
         (static_cast<uint32_t>(f[off + 2]) << 8) | f[off + 3];
}
inline void put16_at(std::vector<uint8_t>& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

}  // namespace codec_test
