// Specification of GET /health: the verdict from the daemon's facts (evaluate_health) and how
// the router answers it (200 healthy, 503 not, the checks in the body either way).
#include "control_health.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api_router.h"
#include "api_test_support.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

SecretsFreshness secrets(std::string state, std::optional<uint64_t> age_ms) {
  SecretsFreshness f;
  f.source = "agent";
  f.location = "198.51.100.10:9478";
  f.state = std::move(state);
  f.last_update_age_ms = age_ms;
  return f;
}

HealthInputs healthy_box() {
  HealthInputs in;
  in.interface = "e0";
  in.loaded_program_id = 42;
  in.attached_program_id = 42;
  in.steered_queues = {0, 1};
  in.bound_queues = {1, 0};
  in.hosts = {{"192.0.2.10", secrets("fresh", 300)}, {"2001:db8::10", secrets("fresh", 800)}};
  return in;
}

const HealthCheck& check(const HealthReport& r, const std::string& name) {
  for (const auto& c : r.checks) {
    if (c.name == name) return c;
  }
  throw std::runtime_error("no check named " + name);
}

TEST(Health, AttachedProgramBoundWorkersAndFreshSecretsAreHealthy) {
  const HealthReport r = evaluate_health(healthy_box());
  EXPECT_TRUE(r.healthy);
  ASSERT_EQ(r.checks.size(), 3u);
  for (const auto& c : r.checks) EXPECT_TRUE(c.ok) << c.name << ": " << c.detail;
  EXPECT_TRUE(r.stale_hosts.empty());
  EXPECT_THAT(check(r, "workers").detail, HasSubstr("2 AF_XDP worker(s)"));
}

TEST(Health, HoldingTheLastGoodSecretsIsStillHealthy) {
  HealthInputs in = healthy_box();
  in.hosts[1].secrets = secrets("holding", 4000);
  const HealthReport r = evaluate_health(in);
  EXPECT_TRUE(r.healthy);
  EXPECT_THAT(check(r, "secrets").detail, HasSubstr("1 holding"));
}

TEST(Health, ExpiredOrMissingSecretsAreUnhealthyAndNameTheHostsWithTheirAge) {
  HealthInputs in = healthy_box();
  in.hosts[0].secrets = secrets("expired", 12500);
  in.hosts[1].secrets = secrets("no_secrets", std::nullopt);
  const HealthReport r = evaluate_health(in);
  EXPECT_FALSE(r.healthy);
  EXPECT_TRUE(check(r, "dataplane").ok);
  EXPECT_TRUE(check(r, "workers").ok);
  EXPECT_FALSE(check(r, "secrets").ok);
  EXPECT_THAT(check(r, "secrets").detail, HasSubstr("192.0.2.10 expired (last secrets 12 s ago)"));
  EXPECT_THAT(check(r, "secrets").detail, HasSubstr("2001:db8::10 no_secrets (never had secrets)"));
  const json j = r.to_json();
  ASSERT_EQ(j["stale_hosts"].size(), 2u);
  EXPECT_EQ(j["stale_hosts"][0]["address"], "192.0.2.10");
  EXPECT_EQ(j["stale_hosts"][0]["age_ms"], 12500);
  EXPECT_TRUE(j["stale_hosts"][1]["age_ms"].is_null());
}

TEST(Health, AProgramDetachedOrReplacedBehindTheDaemonIsUnhealthy) {
  HealthInputs detached = healthy_box();
  detached.attached_program_id = 0;
  HealthReport r = evaluate_health(detached);
  EXPECT_FALSE(r.healthy);
  EXPECT_THAT(check(r, "dataplane").detail, HasSubstr("id 42 is no longer attached on e0"));

  HealthInputs replaced = healthy_box();
  replaced.attached_program_id = 77;
  r = evaluate_health(replaced);
  EXPECT_FALSE(r.healthy);
  EXPECT_THAT(check(r, "dataplane").detail, HasSubstr("runs XDP program id 77 on e0"));

  HealthInputs unknown = healthy_box();
  unknown.attach_query_error = "bpf_xdp_query: No such device";
  EXPECT_FALSE(evaluate_health(unknown).healthy);

  HealthInputs none = healthy_box();
  none.loaded_program_id = 0;
  EXPECT_FALSE(evaluate_health(none).healthy);
}

TEST(Health, AQueueWithoutBoundWorkerIsUnhealthy) {
  HealthInputs in = healthy_box();
  in.bound_queues = {0};
  HealthReport r = evaluate_health(in);
  EXPECT_FALSE(r.healthy);
  EXPECT_THAT(check(r, "workers").detail, HasSubstr("RX queue(s) 1 have no bound AF_XDP worker"));
  in.steered_queues.clear();
  in.bound_queues.clear();
  EXPECT_FALSE(evaluate_health(in).healthy);
}

TEST(Health, NoHostsConfiguredIsHealthy) {
  HealthInputs in = healthy_box();
  in.hosts.clear();
  EXPECT_TRUE(evaluate_health(in).healthy);
}

ApiRequest get(std::string path) {
  ApiRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.host = "127.0.0.1:9477";
  return r;
}

TEST(HealthRoute, AnswersTwoHundredWhenHealthyAndFiveOhThreeWhenNotWithTheChecks) {
  FakeApi api;
  ApiRouter router(api, api);
  api.next_health = evaluate_health(healthy_box());
  ApiResponse ok = router.handle(get("/health"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body)["healthy"], true);
  EXPECT_EQ(json::parse(ok.body)["checks"].size(), 3u);

  HealthInputs stale = healthy_box();
  stale.hosts[0].secrets = secrets("expired", 9000);
  api.next_health = evaluate_health(stale);
  const ApiResponse bad = router.handle(get("/health"));
  EXPECT_EQ(bad.status, 503);
  const json body = json::parse(bad.body);
  EXPECT_EQ(body["healthy"], false);
  EXPECT_EQ(body["checks"][2]["name"], "secrets");
  EXPECT_EQ(body["checks"][2]["ok"], false);
  EXPECT_EQ(body["stale_hosts"][0]["address"], "192.0.2.10");
  EXPECT_EQ(api.calls, (std::vector<std::string>{"health", "health"}));
}

TEST(HealthRoute, OnlyGetIsAllowed) {
  FakeApi api;
  ApiRouter router(api, api);
  ApiRequest post = get("/health");
  post.method = "POST";
  post.content_type = "application/json";
  post.body = "{}";
  const ApiResponse r = router.handle(post);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "GET");
  EXPECT_TRUE(api.calls.empty());
}

}  // namespace
}  // namespace synwarden::daemon
