#include "synwarden/channel.h"

#include <sodium.h>

#include <cstring>

static_assert(synwarden::kChannelNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(synwarden::kChannelTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(synwarden::kChannelKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(synwarden::kChannelRequestBytes <= synwarden::kChannelMaxMessageBytes);

namespace synwarden {
namespace {

// Header field offsets.
constexpr size_t kOffVersion = 4;
constexpr size_t kOffType = 5;
constexpr size_t kOffReserved = 6;
constexpr size_t kOffKeyId = 8;
constexpr size_t kOffBodyLen = 16;
static_assert(kOffBodyLen + 4 == kChannelHeaderBytes);

void put_be32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint32_t get_be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void put_be64(uint8_t* p, uint64_t v) noexcept {
  put_be32(p, static_cast<uint32_t>(v >> 32));
  put_be32(p + 4, static_cast<uint32_t>(v));
}
uint64_t get_be64(const uint8_t* p) noexcept {
  return (uint64_t{get_be32(p)} << 32) | get_be32(p + 4);
}

}  // namespace

void write_channel_header(uint8_t* out, ChannelMessageType type, const ChannelKeyId& key_id,
                          size_t body_len) noexcept {
  std::memcpy(out, kChannelMagic.data(), kChannelMagic.size());
  out[kOffVersion] = kChannelVersion;
  out[kOffType] = static_cast<uint8_t>(type);
  out[kOffReserved] = 0;
  out[kOffReserved + 1] = 0;
  std::memcpy(out + kOffKeyId, key_id.data(), key_id.size());
  put_be32(out + kOffBodyLen, static_cast<uint32_t>(body_len));
}

ChannelResult check_channel_frame(const ChannelKey& key, std::span<const uint8_t> dgram,
                                  ChannelMessageType want,
                                  std::span<const uint8_t>& body) noexcept {
  if (dgram.size() > kChannelMaxMessageBytes) return ChannelResult::kOversized;
  if (dgram.size() < kChannelHeaderBytes) return ChannelResult::kTruncated;
  const uint8_t* h = dgram.data();
  if (std::memcmp(h, kChannelMagic.data(), kChannelMagic.size()) != 0) return ChannelResult::kBadMagic;
  if (h[kOffVersion] != kChannelVersion) return ChannelResult::kWrongVersion;
  if (h[kOffType] != static_cast<uint8_t>(want)) return ChannelResult::kWrongType;
  if (h[kOffReserved] != 0 || h[kOffReserved + 1] != 0) return ChannelResult::kMalformed;
  if (std::memcmp(h + kOffKeyId, key.id().data(), kChannelKeyIdBytes) != 0) {
    return ChannelResult::kWrongKey;
  }
  const uint32_t body_len = get_be32(h + kOffBodyLen);
  const size_t have = dgram.size() - kChannelHeaderBytes;
  if (have < body_len) return ChannelResult::kTruncated;
  if (have > body_len) return ChannelResult::kLengthMismatch;
  if (body_len < kChannelNonceBytes + kChannelTagBytes) return ChannelResult::kMalformed;
  body = dgram.subspan(kChannelHeaderBytes);
  return ChannelResult::kOk;
}

const char* channel_result_name(ChannelResult r) noexcept {
  switch (r) {
    case ChannelResult::kOk: return "ok";
    case ChannelResult::kTruncated: return "truncated";
    case ChannelResult::kOversized: return "oversized";
    case ChannelResult::kBadMagic: return "bad_magic";
    case ChannelResult::kWrongVersion: return "wrong_version";
    case ChannelResult::kWrongType: return "wrong_type";
    case ChannelResult::kLengthMismatch: return "length_mismatch";
    case ChannelResult::kWrongKey: return "wrong_key";
    case ChannelResult::kAuthFailed: return "auth_failed";
    case ChannelResult::kMalformed: return "malformed";
    case ChannelResult::kReplayed: return "replayed";
    case ChannelResult::kStale: return "stale";
    case ChannelResult::kRateLimited: return "rate_limited";
  }
  return "unknown";
}

uint64_t ChannelCounters::rejected() const noexcept {
  uint64_t sum = 0;
  for (size_t i = 1; i < kChannelResultCount; ++i) sum += counters_[i].load(std::memory_order_relaxed);
  return sum;
}

size_t seal_channel_request(const ChannelKey& key, uint64_t sent_unix_ms, ChannelNonce& nonce,
                            std::span<uint8_t, kChannelRequestBytes> out) noexcept {
  uint8_t* p = out.data();
  write_channel_header(p, ChannelMessageType::kRequest, key.id(),
                       kChannelRequestBytes - kChannelHeaderBytes);
  randombytes_buf(nonce.data(), nonce.size());
  std::memcpy(p + kChannelHeaderBytes, nonce.data(), nonce.size());
  uint8_t plain[kChannelRequestPlainBytes];
  put_be64(plain, sent_unix_ms);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + kChannelHeaderBytes + kChannelNonceBytes, &clen,
                                             plain, sizeof plain, p, kChannelHeaderBytes, nullptr,
                                             nonce.data(), key.data());
  return kChannelHeaderBytes + kChannelNonceBytes + static_cast<size_t>(clen);
}

ChannelResult open_channel_request(const ChannelKey& key, std::span<const uint8_t> datagram,
                                   ChannelRequest& out) noexcept {
  std::span<const uint8_t> body;
  if (const auto r = check_channel_frame(key, datagram, ChannelMessageType::kRequest, body);
      r != ChannelResult::kOk) {
    return r;
  }
  if (body.size() != kChannelNonceBytes + kChannelRequestPlainBytes + kChannelTagBytes) {
    return ChannelResult::kMalformed;
  }
  uint8_t plain[kChannelRequestPlainBytes];
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain, &plen, nullptr, body.data() + kChannelNonceBytes, body.size() - kChannelNonceBytes,
          datagram.data(), kChannelHeaderBytes, body.data(), key.data()) != 0) {
    return ChannelResult::kAuthFailed;
  }
  std::memcpy(out.nonce.data(), body.data(), kChannelNonceBytes);
  out.sent_unix_ms = get_be64(plain);
  return ChannelResult::kOk;
}

size_t seal_channel_reply(const ChannelKey& key, const ChannelNonce& request_nonce,
                          std::span<const uint8_t> payload,
                          std::span<uint8_t, kChannelMaxMessageBytes> out,
                          ChannelMessageType type) noexcept {
  if (payload.size() > kChannelMaxPayloadBytes) return 0;
  const size_t plain_len = kChannelNonceBytes + payload.size();
  const size_t body_len = kChannelNonceBytes + plain_len + kChannelTagBytes;
  uint8_t* p = out.data();
  write_channel_header(p, type, key.id(), body_len);
  uint8_t* nonce = p + kChannelHeaderBytes;
  randombytes_buf(nonce, kChannelNonceBytes);
  // Plaintext is assembled in the output buffer right where the ciphertext goes: libsodium's
  // AEAD supports in-place encryption, which spares a second buffer of secret material.
  uint8_t* c = nonce + kChannelNonceBytes;
  std::memcpy(c, request_nonce.data(), kChannelNonceBytes);
  std::memcpy(c + kChannelNonceBytes, payload.data(), payload.size());
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, c, plain_len, p, kChannelHeaderBytes,
                                             nullptr, nonce, key.data());
  return kChannelHeaderBytes + kChannelNonceBytes + static_cast<size_t>(clen);
}

ChannelResult open_channel_reply(const ChannelKey& key, std::span<const uint8_t> datagram,
                                 const ChannelNonce& expected_nonce, std::string& payload,
                                 ChannelMessageType type) {
  payload.clear();
  std::span<const uint8_t> body;
  if (const auto r = check_channel_frame(key, datagram, type, body);
      r != ChannelResult::kOk) {
    return r;
  }
  if (body.size() < kChannelNonceBytes + kChannelNonceBytes + kChannelTagBytes) {
    return ChannelResult::kMalformed;
  }
  uint8_t plain[kChannelMaxMessageBytes];
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plain, &plen, nullptr, body.data() + kChannelNonceBytes, body.size() - kChannelNonceBytes,
          datagram.data(), kChannelHeaderBytes, body.data(), key.data()) != 0) {
    return ChannelResult::kAuthFailed;
  }
  ChannelResult result = ChannelResult::kReplayed;
  if (sodium_memcmp(plain, expected_nonce.data(), kChannelNonceBytes) == 0) {
    payload.assign(reinterpret_cast<const char*>(plain + kChannelNonceBytes),
                   static_cast<size_t>(plen) - kChannelNonceBytes);
    result = ChannelResult::kOk;
  }
  sodium_memzero(plain, static_cast<size_t>(plen));
  return result;
}

}  // namespace synwarden
