// The secret channel's wire protocol (channel.h): what a valid exchange looks like, and that
// every kind of damaged, foreign or replayed datagram is refused with its own reason.
#include "synwarden/channel.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

namespace synwarden {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kSentMs = 1'790'000'000'123;

ChannelKey test_key(uint8_t fill) {
  std::array<uint8_t, kChannelKeyBytes> bytes;
  bytes.fill(fill);
  return ChannelKey::from_bytes(bytes);
}

Bytes make_request(const ChannelKey& key, ChannelNonce& nonce, uint64_t sent = kSentMs) {
  std::array<uint8_t, kChannelRequestBytes> buf;
  const size_t n = seal_channel_request(key, sent, nonce, buf);
  return Bytes(buf.begin(), buf.begin() + static_cast<long>(n));
}

Bytes make_reply(const ChannelKey& key, const ChannelNonce& nonce, const std::string& payload) {
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  const size_t n = seal_channel_reply(
      key, nonce,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()),
      buf);
  return Bytes(buf.begin(), buf.begin() + static_cast<long>(n));
}

ChannelResult open_req(const ChannelKey& key, const Bytes& d, ChannelRequest* out = nullptr) {
  ChannelRequest r;
  const ChannelResult res = open_channel_request(key, d, r);
  if (out != nullptr) *out = r;
  return res;
}

ChannelResult open_rep(const ChannelKey& key, const Bytes& d, const ChannelNonce& expect,
                       std::string* payload = nullptr) {
  std::string p;
  const ChannelResult res = open_channel_reply(key, d, expect, p);
  if (payload != nullptr) *payload = p;
  return res;
}

TEST(ChannelProtocol, RequestRoundTripCarriesSendTimeAndNonce) {
  const ChannelKey key = test_key(7);
  ChannelNonce nonce;
  const Bytes req = make_request(key, nonce);
  ASSERT_EQ(req.size(), kChannelRequestBytes);
  ChannelRequest opened;
  ASSERT_EQ(open_req(key, req, &opened), ChannelResult::kOk);
  EXPECT_EQ(opened.sent_unix_ms, kSentMs);
  EXPECT_EQ(opened.nonce, nonce);
}

TEST(ChannelProtocol, EveryRequestHasAFreshNonce) {
  const ChannelKey key = test_key(7);
  ChannelNonce a, b;
  const Bytes ra = make_request(key, a);
  const Bytes rb = make_request(key, b);
  EXPECT_NE(a, b);
  EXPECT_NE(ra, rb);
}

TEST(ChannelProtocol, HeaderIsVersionedAndLengthFramed) {
  const ChannelKey key = test_key(7);
  ChannelNonce nonce;
  const Bytes req = make_request(key, nonce);
  EXPECT_EQ(std::string(req.begin(), req.begin() + 4), "SWSC");
  EXPECT_EQ(req[4], kChannelVersion);
  EXPECT_EQ(req[5], static_cast<uint8_t>(ChannelMessageType::kRequest));
  const uint32_t body = (uint32_t{req[16]} << 24) | (uint32_t{req[17]} << 16) |
                        (uint32_t{req[18]} << 8) | req[19];
  EXPECT_EQ(body, req.size() - kChannelHeaderBytes);
  EXPECT_TRUE(std::equal(key.id().begin(), key.id().end(), req.begin() + 8));
}

TEST(ChannelProtocol, ReplyRoundTripEchoesTheRequestNonce) {
  const ChannelKey key = test_key(9);
  ChannelNonce nonce;
  make_request(key, nonce);
  const std::string doc = R"({"hz":1000})";
  const Bytes rep = make_reply(key, nonce, doc);
  std::string payload;
  ASSERT_EQ(open_rep(key, rep, nonce, &payload), ChannelResult::kOk);
  EXPECT_EQ(payload, doc);
}

TEST(ChannelProtocol, PayloadIsNotVisibleOnTheWire) {
  const ChannelKey key = test_key(9);
  ChannelNonce nonce{};
  const std::string secret = "syncookie_secret_0123456789abcdef";
  const Bytes rep = make_reply(key, nonce, secret);
  const std::string wire(rep.begin(), rep.end());
  EXPECT_EQ(wire.find("syncookie"), std::string::npos);
}

TEST(ChannelProtocol, ReplyToAnotherRequestIsReplayed) {
  // A captured reply sent back to a later request must not be accepted: the later request has
  // a different nonce.
  const ChannelKey key = test_key(9);
  ChannelNonce first, second;
  make_request(key, first);
  make_request(key, second);
  const Bytes old_reply = make_reply(key, first, "{}");
  std::string payload = "untouched";
  EXPECT_EQ(open_rep(key, old_reply, second, &payload), ChannelResult::kReplayed);
  EXPECT_TRUE(payload.empty());
}

TEST(ChannelProtocol, WrongKeyIsToldApartFromTampering) {
  const ChannelKey agent_key = test_key(1);
  const ChannelKey firewall_key = test_key(2);
  ChannelNonce nonce;
  const Bytes req = make_request(firewall_key, nonce);
  EXPECT_EQ(open_req(agent_key, req), ChannelResult::kWrongKey);
  const Bytes rep = make_reply(agent_key, nonce, "{}");
  EXPECT_EQ(open_rep(firewall_key, rep, nonce), ChannelResult::kWrongKey);
}

TEST(ChannelProtocol, AnyFlippedBitAfterTheHeaderFailsAuthentication) {
  const ChannelKey key = test_key(3);
  ChannelNonce nonce;
  const Bytes req = make_request(key, nonce);
  for (size_t i = kChannelHeaderBytes; i < req.size(); ++i) {
    Bytes bad = req;
    bad[i] ^= 0x01;
    EXPECT_EQ(open_req(key, bad), ChannelResult::kAuthFailed) << "byte " << i;
  }
  const Bytes rep = make_reply(key, nonce, R"({"mono_ms":1})");
  for (size_t i = kChannelHeaderBytes; i < rep.size(); ++i) {
    Bytes bad = rep;
    bad[i] ^= 0x80;
    EXPECT_EQ(open_rep(key, bad, nonce), ChannelResult::kAuthFailed) << "byte " << i;
  }
}

TEST(ChannelProtocol, HeaderTamperingIsRefused) {
  const ChannelKey key = test_key(3);
  ChannelNonce nonce;
  const Bytes req = make_request(key, nonce);
  Bytes magic = req;
  magic[0] = 'X';
  EXPECT_EQ(open_req(key, magic), ChannelResult::kBadMagic);
  Bytes version = req;
  version[4] = kChannelVersion + 1;
  EXPECT_EQ(open_req(key, version), ChannelResult::kWrongVersion);
  Bytes type = req;
  type[5] = static_cast<uint8_t>(ChannelMessageType::kReply);
  EXPECT_EQ(open_req(key, type), ChannelResult::kWrongType);
  Bytes reserved = req;
  reserved[7] = 1;
  EXPECT_EQ(open_req(key, reserved), ChannelResult::kMalformed);
  Bytes key_id = req;
  key_id[8] ^= 1;
  EXPECT_EQ(open_req(key, key_id), ChannelResult::kWrongKey);
}

TEST(ChannelProtocol, RequestPresentedAsReplyIsWrongType) {
  const ChannelKey key = test_key(4);
  ChannelNonce nonce;
  const Bytes req = make_request(key, nonce);
  EXPECT_EQ(open_rep(key, req, nonce), ChannelResult::kWrongType);
}

TEST(ChannelProtocol, TruncatedDatagramsAreRefusedBeforeDecryption) {
  const ChannelKey key = test_key(5);
  ChannelNonce nonce;
  const Bytes rep = make_reply(key, nonce, std::string(300, 'x'));
  for (size_t len : {size_t{0}, size_t{1}, kChannelHeaderBytes - 1, kChannelHeaderBytes,
                     kChannelHeaderBytes + 30, rep.size() - 1}) {
    const Bytes cut(rep.begin(), rep.begin() + static_cast<long>(len));
    EXPECT_EQ(open_rep(key, cut, nonce), ChannelResult::kTruncated) << "length " << len;
  }
}

TEST(ChannelProtocol, PaddedDatagramIsALengthMismatch) {
  const ChannelKey key = test_key(5);
  ChannelNonce nonce;
  Bytes req = make_request(key, nonce);
  req.push_back(0);
  EXPECT_EQ(open_req(key, req), ChannelResult::kLengthMismatch);
}

TEST(ChannelProtocol, DeclaredBodyTooShortForItsTypeIsMalformed) {
  const ChannelKey key = test_key(5);
  ChannelNonce nonce;
  Bytes req = make_request(key, nonce);
  // Consistent framing (header says 39 bytes and 39 follow) but no room for the plaintext.
  req.resize(kChannelHeaderBytes + kChannelNonceBytes + kChannelTagBytes - 1);
  req[19] = static_cast<uint8_t>(req.size() - kChannelHeaderBytes);
  EXPECT_EQ(open_req(key, req), ChannelResult::kMalformed);
}

TEST(ChannelProtocol, OversizedDatagramIsRefused) {
  const ChannelKey key = test_key(6);
  ChannelNonce nonce;
  Bytes big = make_reply(key, nonce, "{}");
  big.resize(kChannelMaxMessageBytes + 1, 0);
  EXPECT_EQ(open_rep(key, big, nonce), ChannelResult::kOversized);
}

TEST(ChannelProtocol, PayloadTooLargeIsNotSealed) {
  const ChannelKey key = test_key(6);
  ChannelNonce nonce{};
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  const std::string fits(kChannelMaxPayloadBytes, 'a');
  EXPECT_EQ(seal_channel_reply(key, nonce,
                               std::span<const uint8_t>(
                                   reinterpret_cast<const uint8_t*>(fits.data()), fits.size()),
                               buf),
            kChannelMaxMessageBytes);
  const std::string too_big(kChannelMaxPayloadBytes + 1, 'a');
  EXPECT_EQ(seal_channel_reply(key, nonce,
                               std::span<const uint8_t>(
                                   reinterpret_cast<const uint8_t*>(too_big.data()),
                                   too_big.size()),
                               buf),
            0u);
}

TEST(ChannelProtocol, RandomGarbageNeverOpens) {
  const ChannelKey key = test_key(8);
  ChannelCounters counters;
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(randombytes_uniform(200));
    if (!junk.empty()) randombytes_buf(junk.data(), junk.size());
    if (i % 2 == 0 && junk.size() >= kChannelHeaderBytes) {
      // Half of them look like our header, to get past the cheap checks.
      std::copy(kChannelMagic.begin(), kChannelMagic.end(), junk.begin());
      junk[4] = kChannelVersion;
      junk[5] = 1;
      junk[6] = junk[7] = 0;
      std::copy(key.id().begin(), key.id().end(), junk.begin() + 8);
      const auto body = static_cast<uint32_t>(junk.size() - kChannelHeaderBytes);
      junk[16] = 0;
      junk[17] = 0;
      junk[18] = static_cast<uint8_t>(body >> 8);
      junk[19] = static_cast<uint8_t>(body);
    }
    ChannelRequest r;
    const ChannelResult res = open_channel_request(key, junk, r);
    counters.count(res);
    ASSERT_NE(res, ChannelResult::kOk);
  }
  EXPECT_EQ(counters.get(ChannelResult::kOk), 0u);
  EXPECT_EQ(counters.rejected(), 2000u);
}

TEST(ChannelCounters, CountEachReasonSeparately) {
  ChannelCounters c;
  c.count(ChannelResult::kOk);
  c.count(ChannelResult::kWrongKey);
  c.count(ChannelResult::kWrongKey);
  c.count(ChannelResult::kReplayed);
  EXPECT_EQ(c.get(ChannelResult::kOk), 1u);
  EXPECT_EQ(c.get(ChannelResult::kWrongKey), 2u);
  EXPECT_EQ(c.get(ChannelResult::kReplayed), 1u);
  EXPECT_EQ(c.rejected(), 3u);
}

TEST(ChannelCounters, EveryResultHasADistinctName) {
  std::vector<std::string> names;
  for (size_t i = 0; i < kChannelResultCount; ++i) {
    names.emplace_back(channel_result_name(static_cast<ChannelResult>(i)));
    EXPECT_NE(names.back(), "unknown");
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());
}

TEST(ChannelKey, KeyIdDependsOnTheKeyOnly) {
  EXPECT_EQ(test_key(1).id(), test_key(1).id());
  EXPECT_NE(test_key(1).id(), test_key(2).id());
  const ChannelKey k = test_key(1);
  // The id must not simply be a prefix of the key.
  EXPECT_FALSE(std::equal(k.id().begin(), k.id().end(), k.data()));
}

}  // namespace
}  // namespace synwarden
