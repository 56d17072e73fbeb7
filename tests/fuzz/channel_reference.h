// The secret channel's framing rules restated from the wire format documented in channel.h,
// for the channel fuzz targets: which rejection a datagram must get before any cryptography
// runs. A datagram that passes these checks can only be opened (kOk) or fail authentication.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "synwarden/channel.h"

namespace synwarden::fuzz {

// kOk means "framing is sound; the AEAD decides".
inline ChannelResult expected_framing(std::span<const uint8_t> d, ChannelMessageType type,
                                      const ChannelKeyId& key_id) {
  if (d.size() > kChannelMaxMessageBytes) return ChannelResult::kOversized;
  if (d.size() < kChannelHeaderBytes) return ChannelResult::kTruncated;
  if (std::memcmp(d.data(), "SWSC", 4) != 0) return ChannelResult::kBadMagic;
  if (d[4] != 1) return ChannelResult::kWrongVersion;
  if (d[5] != static_cast<uint8_t>(type)) return ChannelResult::kWrongType;
  if (d[6] != 0 || d[7] != 0) return ChannelResult::kMalformed;
  if (std::memcmp(d.data() + 8, key_id.data(), key_id.size()) != 0) return ChannelResult::kWrongKey;
  const uint64_t declared =
      (uint64_t{d[16]} << 24) | (uint64_t{d[17]} << 16) | (uint64_t{d[18]} << 8) | d[19];
  const uint64_t have = d.size() - kChannelHeaderBytes;
  if (have < declared) return ChannelResult::kTruncated;
  if (have > declared) return ChannelResult::kLengthMismatch;
  // nonce + tag, then the per-type plaintext: exactly the 8-byte send time for a request, at
  // least the echoed 24-byte nonce for a reply.
  if (have < kChannelNonceBytes + kChannelTagBytes) return ChannelResult::kMalformed;
  const uint64_t plain = have - kChannelNonceBytes - kChannelTagBytes;
  if (type == ChannelMessageType::kRequest && plain != 8) return ChannelResult::kMalformed;
  if (type == ChannelMessageType::kReply && plain < kChannelNonceBytes) return ChannelResult::kMalformed;
  return ChannelResult::kOk;
}

// What opening a datagram whose bytes were changed after sealing must return: its framing
// verdict, or -- since header, nonce, ciphertext and tag are all authenticated -- kAuthFailed.
inline ChannelResult expected_after_damage(std::span<const uint8_t> d, ChannelMessageType type,
                                           const ChannelKeyId& key_id) {
  const ChannelResult r = expected_framing(d, type, key_id);
  return r == ChannelResult::kOk ? ChannelResult::kAuthFailed : r;
}

}  // namespace synwarden::fuzz
