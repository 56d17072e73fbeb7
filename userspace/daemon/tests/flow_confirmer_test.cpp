// The confirmer (flow_confirmer.h) against a real agent-side ChannelServer over loopback: the
// candidates a worker reports reach the host's agent in one request, the flows the agent
// confirms are learnt (with the key the datapath reported, VLAN tags included), the others are
// not, a silent agent costs a timeout, and hosts without a confirming agent are never asked.
#include "flow_confirmer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "confirm_test_keys.h"
#include "synwarden/channel_server.h"
#include "synwarden/clock_now.h"

namespace synwarden::daemon {
namespace {

// flow_key() as a datapath reports it from a VLAN (`vlan` outer tag).
sw_flow_key key_v4(const char* client, uint16_t cport, const char* host, uint16_t vlan = 0) {
  sw_flow_key k = flow_key(client, cport, host);
  k.vlan_outer = vlan;
  return k;
}

// An agent in a thread of its own, answering from `live` (the host's "socket table").
class Agent {
 public:
  Agent(const std::string& key_file, std::vector<ConfirmTuple> live)
      : live_(std::move(live)),
        server_(options(), ChannelKey::load_file(key_file), [] { return std::string("{}"); }) {
    server_.serve_confirm([this](std::span<const ConfirmTuple> tuples, std::span<bool> out) {
      for (size_t i = 0; i < tuples.size(); ++i) {
        out[i] = std::find(live_.begin(), live_.end(), tuples[i]) != live_.end();
        ++looked_up_;
      }
      return true;
    });
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{server_.fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) == 1) server_.handle_pending(monotonic_ms() * 1'000'000, unix_time_ms());
      }
    });
  }
  ~Agent() {
    stop_ = true;
    thread_.join();
  }
  std::string address() const { return server_.local_address().to_string(); }
  uint64_t looked_up() const { return looked_up_; }

 private:
  static ChannelServerOptions options() {
    ChannelServerOptions o;
    o.listen = "127.0.0.1:0";
    return o;
  }
  std::vector<ConfirmTuple> live_;
  ChannelServer server_;
  std::atomic<uint64_t> looked_up_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class FlowConfirmerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sw-confirmer-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    key_file_ = dir_ / "host.key";
    ChannelKey::write_new_file(key_file_.string());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  FlowConfirmer make(std::vector<CandidateQueue*> queues) {
    ConfirmerOptions o;
    o.reply_timeout_ms = 300;
    return FlowConfirmer(o, nullptr, std::move(queues), [this](const sw_flow_key& k) {
      std::lock_guard lock(mutex_);
      learnt_.push_back(k);
      return true;
    });
  }
  ConfirmHost host(const char* text, const std::string& agent) {
    return ConfirmHost{address(text), text, agent, key_file_};
  }
  // Rounds until `done` or 3 s.
  template <typename Done>
  void run_until(FlowConfirmer& c, Done done) {
    const uint64_t end = monotonic_ms() + 3000;
    while (!done() && monotonic_ms() < end) c.run_round(monotonic_ms(), 20);
  }

  std::filesystem::path dir_, key_file_;
  std::mutex mutex_;
  std::vector<sw_flow_key> learnt_;
};

TEST_F(FlowConfirmerTest, LearnsExactlyTheFlowsTheAgentConfirms) {
  const sw_flow_key live = key_v4("198.51.100.7", 40001, "192.0.2.10", 12);
  const sw_flow_key gone = key_v4("198.51.100.7", 40002, "192.0.2.10", 12);
  const sw_flow_key forged = key_v4("203.0.113.9", 5555, "192.0.2.10");
  Agent agent(key_file_.string(), {confirm_tuple_of(live)});
  CandidateQueue worker(2000);
  FlowConfirmer c = make({&worker});
  c.set_hosts({host("192.0.2.10", agent.address())});
  for (const auto& k : {live, gone, forged, live}) worker.report(k, 1'000'000'000);
  run_until(c, [&] { return c.counters().confirmed + c.counters().refused == 3; });

  const ConfirmerCounters n = c.counters();
  EXPECT_EQ(n.candidates_reported, 4u);
  EXPECT_EQ(n.candidates_duplicate, 1u) << "the retransmitted live segment is asked once";
  EXPECT_EQ(n.requests, 1u) << "three tuples of one host: one request";
  EXPECT_EQ(n.asked, 3u);
  EXPECT_EQ(n.confirmed, 1u);
  EXPECT_EQ(n.refused, 2u);
  EXPECT_EQ(agent.looked_up(), 3u);
  std::lock_guard lock(mutex_);
  ASSERT_EQ(learnt_.size(), 1u);
  EXPECT_TRUE(same(learnt_[0], live)) << "learnt with the reported key, VLAN included";
  EXPECT_LT(n.max_confirm_ms, 1000u);
}

TEST_F(FlowConfirmerTest, CandidatesOfAHostWithoutAConfirmingAgentAreNeverSent) {
  Agent agent(key_file_.string(), {});
  CandidateQueue worker(2000);
  FlowConfirmer c = make({&worker});
  c.set_hosts({host("192.0.2.10", agent.address())});
  worker.report(key_v4("198.51.100.7", 40001, "192.0.2.99"), 1'000'000'000);
  for (int i = 0; i < 5; ++i) c.run_round(monotonic_ms(), 20);
  EXPECT_EQ(c.counters().requests, 0u);
  EXPECT_EQ(agent.looked_up(), 0u);
}

TEST_F(FlowConfirmerTest, ASilentAgentCostsATimeoutAndNothingIsLearnt) {
  // An agent's socket that nobody serves.
  ChannelServerOptions o;
  o.listen = "127.0.0.1:0";
  const ChannelServer silent(o, ChannelKey::load_file(key_file_.string()),
                             [] { return std::string("{}"); });
  CandidateQueue worker(2000);
  FlowConfirmer c = make({&worker});
  c.set_hosts({host("192.0.2.10", silent.local_address().to_string())});
  worker.report(key_v4("198.51.100.7", 40001, "192.0.2.10"), 1'000'000'000);
  worker.report(key_v4("198.51.100.7", 40002, "192.0.2.10"), 1'000'000'000);
  run_until(c, [&] { return c.counters().timed_out != 0; });
  EXPECT_EQ(c.counters().timed_out, 2u);
  EXPECT_EQ(c.counters().confirmed, 0u);
  std::lock_guard lock(mutex_);
  EXPECT_TRUE(learnt_.empty());
}

TEST_F(FlowConfirmerTest, AHostWhoseKeyFileIsUnusableIsSkippedAndOthersAreStillAsked) {
  const sw_flow_key live = key_v4("198.51.100.7", 40001, "192.0.2.11");
  Agent agent(key_file_.string(), {confirm_tuple_of(live)});
  CandidateQueue worker(2000);
  FlowConfirmer c = make({&worker});
  ConfirmHost broken = host("192.0.2.10", agent.address());
  broken.key_file = dir_ / "missing.key";
  c.set_hosts({broken, host("192.0.2.11", agent.address())});
  worker.report(live, 1'000'000'000);
  run_until(c, [&] { return c.counters().confirmed == 1; });
  EXPECT_EQ(c.counters().confirmed, 1u);
}

TEST_F(FlowConfirmerTest, TheThreadDrainsAndAsksOnItsOwn) {
  const sw_flow_key live = key_v4("198.51.100.7", 40001, "192.0.2.10");
  Agent agent(key_file_.string(), {confirm_tuple_of(live)});
  CandidateQueue worker(2000);
  FlowConfirmer c = make({&worker});
  c.set_hosts({host("192.0.2.10", agent.address())});
  c.start();
  worker.report(live, 1'000'000'000);
  const uint64_t end = monotonic_ms() + 3000;
  while (c.counters().confirmed == 0 && monotonic_ms() < end) ::usleep(10'000);
  c.stop();
  EXPECT_EQ(c.counters().confirmed, 1u);
}

}  // namespace
}  // namespace synwarden::daemon
