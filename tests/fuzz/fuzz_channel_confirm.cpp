// Fuzz target "channel_confirm": any byte string as a socket-confirmation request arriving at
// the agent, or as a confirmation answer arriving at the firewall (channel_confirm.h).
//
// Input: mode byte (even: request, odd: answer) | expected tuple count (answer mode) | datagram.
//
// Properties:
//  1. A request either opens with 1..64 well-formed tuples (family 4 or 6, IPv4 addresses
//     without bytes past their 4) or is refused with its tuple list empty; an answer either
//     opens with exactly the expected number of flags or is refused with none.
//  2. A request that opens, sealed again from its tuples, opens to the same tuples.
//  3. A datagram that opens is refused after any single-bit change (every byte is tried).
// Seeds (make_seeds.cpp) are sealed with fuzz_keys.h's key, so properties 2 and 3 run on them.
#include <array>
#include <string>
#include <vector>

#include "fuzz_keys.h"
#include "fuzz_support.h"
#include "synwarden/channel_confirm.h"

namespace synwarden::fuzz {
namespace {

const ChannelKey& key() {
  static const ChannelKey k = ChannelKey::from_bytes(kFuzzChannelKey);
  return k;
}

ChannelResult open(bool request, std::span<const uint8_t> d, size_t expected,
                   ConfirmRequest& req, std::vector<bool>& flags) {
  if (request) return open_confirm_request(key(), d, req);
  return open_confirm_reply(key(), d, kFuzzRequestNonce, expected, flags);
}

void check_request(const ConfirmRequest& req) {
  FUZZ_CHECK(!req.tuples.empty() && req.tuples.size() <= kConfirmMaxTuples,
             "request opened with %zu tuples", req.tuples.size());
  for (const ConfirmTuple& t : req.tuples) {
    FUZZ_CHECK(t.family == 4 || t.family == 6, "tuple of family %u", t.family);
    if (t.family != 4) continue;
    for (size_t i = 4; i < 16; ++i) {
      FUZZ_CHECK(t.client_addr[i] == 0 && t.host_addr[i] == 0, "IPv4 tuple with byte %zu set", i);
    }
  }
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  ChannelNonce nonce;
  const size_t n = seal_confirm_request(key(), req.header.sent_unix_ms, req.tuples, nonce, buf);
  FUZZ_CHECK(n != 0, "opened tuples cannot be sealed again");
  ConfirmRequest again;
  const ChannelResult r =
      open_confirm_request(key(), std::span<const uint8_t>(buf.data(), n), again);
  FUZZ_CHECK(r == ChannelResult::kOk && again.tuples == req.tuples &&
                 again.header.sent_unix_ms == req.header.sent_unix_ms,
             "resealed request does not open to the same tuples (%s)", channel_result_name(r));
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden;
  using namespace synwarden::fuzz;
  if (size < 2) return 0;
  const bool request = (data[0] & 1) == 0;
  const size_t expected = data[1] % (kConfirmMaxTuples + 1);
  const std::span<const uint8_t> d(data + 2, size - 2);

  ConfirmRequest req;
  std::vector<bool> flags;
  const ChannelResult r = open(request, d, expected, req, flags);
  if (r != ChannelResult::kOk) {
    FUZZ_CHECK(req.tuples.empty() && flags.empty(), "refused (%s) but output left set",
               channel_result_name(r));
    return 0;
  }
  if (request) {
    check_request(req);
  } else {
    FUZZ_CHECK(flags.size() == expected, "answer with %zu flags for %zu tuples", flags.size(),
               expected);
  }
  std::vector<uint8_t> m(d.begin(), d.end());
  for (size_t i = 0; i < m.size(); ++i) {
    const auto bit = static_cast<uint8_t>(1u << ((i * 5 + 3) % 8));
    m[i] ^= bit;
    ConfirmRequest r2;
    std::vector<bool> f2;
    const ChannelResult damaged = open(request, m, expected, r2, f2);
    FUZZ_CHECK(damaged != ChannelResult::kOk, "byte %zu flipped (mask %02x) still opens", i, bit);
    m[i] ^= bit;
  }
  return 0;
}
