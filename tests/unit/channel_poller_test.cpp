// The secret channel end to end over loopback UDP: the agent's ChannelServer answering the
// firewall's SecretPoller, and what each side does with silence, foreign keys, replays, stale or
// excessive requests and refused documents. Time is passed in explicitly, so no test sleeps
// longer than a loopback datagram takes.
#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "synwarden/channel.h"
#include "synwarden/channel_poller.h"
#include "synwarden/channel_server.h"
#include "synwarden/secrets.h"

namespace synwarden {
namespace {

constexpr uint64_t kUnixMs = 1'790'000'000'000;

HostSecrets sample_secrets(uint64_t mono_ms) {
  HostSecrets s;
  s.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
  s.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
  s.ts_offset = TsOffsetMode::kPerConnection;
  s.ts_key = SipKey{9, 10};
  s.rcv_wscale = 10;
  s.clock = HostClockSample{mono_ms, 1000, mono_ms};
  return s;
}

ChannelKey key_of(uint8_t fill) {
  std::array<uint8_t, kChannelKeyBytes> b;
  b.fill(fill);
  return ChannelKey::from_bytes(b);
}

bool wait_readable(int fd, int timeout_ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// Records what the poller reports.
struct Observer {
  std::vector<HostSecrets> secrets;
  std::vector<std::pair<SecretsState, std::string>> transitions;

  SecretPoller::SecretsFn secrets_fn() {
    return [this](const HostSecrets& s, uint64_t) { secrets.push_back(s); };
  }
  SecretPoller::StateFn state_fn() {
    return [this](SecretsState, SecretsState to, const std::string& why) {
      transitions.emplace_back(to, why);
    };
  }
};

SecretPollerOptions poller_options(uint16_t port, FailPolicy policy = FailPolicy::kClosed) {
  SecretPollerOptions o;
  o.host = "web1";
  o.agent = "127.0.0.1:" + std::to_string(port);
  o.interval_ms = 1000;
  o.reply_timeout_ms = 800;
  o.hold_ms = 30'000;
  o.fail_policy = policy;
  return o;
}

ChannelServerOptions server_options() {
  ChannelServerOptions o;
  o.listen = "127.0.0.1:0";
  return o;
}

class ServerAndPoller : public ::testing::Test {
 protected:
  void make(uint8_t server_key, uint8_t poller_key, FailPolicy policy = FailPolicy::kClosed,
            ChannelServerOptions opts = server_options()) {
    server_.emplace(opts, key_of(server_key),
                    [this] { return serialize_secrets(sample_secrets(++payloads_)); });
    poller_.emplace(poller_options(server_->local_address().port(), policy), key_of(poller_key),
                    observer_.secrets_fn(), observer_.state_fn());
  }

  // One poll cycle at firewall time `now`: request out, server answers (if it can), reply in.
  void cycle(uint64_t now) {
    poller_->tick(now, kUnixMs + now);
    if (wait_readable(server_->fd())) server_->handle_pending(now * 1'000'000, kUnixMs + now);
    if (wait_readable(poller_->fd(), 200)) poller_->on_readable(now + 1);
  }

  Observer observer_;
  uint64_t payloads_ = 0;
  std::optional<ChannelServer> server_;
  std::optional<SecretPoller> poller_;
};

TEST_F(ServerAndPoller, ValidExchangeDeliversTheAgentsDocument) {
  make(1, 1);
  EXPECT_EQ(poller_->state(), SecretsState::kNoSecrets);
  cycle(10'000);
  ASSERT_EQ(observer_.secrets.size(), 1u);
  EXPECT_EQ(observer_.secrets[0], sample_secrets(1));
  EXPECT_EQ(poller_->state(), SecretsState::kFresh);
  EXPECT_EQ(poller_->stats().replies_accepted, 1u);
  EXPECT_EQ(server_->counters().get(ChannelResult::kOk), 1u);
  EXPECT_EQ(server_->replies_sent(), 1u);
  EXPECT_EQ(poller_->channel_counters().get(ChannelResult::kOk), 1u);
}

TEST_F(ServerAndPoller, PollsOncePerInterval) {
  make(1, 1);
  const uint64_t t0 = 10'000;
  EXPECT_EQ(poller_->tick(t0, kUnixMs), t0 + 800);          // waits for the reply
  EXPECT_EQ(poller_->stats().requests_sent, 1u);
  poller_->tick(t0 + 500, kUnixMs);
  EXPECT_EQ(poller_->stats().requests_sent, 1u);
  poller_->tick(t0 + 1000, kUnixMs);
  EXPECT_EQ(poller_->stats().requests_sent, 2u);
}

TEST_F(ServerAndPoller, SilentAgentHoldsThenAppliesClosedPolicy) {
  make(1, 1, FailPolicy::kClosed);
  cycle(10'000);
  ASSERT_EQ(poller_->state(), SecretsState::kFresh);
  // From now on the agent answers nothing.
  poller_->tick(11'000, kUnixMs);
  poller_->tick(11'800, kUnixMs);
  EXPECT_EQ(poller_->state(), SecretsState::kHolding);
  EXPECT_EQ(poller_->stats().timeouts, 1u);
  poller_->tick(40'001, kUnixMs);
  EXPECT_EQ(poller_->state(), SecretsState::kHolding);   // 30.0 s old: still held
  poller_->tick(40'002, kUnixMs);
  EXPECT_EQ(poller_->state(), SecretsState::kExpired);
  EXPECT_TRUE(fail_policy_applies(poller_->state()));
  ASSERT_FALSE(observer_.transitions.empty());
  const std::string& why = observer_.transitions.back().second;
  EXPECT_NE(why.find("fail policy closed: SYNs to web1 are dropped"), std::string::npos) << why;
  // The agent comes back: fresh again (it also answers the requests queued while it was silent;
  // those replies match no outstanding request and are counted as replayed).
  cycle(41'001);
  EXPECT_EQ(poller_->state(), SecretsState::kFresh);
}

TEST_F(ServerAndPoller, OpenPolicyIsAnnouncedWhileWaitingForFirstSecrets) {
  make(1, 1, FailPolicy::kOpen);
  poller_->tick(5'000, kUnixMs);
  ASSERT_FALSE(observer_.transitions.empty());
  EXPECT_EQ(observer_.transitions.front().first, SecretsState::kNoSecrets);
  EXPECT_NE(observer_.transitions.front().second.find("forwarded to it unprotected"),
            std::string::npos);
  EXPECT_TRUE(fail_policy_applies(poller_->state()));
}

TEST_F(ServerAndPoller, WrongKeyIsCountedByTheAgentAndNeverAnswered) {
  make(1, 2);
  cycle(10'000);
  EXPECT_TRUE(observer_.secrets.empty());
  EXPECT_EQ(server_->counters().get(ChannelResult::kWrongKey), 1u);
  EXPECT_EQ(server_->replies_sent(), 0u);
  poller_->tick(10'800, kUnixMs);
  EXPECT_EQ(poller_->stats().timeouts, 1u);
  EXPECT_EQ(poller_->state(), SecretsState::kNoSecrets);
}

TEST_F(ServerAndPoller, RequestsFromAFirewallWithAWrongClockAreStale) {
  make(1, 1);
  poller_->tick(10'000, kUnixMs);
  ASSERT_TRUE(wait_readable(server_->fd()));
  server_->handle_pending(1, kUnixMs + 10'000 + 121'000);   // agent clock 121 s ahead
  EXPECT_EQ(server_->counters().get(ChannelResult::kStale), 1u);
  EXPECT_EQ(server_->replies_sent(), 0u);
}

TEST_F(ServerAndPoller, AgentRateLimitsReplies) {
  ChannelServerOptions o = server_options();
  o.replies_per_s = 1;
  o.reply_burst = 2;
  make(1, 1, FailPolicy::kClosed, o);
  // Three polls within the same instant of the agent's clock: the third exceeds the burst.
  for (uint64_t t : {10'000u, 11'000u, 12'000u}) {
    poller_->tick(t, kUnixMs + t);
    ASSERT_TRUE(wait_readable(server_->fd()));
    server_->handle_pending(5, kUnixMs + t);
  }
  EXPECT_EQ(server_->replies_sent(), 2u);
  EXPECT_EQ(server_->counters().get(ChannelResult::kRateLimited), 1u);
}

TEST_F(ServerAndPoller, PayloadFailureLeavesTheRequestUnanswered) {
  ChannelServer server(server_options(), key_of(1),
                       []() -> std::string { throw std::runtime_error("cannot read sysctl"); });
  SecretPoller poller(poller_options(server.local_address().port()), key_of(1),
                      observer_.secrets_fn());
  poller.tick(1'000, kUnixMs);
  ASSERT_TRUE(wait_readable(server.fd()));
  server.handle_pending(1, kUnixMs);
  EXPECT_EQ(server.payload_errors(), 1u);
  EXPECT_EQ(server.replies_sent(), 0u);
}

// A stand-in agent whose replies the test controls.
class ScriptedAgent : public ::testing::Test {
 protected:
  ScriptedAgent()
      : agent_(UdpSocket::bind_to(SocketAddress::parse("127.0.0.1:0", true))),
        poller_(poller_options(agent_.local_address().port()), key_of(3), observer_.secrets_fn(),
                observer_.state_fn()) {}

  // Receives the poller's next request; returns its nonce and the poller's address.
  ChannelNonce next_request(uint64_t now, SocketAddress& from) {
    poller_.tick(now, kUnixMs + now);
    EXPECT_TRUE(wait_readable(agent_.fd()));
    std::array<uint8_t, kChannelMaxMessageBytes> buf;
    const ssize_t n = agent_.receive(buf, &from);
    ChannelRequest req;
    EXPECT_EQ(open_channel_request(key_of(3),
                                   std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)),
                                   req),
              ChannelResult::kOk);
    return req.nonce;
  }

  std::vector<uint8_t> reply(const ChannelNonce& nonce, const std::string& payload) {
    std::array<uint8_t, kChannelMaxMessageBytes> buf;
    const size_t n = seal_channel_reply(
        key_of(3), nonce,
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()),
        buf);
    return {buf.begin(), buf.begin() + static_cast<long>(n)};
  }

  void deliver(const std::vector<uint8_t>& datagram, const SocketAddress& to, uint64_t now) {
    ASSERT_TRUE(agent_.send(datagram, &to));
    ASSERT_TRUE(wait_readable(poller_.fd()));
    poller_.on_readable(now);
  }

  Observer observer_;
  UdpSocket agent_;
  SecretPoller poller_;
};

TEST_F(ScriptedAgent, CapturedReplyReplayedToALaterRequestIsRefused) {
  SocketAddress poller_addr;
  const ChannelNonce first = next_request(1'000, poller_addr);
  const auto captured = reply(first, serialize_secrets(sample_secrets(1)));
  deliver(captured, poller_addr, 1'001);
  ASSERT_EQ(observer_.secrets.size(), 1u);

  next_request(2'000, poller_addr);
  deliver(captured, poller_addr, 2'001);
  EXPECT_EQ(observer_.secrets.size(), 1u);
  EXPECT_EQ(poller_.channel_counters().get(ChannelResult::kReplayed), 1u);
}

TEST_F(ScriptedAgent, DuplicateReplyToTheSameRequestIsAcceptedOnce) {
  SocketAddress poller_addr;
  const ChannelNonce nonce = next_request(1'000, poller_addr);
  const auto r = reply(nonce, serialize_secrets(sample_secrets(1)));
  deliver(r, poller_addr, 1'001);
  deliver(r, poller_addr, 1'002);
  EXPECT_EQ(observer_.secrets.size(), 1u);
  EXPECT_EQ(poller_.channel_counters().get(ChannelResult::kReplayed), 1u);
}

TEST_F(ScriptedAgent, AuthenticDocumentTheParserRefusesIsCountedAndNotUsed) {
  SocketAddress poller_addr;
  const ChannelNonce nonce = next_request(1'000, poller_addr);
  deliver(reply(nonce, R"({"hz": 1000})"), poller_addr, 1'001);
  EXPECT_TRUE(observer_.secrets.empty());
  EXPECT_EQ(poller_.stats().payload_rejected, 1u);
  EXPECT_EQ(poller_.state(), SecretsState::kNoSecrets);
}

TEST_F(ScriptedAgent, AllZeroKeysAreRefused) {
  SocketAddress poller_addr;
  const ChannelNonce nonce = next_request(1'000, poller_addr);
  HostSecrets s = sample_secrets(1);
  s.syncookie6 = {};
  deliver(reply(nonce, serialize_secrets(s)), poller_addr, 1'001);
  EXPECT_TRUE(observer_.secrets.empty());
  EXPECT_EQ(poller_.stats().payload_rejected, 1u);
}

TEST_F(ScriptedAgent, TamperedReplyIsRefusedAndTheRealOneStillAccepted) {
  SocketAddress poller_addr;
  const ChannelNonce nonce = next_request(1'000, poller_addr);
  auto good = reply(nonce, serialize_secrets(sample_secrets(1)));
  auto bad = good;
  bad[bad.size() / 2] ^= 0x10;
  deliver(bad, poller_addr, 1'001);
  EXPECT_EQ(poller_.channel_counters().get(ChannelResult::kAuthFailed), 1u);
  EXPECT_TRUE(observer_.secrets.empty());
  deliver(good, poller_addr, 1'002);
  EXPECT_EQ(observer_.secrets.size(), 1u);
}

TEST_F(ScriptedAgent, OversizedDatagramIsCountedNotRead) {
  SocketAddress poller_addr;
  next_request(1'000, poller_addr);
  deliver(std::vector<uint8_t>(kChannelMaxMessageBytes + 100, 0x53), poller_addr, 1'001);
  EXPECT_EQ(poller_.channel_counters().get(ChannelResult::kOversized), 1u);
}

TEST(ChannelServer, ReplayedRequestIsAnsweredOnlyOnce) {
  ChannelServer server(server_options(), key_of(4),
                       [] { return serialize_secrets(sample_secrets(1)); });
  UdpSocket client = UdpSocket::connect_to(server.local_address());
  ChannelNonce nonce;
  std::array<uint8_t, kChannelRequestBytes> req;
  seal_channel_request(key_of(4), kUnixMs, nonce, req);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.send(req, nullptr));
    ASSERT_TRUE(wait_readable(server.fd()));
    server.handle_pending(1, kUnixMs);
  }
  EXPECT_EQ(server.replies_sent(), 1u);
  EXPECT_EQ(server.counters().get(ChannelResult::kReplayed), 1u);
}

TEST(ChannelServer, RejectionsAreReportedWithReasonAndSourceOnly) {
  std::vector<std::pair<ChannelResult, std::string>> seen;
  ChannelServer server(server_options(), key_of(4), [] { return std::string("{}"); },
                       [&](ChannelResult r, const SocketAddress& from) {
                         seen.emplace_back(r, from.to_string());
                       });
  UdpSocket client = UdpSocket::connect_to(server.local_address());
  const std::vector<uint8_t> junk(10, 0x41);
  ASSERT_TRUE(client.send(junk, nullptr));
  ASSERT_TRUE(wait_readable(server.fd()));
  server.handle_pending(1, kUnixMs);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, ChannelResult::kTruncated);
  EXPECT_EQ(seen[0].second, client.local_address().to_string());
}

TEST(SocketAddress, ParsesBothFamiliesAndRefusesNames) {
  EXPECT_EQ(SocketAddress::parse("192.0.2.7:7070").to_string(), "192.0.2.7:7070");
  EXPECT_EQ(SocketAddress::parse("[2001:db8::7]:7070").to_string(), "[2001:db8::7]:7070");
  EXPECT_THROW(SocketAddress::parse("agent.example:7070"), ChannelSocketError);
  EXPECT_THROW(SocketAddress::parse("192.0.2.7"), ChannelSocketError);
  EXPECT_THROW(SocketAddress::parse("192.0.2.7:0"), ChannelSocketError);
  EXPECT_THROW(SocketAddress::parse("192.0.2.7:65536"), ChannelSocketError);
  EXPECT_THROW(SocketAddress::parse("2001:db8::7:7070"), ChannelSocketError);
}

TEST(FailPolicy, ParsesOnlyTheTwoPolicies) {
  EXPECT_EQ(parse_fail_policy("open"), FailPolicy::kOpen);
  EXPECT_EQ(parse_fail_policy("closed"), FailPolicy::kClosed);
  EXPECT_THROW(parse_fail_policy("drop"), std::invalid_argument);
}

}  // namespace
}  // namespace synwarden
