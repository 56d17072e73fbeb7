// Secret channel wire protocol: how the firewall asks a protected host's agent for its cookie
// secrets and clocks, and how the agent answers, sealed with a per-host pre-shared key.
//
// Every datagram is  header (20 bytes, cleartext, authenticated as AEAD associated data)
//                  | nonce (24 bytes, random per message)
//                  | ciphertext + Poly1305 tag (16 bytes)      (XChaCha20-Poly1305-IETF)
//
//   header: magic "SWSC" | version u8 | type u8 | reserved u16 = 0 | key id (8 bytes) |
//           body length u32 (big-endian; bytes after the header: nonce + ciphertext + tag)
//
//   request plaintext (firewall -> agent): sent_unix_ms u64 big-endian
//   reply plaintext   (agent -> firewall): request nonce (24 bytes) | payload
//
// Why each piece:
// - The request is sealed too: the agent must never answer a forged request, because a UDP
//   reply larger than its request is a reflection amplifier for spoofed sources.
// - The request's nonce is echoed inside the sealed reply, so a captured reply cannot be
//   replayed to a later request; the request's send time and the agent's replay window make a
//   captured request useless too.
// - The key id (keyed BLAKE2b of a fixed context string, reveals nothing about the key) lets
//   both sides tell "configured with another key" from "tampered in transit" in counters.
// - Explicit version and length: a peer of another protocol version is counted as such instead
//   of failing authentication, and a datagram cut or padded in transit is told apart from a
//   forged one before any crypto runs.
//
// Pure functions: no sockets, no clocks, no logging. Results are counted by the caller through
// ChannelCounters; no function here ever prints key or plaintext material.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "synwarden/channel_key.h"

namespace synwarden {

inline constexpr std::array<uint8_t, 4> kChannelMagic = {'S', 'W', 'S', 'C'};
inline constexpr uint8_t kChannelVersion = 1;
inline constexpr size_t kChannelHeaderBytes = 20;
inline constexpr size_t kChannelNonceBytes = 24;   // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
inline constexpr size_t kChannelTagBytes = 16;     // crypto_aead_xchacha20poly1305_ietf_ABYTES
inline constexpr size_t kChannelRequestPlainBytes = 8;
inline constexpr size_t kChannelRequestBytes =
    kChannelHeaderBytes + kChannelNonceBytes + kChannelRequestPlainBytes + kChannelTagBytes;
// Largest datagram either side sends or accepts. A reply (JSON secret set, clock samples,
// sysctls) is well under 2 KiB; anything bigger is refused before decryption so a peer cannot
// make the other side buffer or decrypt large blobs.
inline constexpr size_t kChannelMaxMessageBytes = 4096;
inline constexpr size_t kChannelReplyOverhead =
    kChannelHeaderBytes + kChannelNonceBytes + kChannelNonceBytes + kChannelTagBytes;
inline constexpr size_t kChannelMaxPayloadBytes = kChannelMaxMessageBytes - kChannelReplyOverhead;

// kConfirm*: "which of these 4-tuples are established sockets on your host?"
// (channel_confirm.h).
enum class ChannelMessageType : uint8_t {
  kRequest = 1,
  kReply = 2,
  kConfirmRequest = 3,
  kConfirmReply = 4,
};

// Outcome of opening a datagram, and the index of its counter. kOk first; every other value
// is a rejection reason.
enum class ChannelResult : uint8_t {
  kOk,
  kTruncated,       // shorter than a header, or than the length the header declares
  kOversized,       // longer than kChannelMaxMessageBytes
  kBadMagic,        // not a synwarden channel datagram at all
  kWrongVersion,    // a synwarden peer speaking another protocol version
  kWrongType,       // a reply where a request was expected, or the reverse
  kLengthMismatch,  // datagram longer than the body length its header declares (padded)
  kWrongKey,        // sealed with another pre-shared key (key id differs)
  kAuthFailed,      // right key id but the tag does not verify: tampered in transit
  kMalformed,       // reserved header bits set, or a body too short / of the wrong size
                    // for its type
  kReplayed,        // request nonce already seen, or reply not echoing the outstanding nonce
  kStale,           // request send time outside the agent's acceptance window
  kRateLimited,     // valid request dropped by the agent's reply rate limit
};
inline constexpr size_t kChannelResultCount = static_cast<size_t>(ChannelResult::kRateLimited) + 1;

// Stable snake_case name for counters and logs ("ok", "wrong_key", ...).
const char* channel_result_name(ChannelResult r) noexcept;

// One counter per ChannelResult, shared between the thread that handles datagrams and the one
// that exports metrics.
class ChannelCounters {
 public:
  void count(ChannelResult r) noexcept {
    counters_[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t get(ChannelResult r) const noexcept {
    return counters_[static_cast<size_t>(r)].load(std::memory_order_relaxed);
  }
  // Sum of every rejection reason (everything but kOk).
  uint64_t rejected() const noexcept;

 private:
  std::array<std::atomic<uint64_t>, kChannelResultCount> counters_{};
};

using ChannelNonce = std::array<uint8_t, kChannelNonceBytes>;

// Firewall side: seals a new request sent at `sent_unix_ms` (wall clock, ms since the epoch)
// into `out` (at least kChannelRequestBytes) and stores its fresh nonce in `nonce`, which the
// caller keeps to match the reply. Returns the datagram length.
size_t seal_channel_request(const ChannelKey& key, uint64_t sent_unix_ms, ChannelNonce& nonce,
                            std::span<uint8_t, kChannelRequestBytes> out) noexcept;

struct ChannelRequest {
  ChannelNonce nonce{};
  uint64_t sent_unix_ms = 0;
};

// Agent side: checks framing, key and tag of a received request. Replay and staleness are the
// caller's (ChannelReplayWindow) because they need state and a clock.
ChannelResult open_channel_request(const ChannelKey& key, std::span<const uint8_t> datagram,
                                   ChannelRequest& out) noexcept;

// Agent side: seals the reply to `request_nonce` carrying `payload` (at most
// kChannelMaxPayloadBytes) into `out` (at least kChannelMaxMessageBytes). Returns the datagram
// length, or 0 if the payload is too large. `type`: kReply, or kConfirmReply.
size_t seal_channel_reply(const ChannelKey& key, const ChannelNonce& request_nonce,
                          std::span<const uint8_t> payload,
                          std::span<uint8_t, kChannelMaxMessageBytes> out,
                          ChannelMessageType type = ChannelMessageType::kReply) noexcept;

// Firewall side: opens a reply and accepts it only if it echoes `expected_nonce` (the nonce of
// the request still outstanding). On kOk `payload` holds the plaintext payload; on any other
// result it is left empty.
ChannelResult open_channel_reply(const ChannelKey& key, std::span<const uint8_t> datagram,
                                 const ChannelNonce& expected_nonce, std::string& payload,
                                 ChannelMessageType type = ChannelMessageType::kReply);

// Building blocks for the other message types (channel_confirm.cpp). check_channel_frame: the
// framing checks of every datagram, cheapest first, all before any crypto; on kOk `body` is the
// nonce + ciphertext + tag the header declares. The type byte of a datagram long enough to have
// one (the agent dispatches on it before opening).
ChannelResult check_channel_frame(const ChannelKey& key, std::span<const uint8_t> datagram,
                                  ChannelMessageType want, std::span<const uint8_t>& body) noexcept;
void write_channel_header(uint8_t* out, ChannelMessageType type, const ChannelKeyId& key_id,
                          size_t body_len) noexcept;
inline bool channel_datagram_has_type(std::span<const uint8_t> datagram,
                                      ChannelMessageType type) noexcept {
  return datagram.size() >= kChannelHeaderBytes && datagram[5] == static_cast<uint8_t>(type);
}

}  // namespace synwarden
