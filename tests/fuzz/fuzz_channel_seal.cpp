// Fuzz target "channel_seal": the secret channel end to end for fuzzer-chosen contents --
// seal a request (send time) or a reply (request nonce + payload, the rest of the input) with
// the right key, open it, then damage it one way (fuzz_cases.h ChannelSealCase).
//
// Properties:
//  1. Sealed with the key, it opens with the key and gives back exactly what was sealed;
//     a reply payload over kChannelMaxPayloadBytes is refused by the sealer (length 0).
//  2. It never opens with another key (kWrongKey), as the other message type (kWrongType), or
//     -- a reply -- for another request's nonce (kReplayed, no payload).
//  3. After one flipped bit, a truncation or padding it never opens, and the reason is the
//     documented one (channel_reference.h).
#include <algorithm>
#include <string>
#include <vector>

#include "channel_reference.h"
#include "fuzz_cases.h"
#include "fuzz_keys.h"
#include "fuzz_support.h"
#include "synwarden/channel.h"

namespace synwarden::fuzz {
namespace {

struct Keys {
  ChannelKey key = ChannelKey::from_bytes(kFuzzChannelKey);
  ChannelKey other = ChannelKey::from_bytes(kFuzzOtherKey);
};

const Keys& keys() {
  static const Keys k;
  return k;
}

ChannelResult open_as(ChannelMessageType type, const ChannelKey& key,
                      std::span<const uint8_t> d, const ChannelNonce& expected) {
  if (type == ChannelMessageType::kRequest) {
    ChannelRequest req;
    return open_channel_request(key, d, req);
  }
  std::string payload;
  const ChannelResult r = open_channel_reply(key, d, expected, payload);
  FUZZ_CHECK(r == ChannelResult::kOk || payload.empty(), "refused reply left a payload");
  return r;
}

// Returns the sealed datagram, or an empty vector if the sealer refused the payload.
std::vector<uint8_t> seal_and_open(const ChannelSealCase& c, std::span<const uint8_t> payload) {
  const ChannelKey& key = keys().key;
  if (!c.reply) {
    std::array<uint8_t, kChannelRequestBytes> buf;
    ChannelNonce nonce{};
    const size_t n = seal_channel_request(key, c.sent_unix_ms, nonce, buf);
    FUZZ_CHECK(n == kChannelRequestBytes, "request of %zu bytes", n);
    ChannelRequest req;
    const ChannelResult r = open_channel_request(key, std::span<const uint8_t>(buf.data(), n), req);
    FUZZ_CHECK(r == ChannelResult::kOk, "own request refused: %s", channel_result_name(r));
    FUZZ_CHECK(req.sent_unix_ms == c.sent_unix_ms && req.nonce == nonce,
               "request opened with other contents");
    return {buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)};
  }
  std::vector<uint8_t> buf(kChannelMaxMessageBytes);
  const size_t n = seal_channel_reply(key, c.request_nonce, payload,
                                      std::span<uint8_t, kChannelMaxMessageBytes>(buf));
  if (payload.size() > kChannelMaxPayloadBytes) {
    FUZZ_CHECK(n == 0, "payload of %zu bytes sealed", payload.size());
    return {};
  }
  FUZZ_CHECK(n == kChannelReplyOverhead + payload.size(), "reply of %zu bytes for %zu", n,
             payload.size());
  buf.resize(n);
  std::string opened;
  const ChannelResult r = open_channel_reply(key, buf, c.request_nonce, opened);
  FUZZ_CHECK(r == ChannelResult::kOk, "own reply refused: %s", channel_result_name(r));
  FUZZ_CHECK(opened.size() == payload.size() &&
                 std::equal(payload.begin(), payload.end(),
                            reinterpret_cast<const uint8_t*>(opened.data())),
             "reply opened with another payload");
  return buf;
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden;
  using namespace synwarden::fuzz;
  FuzzInput in(data, size);
  CaseReader reader(in);
  ChannelSealCase c;
  c.visit(reader);
  const std::span<const uint8_t> payload = in.rest();

  const std::vector<uint8_t> d = seal_and_open(c, payload);
  if (d.empty()) return 0;
  const Keys& k = keys();
  const ChannelMessageType type = c.reply ? ChannelMessageType::kReply : ChannelMessageType::kRequest;
  const ChannelMessageType wrong = c.reply ? ChannelMessageType::kRequest : ChannelMessageType::kReply;
  const ChannelNonce& nonce = c.request_nonce;

  const ChannelResult other_key = open_as(type, k.other, d, nonce);
  FUZZ_CHECK(other_key == ChannelResult::kWrongKey, "opened with another key: %s",
             channel_result_name(other_key));
  const ChannelResult other_type = open_as(wrong, k.key, d, nonce);
  FUZZ_CHECK(other_type == ChannelResult::kWrongType, "opened as the other type: %s",
             channel_result_name(other_type));
  if (c.reply) {
    ChannelNonce later = nonce;
    later[c.position % later.size()] ^= static_cast<uint8_t>(1u << c.bit);
    const ChannelResult r = open_as(type, k.key, d, later);
    FUZZ_CHECK(r == ChannelResult::kReplayed, "reply accepted for another request: %s",
               channel_result_name(r));
  }

  std::vector<uint8_t> m = d;
  switch (c.mutation) {
    case ChannelSealCase::kNone:
      return 0;
    case ChannelSealCase::kFlipBit:
      m[c.position % m.size()] ^= static_cast<uint8_t>(1u << c.bit);
      break;
    case ChannelSealCase::kTruncate:
      m.resize(c.position % m.size());
      break;
    case ChannelSealCase::kAppend:
      m.resize(m.size() + 1 + c.extra % kChannelMaxMessageBytes, static_cast<uint8_t>(c.bit));
      break;
    default:
      FUZZ_CHECK(false, "mutation %u out of range", c.mutation);
  }
  const ChannelResult r = open_as(type, k.key, m, nonce);
  const ChannelResult want = expected_after_damage(m, type, k.key.id());
  FUZZ_CHECK(r == want && r != ChannelResult::kOk, "damaged (%u at %u): %s, expected %s",
             c.mutation, c.position, channel_result_name(r), channel_result_name(want));
  return 0;
}
