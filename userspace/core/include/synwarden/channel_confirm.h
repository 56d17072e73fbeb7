// Socket confirmation over the secret channel: the firewall asks a protected host's agent
// "which of these 4-tuples are established TCP sockets on your host?" for flows it has just
// dropped as unknown (no timestamp to recover them from, docs/flow-recovery.md), and learns the
// confirmed ones. Same framing, key, AEAD, replay window and rate limit as the secrets request
// (channel.h); only the type and the plaintext differ:
//
//   confirm request plaintext: sent_unix_ms u64 | count u16 | reserved u16 = 0 | count × tuple
//     tuple (40 bytes): family u8 (4 or 6) | reserved u8 = 0 | reserved u16 = 0 |
//                       client_port u16 | host_port u16 | client addr (16) | host addr (16)
//     (IPv4 addresses in the first 4 bytes of their field, the other 12 bytes zero; all
//      integers big-endian)
//   confirm reply payload (after the echoed request nonce): count u16 | bitmap, one bit per
//     tuple in request order (bit i = byte i/8, mask 0x80 >> i%8), set = established
//
// The reply is always smaller than its request, so even a replayed-at-scale request could not
// make the agent an amplifier; the agent answers nothing it cannot authenticate anyway.
//
// Pure functions: no sockets, no clocks, no logging.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "synwarden/channel.h"

namespace synwarden {

// At most this many 4-tuples per request: 64 × 40 bytes keeps a request well inside one
// datagram (kChannelMaxMessageBytes) and bounds the agent's work per answered request to 64
// exact socket-table lookups.
inline constexpr size_t kConfirmMaxTuples = 64;
inline constexpr size_t kConfirmTupleBytes = 40;
inline constexpr size_t kConfirmRequestHeadBytes = 12;   // sent_unix_ms, count, reserved
inline constexpr size_t kConfirmRequestMaxBytes =
    kChannelHeaderBytes + kChannelNonceBytes + kConfirmRequestHeadBytes +
    kConfirmMaxTuples * kConfirmTupleBytes + kChannelTagBytes;
static_assert(kConfirmRequestMaxBytes <= kChannelMaxMessageBytes);

// One TCP 4-tuple as the firewall saw it: the client (the peer outside) and the protected host.
// Ports in host byte order; addresses as their network bytes.
struct ConfirmTuple {
  uint8_t family = 4;   // 4 or 6
  std::array<uint8_t, 16> client_addr{};
  std::array<uint8_t, 16> host_addr{};
  uint16_t client_port = 0;
  uint16_t host_port = 0;

  bool operator==(const ConfirmTuple&) const = default;
};

struct ConfirmRequest {
  ChannelRequest header;              // nonce and send time, for the replay window
  std::vector<ConfirmTuple> tuples;   // 1..kConfirmMaxTuples
};

// Firewall side: seals a request for `tuples` (1..kConfirmMaxTuples) into `out` and stores its
// fresh nonce in `nonce`. Returns the datagram length, or 0 when the tuple count is out of range
// or a tuple has a family other than 4 or 6.
size_t seal_confirm_request(const ChannelKey& key, uint64_t sent_unix_ms,
                            std::span<const ConfirmTuple> tuples, ChannelNonce& nonce,
                            std::span<uint8_t, kChannelMaxMessageBytes> out) noexcept;

// Agent side: framing, key, tag, then the plaintext's shape: a count of 0 or above
// kConfirmMaxTuples, a length that does not match the count, a non-zero reserved field, an
// unknown family or an IPv4 tuple with bytes beyond its 4-byte address are all kMalformed.
// Replay and staleness are the caller's (ChannelReplayWindow, fed `out.header`).
ChannelResult open_confirm_request(const ChannelKey& key, std::span<const uint8_t> datagram,
                                   ConfirmRequest& out);

// Agent side: the reply payload for `confirmed` (one flag per requested tuple, in order).
std::vector<uint8_t> encode_confirm_answer(std::span<const bool> confirmed);

// Firewall side: opens a kConfirmReply that must echo `expected_nonce` and answer exactly
// `expected_count` tuples. On kOk `confirmed` holds one flag per tuple; otherwise it is empty.
// A reply whose count differs from the request's, or whose unused bitmap bits are set, is
// kMalformed.
ChannelResult open_confirm_reply(const ChannelKey& key, std::span<const uint8_t> datagram,
                                 const ChannelNonce& expected_nonce, size_t expected_count,
                                 std::vector<bool>& confirmed);

}  // namespace synwarden
