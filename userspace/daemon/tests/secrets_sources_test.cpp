// Specification of the daemon's secrets sources over real loopback UDP: a stub agent (the
// channel library's ChannelServer, as synwarden-agent runs it) answers the daemon's pollers;
// static files serve the other hosts. What the workers' snapshot gets for each host is the
// observable result.
#include "secrets_sources.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "synwarden/channel_server.h"
#include "synwarden/channel_socket.h"

namespace synwarden::daemon {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

HostSecrets secrets_with(uint64_t k) {
  HostSecrets s;
  s.syncookie = {SipKey{k, k + 1}, SipKey{k + 2, k + 3}};
  s.syncookie6 = {SipKey{k + 4, k + 5}, SipKey{k + 6, k + 7}};
  s.ts_key = SipKey{k + 8, k + 9};
  const uint64_t now = monotonic_ms();
  s.clock = HostClockSample{now, 1000, now};
  return s;
}

// synwarden-agent's channel side: answers every valid request with secrets_with(key_seed) until
// silenced, on its own thread.
class StubAgent {
 public:
  explicit StubAgent(const std::string& key_file)
      : server_(options(), ChannelKey::load_file(key_file), [this] {
          if (silent_) throw std::runtime_error("silenced");
          return serialize_secrets(secrets_with(seed_));
        }),
        thread_([this](std::stop_token stop) {
          while (!stop.stop_requested()) {
            pollfd p{server_.fd(), POLLIN, 0};
            if (::poll(&p, 1, 20) == 1) server_.handle_pending(monotonic_ns(), unix_time_ms());
          }
        }) {}
  std::string address() const { return "127.0.0.1:" + std::to_string(server_.local_address().port()); }
  void rotate_keys(uint64_t seed) { seed_ = seed; }
  void silence() { silent_ = true; }
  uint64_t replies() const { return server_.replies_sent(); }

 private:
  static ChannelServerOptions options() {
    ChannelServerOptions o;
    o.listen = "127.0.0.1:0";
    o.replies_per_s = 1000;
    o.reply_burst = 1000;
    return o;
  }
  std::atomic<uint64_t> seed_{100};
  std::atomic<bool> silent_{false};
  ChannelServer server_;
  std::jthread thread_;
};

class SecretsSourcesTest : public ::testing::Test {
 protected:
  SecretsSourcesTest() {
    char dir[] = "/tmp/synwarden-sources-test-XXXXXX";
    dir_ = mkdtemp(dir);
    key_file_ = dir_ / "agent.key";
    ChannelKey::write_new_file(key_file_.string());
    file_ = dir_ / "host6.json";
    std::ofstream(file_) << serialize_secrets(secrets_with(900));
    fs::permissions(file_, fs::perms::owner_read | fs::perms::owner_write);
    agent_.emplace(key_file_.string());
  }
  ~SecretsSourcesTest() override {
    agent_.reset();
    fs::remove_all(dir_);
  }

  ProtectedHostConfig agent_host(FailPolicy fail = FailPolicy::kClosed) const {
    ProtectedHostConfig h;
    h.address = *IpAddress::parse("192.0.2.10");
    AgentEndpoint a;
    a.address = agent_->address();
    a.key_file = key_file_;
    a.poll_interval_ms = 100;
    a.hold_ms = 600;
    h.agent = a;
    h.policy.fail = fail;
    return h;
  }
  ProtectedHostConfig file_host() const {
    ProtectedHostConfig h;
    h.address = *IpAddress::parse("2001:db8::10");
    h.secrets_file = file_;
    return h;
  }
  DaemonConfig config() const {
    DaemonConfig c;
    c.protected_hosts = {agent_host(), file_host()};
    return c;
  }
  static const HostEntry& entry(const Snapshot& s, const char* address) {
    const IpAddress ip = *IpAddress::parse(address);
    const IpFamily f = ip.family() == IpAddress::Family::kIpv4 ? IpFamily::kIpv4 : IpFamily::kIpv6;
    return *s.find(f, ip.bytes().data());
  }
  // Refreshes whenever the sources ask for it until `done(snapshot)`; false after `timeout_ms`.
  static bool refresh_until(SecretsSources& sources, const DaemonConfig& c,
                            const std::function<bool(const Snapshot&)>& done,
                            int timeout_ms = 3000) {
    for (int waited = 0; waited < timeout_ms; waited += 10) {
      pollfd p{sources.changes_fd(), POLLIN, 0};
      ::poll(&p, 1, 10);
      sources.refresh();
      if (done(*build_snapshot(c, sources, MacAddress{}, 1))) return true;
    }
    return false;
  }

  fs::path dir_, key_file_, file_;
  std::optional<StubAgent> agent_;
};

TEST_F(SecretsSourcesTest, AgentAndFileHostsBothReachTheWorkersSnapshot) {
  const DaemonConfig c = config();
  SecretsSources sources(c.protected_hosts);
  sources.start();
  EXPECT_EQ(sources.wait_for_agents(2000), 0u) << "the agent answered within the wait";
  sources.refresh();
  const auto snapshot = build_snapshot(c, sources, MacAddress{}, 1);
  const HostEntry& agent = entry(*snapshot, "192.0.2.10");
  ASSERT_TRUE(agent.keys.has_value());
  EXPECT_EQ(agent.keys->secrets.syncookie, secrets_with(100).syncookie);
  EXPECT_NEAR(static_cast<double>(agent.keys->clock.local_ms()),
              static_cast<double>(monotonic_ms()), 1000.0)
      << "the clock model is anchored at the reply's local receive time";
  const HostEntry& file = entry(*snapshot, "2001:db8::10");
  ASSERT_TRUE(file.keys.has_value());
  EXPECT_EQ(file.keys->secrets.syncookie, secrets_with(900).syncookie);

  const SecretsFreshness f = sources.freshness(0, monotonic_ms());
  EXPECT_EQ(f.source, "agent");
  EXPECT_EQ(f.location, agent_->address());
  EXPECT_EQ(f.state, "fresh");
  ASSERT_TRUE(f.last_update_age_ms.has_value());
  EXPECT_LT(*f.last_update_age_ms, 1000u);
  EXPECT_EQ(sources.freshness(1, monotonic_ms()).source, "file");

  const auto counters = sources.agent_counters();
  ASSERT_EQ(counters.size(), 1u) << "one poller, for the agent host only";
  EXPECT_GE(counters[0].poller.replies_accepted, 1u);
  EXPECT_EQ(counters[0].replies[static_cast<size_t>(ChannelResult::kWrongKey)], 0u);
}

TEST_F(SecretsSourcesTest, AKeyRotationKeepsThePreviousKeysForAckChecks) {
  const DaemonConfig c = config();
  SecretsSources sources(c.protected_hosts);
  sources.start();
  ASSERT_TRUE(refresh_until(sources, c, [](const Snapshot& s) {
    return entry(s, "192.0.2.10").keys.has_value();
  }));
  agent_->rotate_keys(500);
  ASSERT_TRUE(refresh_until(sources, c, [](const Snapshot& s) {
    return entry(s, "192.0.2.10").keys->secrets.syncookie == secrets_with(500).syncookie;
  })) << "the new keys reach the workers within a few polls";
  const auto snapshot = build_snapshot(c, sources, MacAddress{}, 2);
  const HostEntry& e = entry(*snapshot, "192.0.2.10");
  ASSERT_TRUE(e.previous_keys.has_value());
  EXPECT_EQ(e.previous_keys->secrets.syncookie, secrets_with(100).syncookie);
  EXPECT_GE(e.previous_until_ms, monotonic_ms() + 119'000);
}

TEST_F(SecretsSourcesTest, ASilentAgentIsHeldThenTheFailPolicyApplies) {
  const DaemonConfig c = config();
  SecretsSources sources(c.protected_hosts);
  sources.start();
  ASSERT_TRUE(refresh_until(sources, c, [](const Snapshot& s) {
    return entry(s, "192.0.2.10").keys.has_value();
  }));
  agent_->silence();
  const uint64_t silenced = monotonic_ms();
  // Held (keys kept) first: the hold time is 600 ms.
  ASSERT_TRUE(refresh_until(sources, c, [&](const Snapshot&) {
    return sources.freshness(0, monotonic_ms()).state == "holding";
  }));
  EXPECT_TRUE(entry(*build_snapshot(c, sources, MacAddress{}, 1), "192.0.2.10").keys.has_value());
  ASSERT_TRUE(refresh_until(sources, c, [](const Snapshot& s) {
    return !entry(s, "192.0.2.10").keys.has_value();
  })) << "expired: no keys, the workers follow the fail policy";
  EXPECT_GE(monotonic_ms() - silenced, 500u) << "not before the hold time";
  const SecretsFreshness f = sources.freshness(0, monotonic_ms());
  EXPECT_EQ(f.state, "expired");
  EXPECT_THAT(f.last_error, HasSubstr(agent_->address()));
  EXPECT_EQ(entry(*build_snapshot(c, sources, MacAddress{}, 1), "2001:db8::10").keys.has_value(),
            true) << "the file host is not affected";
}

TEST_F(SecretsSourcesTest, AKeyFileOthersCanReadIsRefusedNamingTheConfigKey) {
  ::chmod(key_file_.c_str(), 0644);
  try {
    SecretsSources sources(config().protected_hosts);
    FAIL() << "a world-readable key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("protected_hosts[0].agent.key_file"));
    EXPECT_THAT(e.what(), HasSubstr(key_file_.string()));
    EXPECT_THAT(e.what(), HasSubstr("chmod"));
  }
}

TEST_F(SecretsSourcesTest, AReconfigureKeepsUnchangedHostsKeysWithoutAGap) {
  DaemonConfig c = config();
  SecretsSources sources(c.protected_hosts);
  sources.start();
  ASSERT_TRUE(refresh_until(sources, c, [](const Snapshot& s) {
    return entry(s, "192.0.2.10").keys.has_value();
  }));
  // The file host leaves, the agent host stays.
  c.protected_hosts.pop_back();
  sources.reconfigure(c.protected_hosts);
  sources.refresh();
  const auto snapshot = build_snapshot(c, sources, MacAddress{}, 2);
  EXPECT_TRUE(entry(*snapshot, "192.0.2.10").keys.has_value()) << "no moment without keys";
  const uint64_t replies = agent_->replies();
  ASSERT_TRUE(refresh_until(sources, c, [&](const Snapshot&) { return agent_->replies() > replies; }))
      << "the new poller polls the agent";
}

TEST_F(SecretsSourcesTest, AReconfigureThatChangesNoAgentSettingKeepsTheRunningPollers) {
  DaemonConfig c = config();
  SecretsSources sources(c.protected_hosts);
  sources.start();
  ASSERT_TRUE(refresh_until(sources, c, [](const Snapshot& s) {
    return entry(s, "192.0.2.10").keys.has_value();
  }));
  const uint64_t requests = sources.agent_counters().at(0).poller.requests_sent;
  c.protected_hosts[0].mode = HostMode::kPass;  // what POST /hosts/{ip}/protect changes
  c.protected_hosts[0].ports = {443};
  sources.reconfigure(c.protected_hosts);
  EXPECT_GE(sources.agent_counters().at(0).poller.requests_sent, requests)
      << "same poller: its counters go on";
  EXPECT_EQ(sources.freshness(0, monotonic_ms()).state, "fresh");
}

TEST_F(SecretsSourcesTest, AReconfigureWithABadKeyFileChangesNothing) {
  DaemonConfig c = config();
  SecretsSources sources(c.protected_hosts);
  sources.start();
  ASSERT_TRUE(refresh_until(sources, c, [](const Snapshot& s) {
    return entry(s, "192.0.2.10").keys.has_value();
  }));
  DaemonConfig next = c;
  next.protected_hosts[0].agent->key_file = dir_ / "missing.key";
  EXPECT_THROW(sources.reconfigure(next.protected_hosts), std::runtime_error);
  const uint64_t replies = agent_->replies();
  ASSERT_TRUE(refresh_until(sources, c, [&](const Snapshot&) { return agent_->replies() > replies; }))
      << "the running pollers still poll";
}

}  // namespace
}  // namespace synwarden::daemon
