// Socket confirmation over the secret channel (channel_confirm.h): the request carries the
// 4-tuples intact, the answer one flag per tuple, and the agent's server refuses forged,
// replayed, malformed, stale and excessive confirmation requests under the same reasons and
// the same rate limit as secrets requests.
#include "synwarden/channel_confirm.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

#include "synwarden/channel_server.h"

namespace synwarden {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kUnixMs = 1'790'000'000'000;

ChannelKey key_of(uint8_t fill) {
  std::array<uint8_t, kChannelKeyBytes> b;
  b.fill(fill);
  return ChannelKey::from_bytes(b);
}

ConfirmTuple v4(const char* client, uint16_t cport, const char* host, uint16_t hport) {
  ConfirmTuple t;
  t.family = 4;
  EXPECT_EQ(inet_pton(AF_INET, client, t.client_addr.data()), 1);
  EXPECT_EQ(inet_pton(AF_INET, host, t.host_addr.data()), 1);
  t.client_port = cport;
  t.host_port = hport;
  return t;
}

ConfirmTuple v6(const char* client, uint16_t cport, const char* host, uint16_t hport) {
  ConfirmTuple t;
  t.family = 6;
  EXPECT_EQ(inet_pton(AF_INET6, client, t.client_addr.data()), 1);
  EXPECT_EQ(inet_pton(AF_INET6, host, t.host_addr.data()), 1);
  t.client_port = cport;
  t.host_port = hport;
  return t;
}

Bytes seal(const ChannelKey& key, const std::vector<ConfirmTuple>& tuples, ChannelNonce& nonce,
           uint64_t sent = kUnixMs) {
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  const size_t n = seal_confirm_request(key, sent, tuples, nonce, buf);
  return Bytes(buf.begin(), buf.begin() + static_cast<long>(n));
}

// Seals an arbitrary confirmation plaintext with a valid header, nonce and tag: what a peer
// holding the key but not speaking this encoder could send.
Bytes seal_raw(const ChannelKey& key, const Bytes& plain) {
  Bytes out(kChannelHeaderBytes + kChannelNonceBytes + plain.size() + kChannelTagBytes);
  write_channel_header(out.data(), ChannelMessageType::kConfirmRequest, key.id(),
                       out.size() - kChannelHeaderBytes);
  uint8_t* nonce = out.data() + kChannelHeaderBytes;
  randombytes_buf(nonce, kChannelNonceBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kChannelNonceBytes, &clen, plain.data(),
                                             plain.size(), out.data(), kChannelHeaderBytes,
                                             nullptr, nonce, key.data());
  return out;
}

// A well-formed plaintext for `count` IPv4 tuples (sent at kUnixMs).
Bytes plain_for(size_t count) {
  Bytes p(kConfirmRequestHeadBytes + count * kConfirmTupleBytes, 0);
  for (size_t i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(kUnixMs >> (56 - 8 * i));
  p[8] = static_cast<uint8_t>(count >> 8);
  p[9] = static_cast<uint8_t>(count);
  for (size_t i = 0; i < count; ++i) p[kConfirmRequestHeadBytes + i * kConfirmTupleBytes] = 4;
  return p;
}

TEST(ConfirmProtocol, RequestRoundTripKeepsEveryTupleInOrder) {
  const ChannelKey key = key_of(3);
  const std::vector<ConfirmTuple> tuples = {
      v4("198.51.100.7", 40001, "192.0.2.10", 80),
      v6("2001:db8:1::7", 55555, "2001:db8::10", 443),
      v4("203.0.113.200", 65535, "192.0.2.11", 1)};
  ChannelNonce nonce;
  const Bytes d = seal(key, tuples, nonce);
  ASSERT_EQ(d.size(), kChannelHeaderBytes + kChannelNonceBytes + kConfirmRequestHeadBytes +
                          3 * kConfirmTupleBytes + kChannelTagBytes);
  ConfirmRequest opened;
  ASSERT_EQ(open_confirm_request(key, d, opened), ChannelResult::kOk);
  EXPECT_EQ(opened.tuples, tuples);
  EXPECT_EQ(opened.header.nonce, nonce);
  EXPECT_EQ(opened.header.sent_unix_ms, kUnixMs);
}

TEST(ConfirmProtocol, SealRefusesEmptyOversizedAndUnknownFamilyBatches) {
  const ChannelKey key = key_of(3);
  ChannelNonce nonce;
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  EXPECT_EQ(seal_confirm_request(key, kUnixMs, {}, nonce, buf), 0u);
  const std::vector<ConfirmTuple> too_many(kConfirmMaxTuples + 1,
                                           v4("198.51.100.1", 1, "192.0.2.1", 2));
  EXPECT_EQ(seal_confirm_request(key, kUnixMs, too_many, nonce, buf), 0u);
  std::vector<ConfirmTuple> bad = {v4("198.51.100.1", 1, "192.0.2.1", 2)};
  bad[0].family = 5;
  EXPECT_EQ(seal_confirm_request(key, kUnixMs, bad, nonce, buf), 0u);
  const std::vector<ConfirmTuple> full(kConfirmMaxTuples, v4("198.51.100.1", 1, "192.0.2.1", 2));
  EXPECT_EQ(seal_confirm_request(key, kUnixMs, full, nonce, buf), kConfirmRequestMaxBytes);
}

TEST(ConfirmProtocol, ForgedTamperedAndForeignRequestsAreRefusedByReason) {
  const ChannelKey key = key_of(3);
  ChannelNonce nonce;
  const Bytes good = seal(key, {v4("198.51.100.7", 40001, "192.0.2.10", 80)}, nonce);
  ConfirmRequest out;
  Bytes tampered = good;
  tampered[kChannelHeaderBytes + kChannelNonceBytes + 3] ^= 1;
  EXPECT_EQ(open_confirm_request(key, tampered, out), ChannelResult::kAuthFailed);
  EXPECT_EQ(open_confirm_request(key_of(9), good, out), ChannelResult::kWrongKey);
  EXPECT_EQ(open_confirm_request(key, Bytes(good.begin(), good.end() - 1), out),
            ChannelResult::kTruncated);
  Bytes padded = good;
  padded.push_back(0);
  EXPECT_EQ(open_confirm_request(key, padded, out), ChannelResult::kLengthMismatch);
  // A secrets request is not a confirmation request, and the reverse.
  std::array<uint8_t, kChannelRequestBytes> secrets_req;
  seal_channel_request(key, kUnixMs, nonce, secrets_req);
  EXPECT_EQ(open_confirm_request(key, secrets_req, out), ChannelResult::kWrongType);
  ChannelRequest plain;
  EXPECT_EQ(open_channel_request(key, good, plain), ChannelResult::kWrongType);
  EXPECT_TRUE(out.tuples.empty());
}

TEST(ConfirmProtocol, AuthenticButMisshapenPlaintextIsMalformed) {
  const ChannelKey key = key_of(3);
  ConfirmRequest out;
  ASSERT_EQ(open_confirm_request(key, seal_raw(key, plain_for(2)), out), ChannelResult::kOk);
  ASSERT_EQ(out.tuples.size(), 2u);

  Bytes zero_count = plain_for(1);
  zero_count[9] = 0;
  EXPECT_EQ(open_confirm_request(key, seal_raw(key, zero_count), out), ChannelResult::kMalformed);
  EXPECT_EQ(open_confirm_request(key, seal_raw(key, plain_for(kConfirmMaxTuples + 1)), out),
            ChannelResult::kMalformed);
  Bytes count_says_more = plain_for(2);
  count_says_more[9] = 3;
  EXPECT_EQ(open_confirm_request(key, seal_raw(key, count_says_more), out),
            ChannelResult::kMalformed);
  Bytes reserved = plain_for(1);
  reserved[11] = 1;
  EXPECT_EQ(open_confirm_request(key, seal_raw(key, reserved), out), ChannelResult::kMalformed);
  Bytes family = plain_for(1);
  family[kConfirmRequestHeadBytes] = 10;   // AF_INET6's value, not the protocol's 6
  EXPECT_EQ(open_confirm_request(key, seal_raw(key, family), out), ChannelResult::kMalformed);
  Bytes v4_tail = plain_for(1);
  v4_tail[kConfirmRequestHeadBytes + 8 + 5] = 1;   // client address byte 5 of an IPv4 tuple
  EXPECT_EQ(open_confirm_request(key, seal_raw(key, v4_tail), out), ChannelResult::kMalformed);
  EXPECT_EQ(open_confirm_request(key, seal_raw(key, Bytes(kConfirmRequestHeadBytes, 0)), out),
            ChannelResult::kMalformed);
  EXPECT_TRUE(out.tuples.empty());
}

TEST(ConfirmProtocol, AnswerRoundTripsOneFlagPerTupleAndIsCheckedAgainstTheRequest) {
  const ChannelKey key = key_of(3);
  ChannelNonce nonce;
  randombytes_buf(nonce.data(), nonce.size());
  const std::vector<bool> flags = {true, false, false, true, true, false, false, false, true,
                                   false, true};
  const bool raw[] = {true, false, false, true, true, false, false, false, true, false, true};
  const std::vector<uint8_t> payload = encode_confirm_answer(raw);
  ASSERT_EQ(payload.size(), 2u + 2u);
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  const size_t n = seal_channel_reply(key, nonce, payload, buf, ChannelMessageType::kConfirmReply);
  const Bytes reply(buf.begin(), buf.begin() + static_cast<long>(n));
  std::vector<bool> got;
  ASSERT_EQ(open_confirm_reply(key, reply, nonce, flags.size(), got), ChannelResult::kOk);
  EXPECT_EQ(got, flags);
  // An answer for another batch size, another request, or of the secrets type is refused.
  EXPECT_EQ(open_confirm_reply(key, reply, nonce, flags.size() + 1, got),
            ChannelResult::kMalformed);
  ChannelNonce other = nonce;
  other[0] ^= 1;
  EXPECT_EQ(open_confirm_reply(key, reply, other, flags.size(), got), ChannelResult::kReplayed);
  const size_t m = seal_channel_reply(key, nonce, payload, buf);
  EXPECT_EQ(open_confirm_reply(key, Bytes(buf.begin(), buf.begin() + static_cast<long>(m)), nonce,
                               flags.size(), got),
            ChannelResult::kWrongType);
  // Bits past the last tuple set: not this encoder.
  std::vector<uint8_t> stray = payload;
  stray.back() |= 0x01;
  const size_t k = seal_channel_reply(key, nonce, stray, buf, ChannelMessageType::kConfirmReply);
  EXPECT_EQ(open_confirm_reply(key, Bytes(buf.begin(), buf.begin() + static_cast<long>(k)), nonce,
                               flags.size(), got),
            ChannelResult::kMalformed);
  EXPECT_TRUE(got.empty());
}

TEST(ConfirmProtocol, AReplyIsNeverLargerThanItsRequest) {
  const ChannelKey key = key_of(3);
  for (size_t count : {size_t{1}, size_t{8}, kConfirmMaxTuples}) {
    const std::vector<ConfirmTuple> tuples(count, v4("198.51.100.1", 1, "192.0.2.1", 2));
    ChannelNonce nonce;
    const Bytes req = seal(key, tuples, nonce);
    std::array<bool, kConfirmMaxTuples> all;
    all.fill(true);
    const std::vector<uint8_t> payload = encode_confirm_answer(std::span(all.data(), count));
    ASSERT_EQ(payload.size(), 2 + (count + 7) / 8);
    const size_t reply_len = kChannelReplyOverhead + payload.size();
    EXPECT_LT(reply_len, req.size()) << count << " tuples";
  }
}

// --- the agent's server ---------------------------------------------------------------------

bool wait_readable(int fd, int timeout_ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

ChannelServerOptions loopback_options() {
  ChannelServerOptions o;
  o.listen = "127.0.0.1:0";
  o.replies_per_s = 1;
  o.reply_burst = 2;
  return o;
}

// A server whose "socket table" knows exactly one tuple.
struct ConfirmServer : ::testing::Test {
  const ConfirmTuple known = v4("198.51.100.7", 40001, "192.0.2.10", 80);
  const ConfirmTuple unknown = v4("198.51.100.8", 40001, "192.0.2.10", 80);
  ChannelServer server{loopback_options(), key_of(4), [] { return std::string("{}"); }};
  UdpSocket client = UdpSocket::connect_to(server.local_address());
  size_t lookups = 0;

  void SetUp() override {
    server.serve_confirm([this](std::span<const ConfirmTuple> tuples, std::span<bool> out) {
      for (size_t i = 0; i < tuples.size(); ++i) out[i] = tuples[i] == known;
      ++lookups;
      return true;
    });
  }
  // Sends `d`, lets the server handle it at `now_ns`, returns the reply (empty when none).
  Bytes exchange(const Bytes& d, uint64_t now_ns = 1, uint64_t now_unix_ms = kUnixMs) {
    EXPECT_TRUE(client.send(d, nullptr));
    EXPECT_TRUE(wait_readable(server.fd()));
    server.handle_pending(now_ns, now_unix_ms);
    if (!wait_readable(client.fd(), 50)) return {};
    std::array<uint8_t, kChannelMaxMessageBytes> buf;
    const ssize_t n = client.receive(buf, nullptr);
    return n > 0 ? Bytes(buf.begin(), buf.begin() + n) : Bytes{};
  }
};

TEST_F(ConfirmServer, AnswersWhichTuplesAreEstablished) {
  ChannelNonce nonce;
  const Bytes reply = exchange(seal(key_of(4), {unknown, known, unknown}, nonce));
  std::vector<bool> got;
  ASSERT_EQ(open_confirm_reply(key_of(4), reply, nonce, 3, got), ChannelResult::kOk);
  EXPECT_EQ(got, (std::vector<bool>{false, true, false}));
  EXPECT_EQ(server.confirm_replies(), 1u);
  EXPECT_EQ(server.confirm_tuples_asked(), 3u);
  EXPECT_EQ(server.confirm_tuples_established(), 1u);
  EXPECT_EQ(server.counters().get(ChannelResult::kOk), 1u);
}

TEST_F(ConfirmServer, ReplayedForgedAndStaleRequestsGetNoAnswerAndNoLookup) {
  ChannelNonce nonce;
  const Bytes req = seal(key_of(4), {known}, nonce);
  EXPECT_FALSE(exchange(req).empty());
  EXPECT_TRUE(exchange(req).empty());
  EXPECT_EQ(server.counters().get(ChannelResult::kReplayed), 1u);
  EXPECT_TRUE(exchange(seal(key_of(5), {known}, nonce)).empty());
  EXPECT_EQ(server.counters().get(ChannelResult::kWrongKey), 1u);
  Bytes forged = seal(key_of(4), {known}, nonce);
  forged.back() ^= 0x10;
  EXPECT_TRUE(exchange(forged).empty());
  EXPECT_EQ(server.counters().get(ChannelResult::kAuthFailed), 1u);
  EXPECT_TRUE(exchange(seal(key_of(4), {known}, nonce, kUnixMs - 200'000)).empty());
  EXPECT_EQ(server.counters().get(ChannelResult::kStale), 1u);
  EXPECT_EQ(lookups, 1u);
}

TEST_F(ConfirmServer, OversizedAndMalformedRequestsAreCounted) {
  Bytes big(kChannelMaxMessageBytes + 1, 0);
  write_channel_header(big.data(), ChannelMessageType::kConfirmRequest, key_of(4).id(),
                       big.size() - kChannelHeaderBytes);
  EXPECT_TRUE(exchange(big).empty());
  EXPECT_EQ(server.counters().get(ChannelResult::kOversized), 1u);
  EXPECT_TRUE(exchange(seal_raw(key_of(4), plain_for(kConfirmMaxTuples + 1))).empty());
  EXPECT_EQ(server.counters().get(ChannelResult::kMalformed), 1u);
  EXPECT_EQ(lookups, 0u);
}

TEST_F(ConfirmServer, ConfirmationsShareTheRepliesRateLimitWithSecretsRequests) {
  // Burst 2, 1 a second: one secrets reply and one confirmation use the burst; the third
  // request within the same instant is refused whatever its type.
  ChannelNonce n1, n2, n3;
  std::array<uint8_t, kChannelRequestBytes> secrets_req;
  seal_channel_request(key_of(4), kUnixMs, n1, secrets_req);
  EXPECT_FALSE(exchange(Bytes(secrets_req.begin(), secrets_req.end())).empty());
  EXPECT_FALSE(exchange(seal(key_of(4), {known}, n2)).empty());
  EXPECT_TRUE(exchange(seal(key_of(4), {known}, n3)).empty());
  EXPECT_EQ(server.counters().get(ChannelResult::kRateLimited), 1u);
  ChannelNonce n4;
  EXPECT_FALSE(exchange(seal(key_of(4), {known}, n4), 1'000'000'001).empty());
}

TEST_F(ConfirmServer, AFailedLookupLeavesTheRequestUnanswered) {
  server.serve_confirm([](std::span<const ConfirmTuple>, std::span<bool>) { return false; });
  ChannelNonce nonce;
  EXPECT_TRUE(exchange(seal(key_of(4), {known}, nonce)).empty());
  EXPECT_EQ(server.confirm_errors(), 1u);
  EXPECT_EQ(server.replies_sent(), 0u);
}

TEST(ConfirmServerOff, WithoutALookupConfirmationsAreTheWrongType) {
  ChannelServer server(loopback_options(), key_of(4), [] { return std::string("{}"); });
  UdpSocket client = UdpSocket::connect_to(server.local_address());
  ChannelNonce nonce;
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  const size_t n =
      seal_confirm_request(key_of(4), kUnixMs, std::vector<ConfirmTuple>(1), nonce, buf);
  ASSERT_TRUE(client.send(std::span<const uint8_t>(buf.data(), n), nullptr));
  ASSERT_TRUE(wait_readable(server.fd()));
  server.handle_pending(1, kUnixMs);
  EXPECT_EQ(server.counters().get(ChannelResult::kWrongType), 1u);
  EXPECT_EQ(server.replies_sent(), 0u);
}

}  // namespace
}  // namespace synwarden
