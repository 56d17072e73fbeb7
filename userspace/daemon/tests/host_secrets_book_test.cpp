// Specification of the secrets book: what the workers get for a host as its secrets arrive, stay
// the same, change keys, change clocks, go silent and come back, and across a reload.
#include "host_secrets_book.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <string>
#include <vector>

namespace synwarden::daemon {
namespace {

constexpr uint64_t kT0 = 1'000'000;  // firewall CLOCK_MONOTONIC ms of the first reply

// Keys derived from `k`; the host's clocks (BPF mode: jiffies = mono ms, HZ 1000) read `host_ms`.
HostSecrets secrets_with(uint64_t k, uint64_t host_ms) {
  HostSecrets s;
  s.syncookie = {SipKey{k, k + 1}, SipKey{k + 2, k + 3}};
  s.syncookie6 = {SipKey{k + 4, k + 5}, SipKey{k + 6, k + 7}};
  s.ts_key = SipKey{k + 8, k + 9};
  s.clock = HostClockSample{host_ms, 1000, host_ms};
  return s;
}

ProtectedHostConfig agent_host(const std::string& address, const std::string& agent,
                               FailPolicy fail = FailPolicy::kClosed) {
  ProtectedHostConfig h;
  h.address = *IpAddress::parse(address);
  AgentEndpoint a;
  a.address = agent;
  a.key_file = "/etc/synwarden/agent.key";
  a.hold_ms = 5'000;
  h.agent = a;
  h.policy.fail = fail;
  return h;
}

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }

HostEntry worker_view(const HostSecretsBook& book, const std::string& address, uint64_t now) {
  HostEntry e;
  e.address = ip(address);
  book.fill_worker_keys(e, now);
  return e;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

class Book : public ::testing::Test {
 protected:
  Book() {
    book_.set_hosts({agent_host("192.0.2.10", "192.0.2.10:7070")}, kT0);
    book_.take_changes();
  }
  HostSecretsBook book_;
  const IpAddress host_ = ip("192.0.2.10");
};

TEST_F(Book, AHostHasNoKeysForTheWorkersBeforeItsFirstSecrets) {
  EXPECT_FALSE(worker_view(book_, "192.0.2.10", kT0).keys.has_value());
  const auto f = book_.freshness(host_, kT0);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->source, "agent");
  EXPECT_EQ(f->location, "192.0.2.10:7070");
  EXPECT_EQ(f->state, "no_secrets");
  EXPECT_FALSE(f->last_update_age_ms.has_value());
  EXPECT_FALSE(book_.freshness(ip("192.0.2.99"), kT0).has_value()) << "not a configured host";
}

TEST_F(Book, ValidSecretsReachTheWorkersWithTheClockAnchoredAtTheirReceiveTime) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  EXPECT_TRUE(readable(book_.changes_fd())) << "the control thread is woken";
  EXPECT_TRUE(book_.take_changes());
  EXPECT_FALSE(readable(book_.changes_fd()));
  const HostEntry e = worker_view(book_, "192.0.2.10", kT0 + 10);
  ASSERT_TRUE(e.keys.has_value());
  EXPECT_EQ(e.keys->secrets, secrets_with(100, 50'000));
  EXPECT_EQ(e.keys->clock.local_ms(), kT0);
  EXPECT_EQ(e.keys->clock.host_ms_at(kT0 + 250), 50'250u) << "extrapolated from the receive time";
  EXPECT_FALSE(e.previous_keys.has_value());
  const auto f = book_.freshness(host_, kT0 + 300);
  EXPECT_EQ(f->state, "fresh");
  EXPECT_EQ(f->last_update_age_ms, 300u);
}

TEST_F(Book, AReplyConfirmingWhatTheWorkersHaveRebuildsNothingButRefreshesTheAge) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  ASSERT_TRUE(book_.take_changes());
  // One second later, same keys, the host's clock one second further (plus 3 ms of latency).
  book_.offer(host_, secrets_with(100, 51'000), kT0 + 1'003);
  EXPECT_FALSE(book_.take_changes()) << "a steady state must not rebuild snapshots every poll";
  EXPECT_EQ(worker_view(book_, "192.0.2.10", kT0 + 1'003).keys->clock.local_ms(), kT0);
  EXPECT_EQ(book_.freshness(host_, kT0 + 1'103)->last_update_age_ms, 100u);
}

TEST_F(Book, ChangedSysctlsOrMssReachTheWorkersWithoutAKeyChange) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  book_.take_changes();
  HostSecrets changed = secrets_with(100, 51'000);
  changed.mss = 1400;
  book_.offer(host_, changed, kT0 + 1'000);
  EXPECT_TRUE(book_.take_changes());
  const HostEntry e = worker_view(book_, "192.0.2.10", kT0 + 1'000);
  EXPECT_EQ(e.keys->secrets.mss, 1400);
  EXPECT_FALSE(e.previous_keys.has_value()) << "the cookie keys did not change";
}

TEST_F(Book, NewCookieKeysKeepThePreviousOnesForTheCookieLifetime) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  book_.offer(host_, secrets_with(200, 51'000), kT0 + 1'000);  // the agent rotated its keys
  EXPECT_TRUE(book_.take_changes());
  const uint64_t until = kT0 + 1'000 + kPreviousKeysMs;
  const HostEntry during = worker_view(book_, "192.0.2.10", until - 1);
  ASSERT_TRUE(during.keys.has_value());
  EXPECT_EQ(during.keys->secrets.syncookie, secrets_with(200, 0).syncookie);
  ASSERT_TRUE(during.previous_keys.has_value());
  EXPECT_EQ(during.previous_keys->secrets.syncookie, secrets_with(100, 0).syncookie);
  EXPECT_EQ(during.previous_keys->clock.local_ms(), kT0) << "with the clock they were used with";
  EXPECT_EQ(during.previous_until_ms, until);
  EXPECT_GE(kPreviousKeysMs, 120'000u) << "a cookie is valid for two minutes (MAX_SYNCOOKIE_AGE)";
  EXPECT_TRUE(book_.previous_keys_active(host_, until - 1));
  EXPECT_FALSE(book_.previous_keys_active(host_, until));
  EXPECT_FALSE(worker_view(book_, "192.0.2.10", until).previous_keys.has_value());
}

TEST_F(Book, TheClockModelIsReanchoredWhenTheHostsClockStepsOrTheAnchorIsOld) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  book_.take_changes();
  // 10 s later and consistent: keep the anchor.
  book_.offer(host_, secrets_with(100, 60'000), kT0 + 10'000);
  EXPECT_FALSE(book_.take_changes());
  // The host's clock is 500 ms behind the extrapolation (stepped, or a reboot kept the keys).
  book_.offer(host_, secrets_with(100, 70'500 - 1'000), kT0 + 20'500);
  EXPECT_TRUE(book_.take_changes());
  EXPECT_EQ(worker_view(book_, "192.0.2.10", kT0 + 20'500).keys->clock.local_ms(), kT0 + 20'500);
  // Consistent again, but the anchor is now kReanchorMs old: refresh it (drift margin).
  book_.offer(host_, secrets_with(100, 69'500 + kReanchorMs), kT0 + 20'500 + kReanchorMs);
  EXPECT_TRUE(book_.take_changes());
}

TEST_F(Book, SilenceKeepsTheKeysWhileHoldingAndAppliesTheFailPolicyOnceExpired) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  book_.take_changes();
  book_.set_state(host_, SecretsState::kHolding, "agent 192.0.2.10:7070 gave no valid reply");
  EXPECT_FALSE(book_.take_changes()) << "holding uses the same keys";
  EXPECT_TRUE(worker_view(book_, "192.0.2.10", kT0 + 2'000).keys.has_value());
  EXPECT_EQ(book_.freshness(host_, kT0 + 2'000)->state, "holding");

  book_.set_state(host_, SecretsState::kExpired, "no valid secrets for 30.0 s");
  EXPECT_TRUE(book_.take_changes());
  EXPECT_FALSE(worker_view(book_, "192.0.2.10", kT0 + 31'000).keys.has_value())
      << "the workers follow the fail policy";
  const auto f = book_.freshness(host_, kT0 + 31'000);
  EXPECT_EQ(f->state, "expired");
  EXPECT_EQ(f->last_error, "no valid secrets for 30.0 s");
  EXPECT_EQ(f->last_update_age_ms, 31'000u);

  // The agent is back with the same keys: the workers get them again at once.
  book_.offer(host_, secrets_with(100, 82'000), kT0 + 32'000);
  EXPECT_TRUE(book_.take_changes());
  EXPECT_TRUE(worker_view(book_, "192.0.2.10", kT0 + 32'000).keys.has_value());
  EXPECT_EQ(book_.freshness(host_, kT0 + 32'000)->last_error, "");
}

TEST_F(Book, AReloadKeepsHostsWhoseSourceIsUnchangedAndForgetsTheOthers) {
  book_.set_hosts({agent_host("192.0.2.10", "192.0.2.10:7070"),
                   agent_host("192.0.2.11", "192.0.2.11:7070")}, kT0);
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  book_.offer(ip("192.0.2.11"), secrets_with(300, 50'000), kT0);
  book_.take_changes();

  book_.set_hosts({agent_host("192.0.2.10", "192.0.2.10:7070"),
                   agent_host("192.0.2.11", "192.0.2.11:7171"),
                   agent_host("2001:db8::12", "[2001:db8::12]:7070")}, kT0 + 1'000);
  EXPECT_TRUE(book_.take_changes());
  EXPECT_TRUE(worker_view(book_, "192.0.2.10", kT0 + 1'000).keys.has_value())
      << "unchanged host: no moment without keys";
  EXPECT_FALSE(worker_view(book_, "192.0.2.11", kT0 + 1'000).keys.has_value())
      << "another agent: its keys are not these";
  EXPECT_FALSE(worker_view(book_, "2001:db8::12", kT0 + 1'000).keys.has_value());
  EXPECT_EQ(book_.freshness(ip("192.0.2.11"), kT0 + 1'000)->location, "192.0.2.11:7171");
}

TEST_F(Book, CarriedKeysExpireWhenTheNewPollerNeverConfirmsThemWithinTheHoldTime) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  book_.set_hosts({agent_host("192.0.2.10", "192.0.2.10:7070")}, kT0 + 1'000);  // hold 5 s
  book_.take_changes();
  book_.tick(kT0 + 5'999);
  EXPECT_FALSE(book_.take_changes());
  EXPECT_TRUE(worker_view(book_, "192.0.2.10", kT0 + 5'999).keys.has_value());
  book_.tick(kT0 + 6'000);
  EXPECT_TRUE(book_.take_changes());
  EXPECT_FALSE(worker_view(book_, "192.0.2.10", kT0 + 6'000).keys.has_value());
  EXPECT_EQ(book_.freshness(host_, kT0 + 6'000)->state, "expired");
}

TEST_F(Book, ConfirmedCarriedKeysDoNotExpire) {
  book_.offer(host_, secrets_with(100, 50'000), kT0);
  book_.set_hosts({agent_host("192.0.2.10", "192.0.2.10:7070")}, kT0 + 1'000);
  book_.offer(host_, secrets_with(100, 51'100), kT0 + 1'100);
  book_.tick(kT0 + 60'000);
  EXPECT_TRUE(worker_view(book_, "192.0.2.10", kT0 + 60'000).keys.has_value());
}

}  // namespace
}  // namespace synwarden::daemon
