// The firewall's ConfirmClient against the agent's ChannelServer over loopback UDP: an answer
// reaches the caller with the tuples it asked about, one request is outstanding at a time, a
// silent or rate-limiting agent costs a timeout, and a late or foreign answer is never used.
#include "synwarden/channel_confirm_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "synwarden/channel_server.h"

namespace synwarden {
namespace {

constexpr uint64_t kUnixMs = 1'790'000'000'000;

ChannelKey key_of(uint8_t fill) {
  std::array<uint8_t, kChannelKeyBytes> b;
  b.fill(fill);
  return ChannelKey::from_bytes(b);
}

ConfirmTuple v4(const char* client, uint16_t cport) {
  ConfirmTuple t;
  t.family = 4;
  EXPECT_EQ(inet_pton(AF_INET, client, t.client_addr.data()), 1);
  EXPECT_EQ(inet_pton(AF_INET, "192.0.2.10", t.host_addr.data()), 1);
  t.client_port = cport;
  t.host_port = 443;
  return t;
}

bool wait_readable(int fd, int timeout_ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

struct Answer {
  std::vector<ConfirmTuple> tuples;
  std::vector<bool> established;
};

class ClientAndAgent : public ::testing::Test {
 protected:
  static ChannelServerOptions options() {
    ChannelServerOptions o;
    o.listen = "127.0.0.1:0";
    o.replies_per_s = 1;
    o.reply_burst = 1;
    return o;
  }
  void SetUp() override {
    server_.serve_confirm([this](std::span<const ConfirmTuple> tuples, std::span<bool> out) {
      for (size_t i = 0; i < tuples.size(); ++i) out[i] = tuples[i] == live_;
      return true;
    });
  }
  ConfirmClient make_client(uint8_t key_fill = 6) {
    ConfirmClientOptions o;
    o.agent = server_.local_address().to_string();
    o.reply_timeout_ms = 500;
    return ConfirmClient(o, key_of(key_fill), [this](std::span<const ConfirmTuple> t,
                                                    const std::vector<bool>& e) {
      answers_.push_back(Answer{std::vector<ConfirmTuple>(t.begin(), t.end()), e});
    });
  }
  // The agent handles what is waiting (at `agent_ns`); the client reads what came back.
  void round_trip(ConfirmClient& client, uint64_t now_ms, uint64_t agent_ns = 1) {
    ASSERT_TRUE(wait_readable(server_.fd()));
    server_.handle_pending(agent_ns, kUnixMs);
    if (wait_readable(client.fd(), 100)) client.on_readable(now_ms);
  }

  const ConfirmTuple live_ = v4("198.51.100.7", 40001);
  ChannelServer server_{options(), key_of(6), [] { return std::string("{}"); }};
  std::vector<Answer> answers_;
};

TEST_F(ClientAndAgent, TheAnswerReachesTheCallerWithTheTuplesAsked) {
  ConfirmClient client = make_client();
  const std::vector<ConfirmTuple> batch = {v4("198.51.100.8", 1), live_, v4("203.0.113.1", 2)};
  ASSERT_TRUE(client.ask(batch, 1'000, kUnixMs));
  EXPECT_TRUE(client.busy());
  round_trip(client, 1'001);
  ASSERT_EQ(answers_.size(), 1u);
  EXPECT_EQ(answers_[0].tuples, batch);
  EXPECT_EQ(answers_[0].established, (std::vector<bool>{false, true, false}));
  EXPECT_FALSE(client.busy());
  const ConfirmClientStats s = client.stats();
  EXPECT_EQ(s.requests_sent, 1u);
  EXPECT_EQ(s.replies, 1u);
  EXPECT_EQ(s.tuples_asked, 3u);
  EXPECT_EQ(s.tuples_confirmed, 1u);
  EXPECT_EQ(s.tuples_refused, 2u);
}

TEST_F(ClientAndAgent, OneRequestIsOutstandingAtATime) {
  ConfirmClient client = make_client();
  ASSERT_TRUE(client.ask(std::vector<ConfirmTuple>{live_}, 1'000, kUnixMs));
  EXPECT_FALSE(client.ask(std::vector<ConfirmTuple>{live_}, 1'001, kUnixMs));
  EXPECT_FALSE(client.ask({}, 1'001, kUnixMs));
  EXPECT_EQ(client.stats().requests_sent, 1u);
}

TEST_F(ClientAndAgent, ARateLimitingAgentCostsATimeoutAndTheNextRequestGoesOut) {
  ConfirmClient client = make_client();
  ASSERT_TRUE(client.ask(std::vector<ConfirmTuple>{live_}, 1'000, kUnixMs));
  round_trip(client, 1'001);                       // burst of 1: answered
  ASSERT_TRUE(client.ask(std::vector<ConfirmTuple>{live_}, 1'002, kUnixMs));
  round_trip(client, 1'003);                       // same instant: refused by the agent
  EXPECT_EQ(server_.counters().get(ChannelResult::kRateLimited), 1u);
  EXPECT_TRUE(client.busy());
  client.tick(1'400);
  EXPECT_TRUE(client.busy());
  client.tick(1'502);
  EXPECT_FALSE(client.busy());
  EXPECT_EQ(client.stats().timeouts, 1u);
  EXPECT_EQ(answers_.size(), 1u);
}

TEST_F(ClientAndAgent, AnAnswerArrivingAfterTheTimeoutIsNotUsed) {
  ConfirmClient client = make_client();
  ASSERT_TRUE(client.ask(std::vector<ConfirmTuple>{live_}, 1'000, kUnixMs));
  ASSERT_TRUE(wait_readable(server_.fd()));
  server_.handle_pending(1, kUnixMs);
  ASSERT_TRUE(wait_readable(client.fd()));
  client.on_readable(1'600);   // read only after the timeout passed
  EXPECT_TRUE(answers_.empty());
  EXPECT_EQ(client.stats().timeouts, 1u);
  EXPECT_EQ(client.channel_counters().get(ChannelResult::kReplayed), 1u);
}

TEST_F(ClientAndAgent, AFirewallWithAnotherKeyIsNeverAnswered) {
  ConfirmClient client = make_client(/*key_fill=*/7);
  ASSERT_TRUE(client.ask(std::vector<ConfirmTuple>{live_}, 1'000, kUnixMs));
  round_trip(client, 1'001);
  EXPECT_EQ(server_.counters().get(ChannelResult::kWrongKey), 1u);
  EXPECT_TRUE(answers_.empty());
  EXPECT_EQ(server_.replies_sent(), 0u);
}

}  // namespace
}  // namespace synwarden
