#include "synwarden/channel_confirm.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace synwarden {
namespace {

static_assert(1 + 1 + 2 + 2 + 2 + 16 + 16 == kConfirmTupleBytes);

void put_be16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint16_t get_be16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
void put_be64(uint8_t* p, uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
uint64_t get_be64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

bool tail_is_zero(const std::array<uint8_t, 16>& addr) noexcept {
  return std::all_of(addr.begin() + 4, addr.end(), [](uint8_t b) { return b == 0; });
}

void encode_tuple(const ConfirmTuple& t, uint8_t* p) noexcept {
  p[0] = t.family;
  p[1] = 0;
  put_be16(p + 2, 0);
  put_be16(p + 4, t.client_port);
  put_be16(p + 6, t.host_port);
  std::memcpy(p + 8, t.client_addr.data(), 16);
  std::memcpy(p + 24, t.host_addr.data(), 16);
}

// False for anything the encoder would never produce.
bool decode_tuple(const uint8_t* p, ConfirmTuple& t) noexcept {
  if (p[0] != 4 && p[0] != 6) return false;
  if (p[1] != 0 || get_be16(p + 2) != 0) return false;
  t.family = p[0];
  t.client_port = get_be16(p + 4);
  t.host_port = get_be16(p + 6);
  std::memcpy(t.client_addr.data(), p + 8, 16);
  std::memcpy(t.host_addr.data(), p + 24, 16);
  if (t.family == 4 && (!tail_is_zero(t.client_addr) || !tail_is_zero(t.host_addr))) return false;
  return true;
}

}  // namespace

size_t seal_confirm_request(const ChannelKey& key, uint64_t sent_unix_ms,
                            std::span<const ConfirmTuple> tuples, ChannelNonce& nonce,
                            std::span<uint8_t, kChannelMaxMessageBytes> out) noexcept {
  if (tuples.empty() || tuples.size() > kConfirmMaxTuples) return 0;
  for (const ConfirmTuple& t : tuples) {
    if (t.family != 4 && t.family != 6) return 0;
  }
  const size_t plain_len = kConfirmRequestHeadBytes + tuples.size() * kConfirmTupleBytes;
  const size_t body_len = kChannelNonceBytes + plain_len + kChannelTagBytes;
  uint8_t* p = out.data();
  write_channel_header(p, ChannelMessageType::kConfirmRequest, key.id(), body_len);
  randombytes_buf(nonce.data(), nonce.size());
  std::memcpy(p + kChannelHeaderBytes, nonce.data(), nonce.size());
  // In place, as seal_channel_reply does: the plaintext is assembled where the ciphertext goes.
  uint8_t* c = p + kChannelHeaderBytes + kChannelNonceBytes;
  put_be64(c, sent_unix_ms);
  put_be16(c + 8, static_cast<uint16_t>(tuples.size()));
  put_be16(c + 10, 0);
  for (size_t i = 0; i < tuples.size(); ++i) {
    encode_tuple(tuples[i], c + kConfirmRequestHeadBytes + i * kConfirmTupleBytes);
  }
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, c, plain_len, p, kChannelHeaderBytes,
                                             nullptr, nonce.data(), key.data());
  return kChannelHeaderBytes + kChannelNonceBytes + static_cast<size_t>(clen);
}

ChannelResult open_confirm_request(const ChannelKey& key, std::span<const uint8_t> datagram,
                                   ConfirmRequest& out) {
  out.tuples.clear();
  std::span<const uint8_t> body;
  if (const auto r = check_channel_frame(key, datagram, ChannelMessageType::kConfirmRequest, body);
      r != ChannelResult::kOk) {
    return r;
  }
  const size_t overhead = kChannelNonceBytes + kChannelTagBytes;
  if (body.size() < overhead + kConfirmRequestHeadBytes + kConfirmTupleBytes) {
    return ChannelResult::kMalformed;
  }
  const size_t clen = body.size() - kChannelNonceBytes;
  std::array<uint8_t, kChannelMaxMessageBytes> plain;
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &plen, nullptr,
                                                 body.data() + kChannelNonceBytes, clen,
                                                 datagram.data(), kChannelHeaderBytes, body.data(),
                                                 key.data()) != 0) {
    return ChannelResult::kAuthFailed;
  }
  const size_t count = get_be16(plain.data() + 8);
  if (count == 0 || count > kConfirmMaxTuples || get_be16(plain.data() + 10) != 0 ||
      plen != kConfirmRequestHeadBytes + count * kConfirmTupleBytes) {
    return ChannelResult::kMalformed;
  }
  out.tuples.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (!decode_tuple(plain.data() + kConfirmRequestHeadBytes + i * kConfirmTupleBytes,
                      out.tuples[i])) {
      out.tuples.clear();
      return ChannelResult::kMalformed;
    }
  }
  std::memcpy(out.header.nonce.data(), body.data(), kChannelNonceBytes);
  out.header.sent_unix_ms = get_be64(plain.data());
  return ChannelResult::kOk;
}

std::vector<uint8_t> encode_confirm_answer(std::span<const bool> confirmed) {
  std::vector<uint8_t> out(2 + (confirmed.size() + 7) / 8, 0);
  put_be16(out.data(), static_cast<uint16_t>(confirmed.size()));
  for (size_t i = 0; i < confirmed.size(); ++i) {
    if (confirmed[i]) out[2 + i / 8] |= static_cast<uint8_t>(0x80u >> (i % 8));
  }
  return out;
}

ChannelResult open_confirm_reply(const ChannelKey& key, std::span<const uint8_t> datagram,
                                 const ChannelNonce& expected_nonce, size_t expected_count,
                                 std::vector<bool>& confirmed) {
  confirmed.clear();
  std::string payload;
  const ChannelResult r = open_channel_reply(key, datagram, expected_nonce, payload,
                                             ChannelMessageType::kConfirmReply);
  if (r != ChannelResult::kOk) return r;
  const auto* p = reinterpret_cast<const uint8_t*>(payload.data());
  if (payload.size() < 2 || get_be16(p) != expected_count ||
      payload.size() != 2 + (expected_count + 7) / 8) {
    return ChannelResult::kMalformed;
  }
  // Bits past the last tuple must be clear: a peer that sets them is not this encoder.
  if (expected_count % 8 != 0) {
    const uint8_t unused = static_cast<uint8_t>(0xffu >> (expected_count % 8));
    if ((p[payload.size() - 1] & unused) != 0) return ChannelResult::kMalformed;
  }
  confirmed.resize(expected_count);
  for (size_t i = 0; i < expected_count; ++i) {
    confirmed[i] = (p[2 + i / 8] & (0x80u >> (i % 8))) != 0;
  }
  return ChannelResult::kOk;
}

}  // namespace synwarden
