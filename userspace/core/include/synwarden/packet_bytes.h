// Unaligned big-endian loads and stores for packet headers. Frames in an AF_XDP UMEM carry no
// alignment promise beyond 2 bytes (and VLAN tags shift every L3 field by 4), so every access
// goes through memcpy, which compiles to a plain (possibly unaligned) load plus a bswap.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace synwarden {

inline uint16_t byteswap16(uint16_t v) noexcept { return __builtin_bswap16(v); }
inline uint32_t byteswap32(uint32_t v) noexcept { return __builtin_bswap32(v); }

// Host <-> network order for values held in registers.
inline uint16_t to_be16(uint16_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) return byteswap16(v);
  return v;
}
inline uint32_t to_be32(uint32_t v) noexcept {
  if constexpr (std::endian::native == std::endian::little) return byteswap32(v);
  return v;
}
inline uint16_t from_be16(uint16_t v) noexcept { return to_be16(v); }
inline uint32_t from_be32(uint32_t v) noexcept { return to_be32(v); }

// Raw loads: the bytes as they lie in memory, no byte swap ("network order" values, the form
// the kernel passes to its hashes with (__force u32)).
inline uint16_t load_raw16(const uint8_t* p) noexcept {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t load_raw32(const uint8_t* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t load_raw64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_raw16(uint8_t* p, uint16_t v) noexcept { std::memcpy(p, &v, sizeof v); }
inline void store_raw32(uint8_t* p, uint32_t v) noexcept { std::memcpy(p, &v, sizeof v); }

// Big-endian loads/stores: host-order values.
inline uint16_t load_be16(const uint8_t* p) noexcept { return from_be16(load_raw16(p)); }
inline uint32_t load_be32(const uint8_t* p) noexcept { return from_be32(load_raw32(p)); }
inline void store_be16(uint8_t* p, uint16_t v) noexcept { store_raw16(p, to_be16(v)); }
inline void store_be32(uint8_t* p, uint32_t v) noexcept { store_raw32(p, to_be32(v)); }

}  // namespace synwarden
