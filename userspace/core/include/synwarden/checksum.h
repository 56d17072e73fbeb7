// Internet checksums (RFC 1071) for the packet codec: IPv4 header, TCP over the IPv4 and IPv6
// pseudo-headers, and incremental updates (RFC 1624) for rewrites that change a few fields.
//
// Conventions: every 16-bit checksum value in this API is HOST order, i.e. what load_be16()
// reads from the header's checksum field and what store_be16() must write there. Internally
// the sums run over native-endian 64-bit words (a one's-complement sum does not depend on byte
// order, RFC 1071 section 2(B)), so the hot path never swaps bytes except once at the end.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace synwarden {

// Running one's-complement sum with deferred carries, in native byte order. Chunks added in
// sequence must all have even length except the last one (the same rule as the kernel's
// csum_partial()). Code that writes a header may also build `sum` itself as a plain sum of
// fewer than 2^32 raw 32-bit words (load_raw32() values) — the carries are folded later — and
// so never read back what it just stored, which would stall on store-to-load forwarding.
struct ChecksumAccumulator {
  uint64_t sum = 0;
};

// Adds `len` bytes at `data` (any alignment).
ChecksumAccumulator checksum_add(ChecksumAccumulator acc, const uint8_t* data, size_t len) noexcept;

// Folds to 16 bits WITHOUT complementing (host order); 0xFFFF means a region that includes its
// own correct checksum field verifies.
inline uint16_t checksum_fold(ChecksumAccumulator acc) noexcept {
  // One's-complement addition of the two 32-bit halves, then of the 16-bit halves twice.
  const auto lo = static_cast<uint32_t>(acc.sum);
  const auto hi = static_cast<uint32_t>(acc.sum >> 32);
  uint32_t r = lo + hi;
  r += (r < lo) ? 1U : 0U;
  r = (r & 0xFFFFU) + (r >> 16);
  r = (r & 0xFFFFU) + (r >> 16);
  // The native fold holds the two bytes in memory order: read them as big-endian.
  const auto native = static_cast<uint16_t>(r);
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap16(native);
  return native;
}

// Folds and complements: the value to store in a checksum field (host order).
inline uint16_t checksum_finish(ChecksumAccumulator acc) noexcept {
  return static_cast<uint16_t>(~checksum_fold(acc));
}

// Pseudo-header sums (the kernel's csum_tcpudp_nofold / csum_ipv6_magic before folding).
// Addresses are the raw bytes of the header fields; `l4_len` is the transport header plus
// payload length.
ChecksumAccumulator pseudo_header_v4(const uint8_t saddr[4], const uint8_t daddr[4],
                                     uint8_t protocol, uint16_t l4_len) noexcept;
ChecksumAccumulator pseudo_header_v6(const uint8_t saddr[16], const uint8_t daddr[16],
                                     uint8_t next_header, uint32_t l4_len) noexcept;

// Checksum of an IPv4 header of `header_len` bytes whose checksum field is ignored (treated as
// zero), host order — what ip_send_check() would store.
uint16_t ipv4_header_checksum(const uint8_t* iph, size_t header_len) noexcept;

// TCP checksum of `tcp_len` bytes at `tcp` (header + payload) whose checksum field is ignored,
// with the pseudo-header built from the given raw addresses. Host order.
uint16_t tcp_checksum_v4(const uint8_t saddr[4], const uint8_t daddr[4], const uint8_t* tcp,
                         size_t tcp_len) noexcept;
uint16_t tcp_checksum_v6(const uint8_t saddr[16], const uint8_t daddr[16], const uint8_t* tcp,
                         size_t tcp_len) noexcept;

// Verification of regions that include their checksum field.
bool ipv4_header_checksum_ok(const uint8_t* iph, size_t header_len) noexcept;
bool tcp_checksum_ok_v4(const uint8_t saddr[4], const uint8_t daddr[4], const uint8_t* tcp,
                        size_t tcp_len) noexcept;
bool tcp_checksum_ok_v6(const uint8_t saddr[16], const uint8_t daddr[16], const uint8_t* tcp,
                        size_t tcp_len) noexcept;

// Incremental updates, RFC 1624 equation 3: HC' = ~(~HC + ~m + m'). All values host order.
// Use when a rewrite changes a few 16-bit-aligned fields of a covered region (NAT-style address
// or port changes, MSS clamping) so the rest need not be summed again.
uint16_t checksum_update16(uint16_t check, uint16_t old_value, uint16_t new_value) noexcept;
uint16_t checksum_update32(uint16_t check, uint32_t old_value, uint32_t new_value) noexcept;
// Replaces `len` bytes (even, 16-bit aligned within the covered region) old -> new.
uint16_t checksum_update_bytes(uint16_t check, const uint8_t* old_bytes, const uint8_t* new_bytes,
                               size_t len) noexcept;

}  // namespace synwarden
