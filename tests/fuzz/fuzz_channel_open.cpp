// Fuzz target "channel_open": any byte string as a datagram arriving at the agent (a request)
// or at the firewall's secret poller (a reply), through open_channel_request() and
// open_channel_reply() (channel.h).
//
// Properties:
//  1. Every rejection is exactly the one the documented framing rules give
//     (channel_reference.h); a datagram whose framing is sound is opened or fails
//     authentication, nothing else. No out-of-bounds read for any length up to and past the
//     4096-byte limit.
//  2. A reply's payload is empty unless it opened, and then is exactly the sealed bytes after
//     the echoed nonce.
//  3. A datagram that opens with the fuzz key never opens with another key, and a reply that
//     opens for the outstanding request nonce is refused (kReplayed) for any other nonce.
//  4. A datagram that opens is refused after ANY single-bit change (every byte is tried), after
//     truncation, and after padding -- each with its documented reason.
// The seeds (make_seeds.cpp) are sealed with fuzz_keys.h's key, so property 4 runs on them.
#include <string>
#include <vector>

#include "channel_reference.h"
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
  static const Keys k;  // sodium_malloc'd once: guarded allocations are too slow per input
  return k;
}

ChannelResult open_as(ChannelMessageType type, const ChannelKey& key,
                      std::span<const uint8_t> d, const ChannelNonce& expected,
                      std::string* payload_out = nullptr) {
  if (type == ChannelMessageType::kRequest) {
    ChannelRequest req;
    return open_channel_request(key, d, req);
  }
  std::string payload = "not cleared";
  const ChannelResult r = open_channel_reply(key, d, expected, payload);
  FUZZ_CHECK(r == ChannelResult::kOk || payload.empty(), "reply refused (%s) but payload set",
             channel_result_name(r));
  if (payload_out != nullptr) *payload_out = payload;
  return r;
}

// Property 4 for a datagram that opened as `type`.
void check_tamper_evident(std::span<const uint8_t> d, ChannelMessageType type) {
  const ChannelKey& key = keys().key;
  std::vector<uint8_t> m(d.begin(), d.end());
  for (size_t i = 0; i < m.size(); ++i) {
    const auto bit = static_cast<uint8_t>(1u << ((i * 5 + 3) % 8));
    m[i] ^= bit;
    const ChannelResult r = open_as(type, key, m, kFuzzRequestNonce);
    const ChannelResult want = expected_after_damage(m, type, key.id());
    FUZZ_CHECK(r == want, "byte %zu flipped (mask %02x): %s, expected %s", i, bit,
               channel_result_name(r), channel_result_name(want));
    m[i] ^= bit;
  }
  for (const size_t keep : {size_t{0}, size_t{19}, size_t{20}, d.size() / 2, d.size() - 1}) {
    if (keep >= d.size()) continue;
    const std::span<const uint8_t> cut = d.first(keep);
    const ChannelResult r = open_as(type, key, cut, kFuzzRequestNonce);
    FUZZ_CHECK(r == ChannelResult::kTruncated, "cut to %zu bytes: %s", keep,
               channel_result_name(r));
  }
  for (const size_t extra : {size_t{1}, kChannelMaxMessageBytes + 1 - d.size()}) {
    std::vector<uint8_t> padded(d.begin(), d.end());
    padded.resize(d.size() + extra, 0);
    const ChannelResult r = open_as(type, key, padded, kFuzzRequestNonce);
    const ChannelResult want = padded.size() > kChannelMaxMessageBytes
                                   ? ChannelResult::kOversized
                                   : ChannelResult::kLengthMismatch;
    FUZZ_CHECK(r == want, "padded by %zu: %s, expected %s", extra, channel_result_name(r),
               channel_result_name(want));
  }
}

void check_as(std::span<const uint8_t> d, ChannelMessageType type) {
  const Keys& k = keys();
  std::string payload;
  const ChannelResult r = open_as(type, k.key, d, kFuzzRequestNonce, &payload);
  const ChannelResult framing = expected_framing(d, type, k.key.id());
  if (framing != ChannelResult::kOk) {
    FUZZ_CHECK(r == framing, "opened as %s, framing rules say %s", channel_result_name(r),
               channel_result_name(framing));
  } else {
    const bool allowed = r == ChannelResult::kOk || r == ChannelResult::kAuthFailed ||
                         (type == ChannelMessageType::kReply && r == ChannelResult::kReplayed);
    FUZZ_CHECK(allowed, "sound framing, yet %s", channel_result_name(r));
  }

  const ChannelResult other = open_as(type, k.other, d, kFuzzRequestNonce);
  if (r == ChannelResult::kOk) {
    FUZZ_CHECK(other == ChannelResult::kWrongKey, "also opens with another key: %s",
               channel_result_name(other));
    if (type == ChannelMessageType::kReply) {
      FUZZ_CHECK(payload.size() == d.size() - kChannelReplyOverhead, "payload of %zu bytes",
                 payload.size());
      ChannelNonce later = kFuzzRequestNonce;
      later[0] ^= 1;
      const ChannelResult replay = open_as(type, k.key, d, later);
      FUZZ_CHECK(replay == ChannelResult::kReplayed,
                 "reply to one request accepted for another: %s", channel_result_name(replay));
    }
    check_tamper_evident(d, type);
  }
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden;
  using namespace synwarden::fuzz;
  const std::span<const uint8_t> d(data, size);
  check_as(d, ChannelMessageType::kRequest);
  check_as(d, ChannelMessageType::kReply);
  return 0;
}
