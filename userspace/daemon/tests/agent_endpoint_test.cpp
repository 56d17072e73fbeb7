// Specification of a protected host's "agent" config: the live alternative to "secrets_file".
#include "agent_endpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "config.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

json with_host(const json& host) {
  json doc = {{"interface", "eth1"}, {"protected_hosts", json::array()}};
  doc["protected_hosts"].push_back(host);
  return doc;
}

json agent_host() {
  return json::parse(R"({"address": "192.0.2.10", "mac": "02:00:5e:00:53:10",
    "agent": {"address": "192.0.2.10:7070", "key_file": "/etc/synwarden/keys/web1.key"}})");
}

std::string error_of(const json& document) {
  try {
    parse_config(document);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AgentConfig, AHostWithAnAgentGetsTheDocumentedDefaults) {
  const DaemonConfig c = parse_config(with_host(agent_host()));
  const ProtectedHostConfig& h = c.protected_hosts.at(0);
  ASSERT_TRUE(h.agent.has_value());
  EXPECT_TRUE(h.secrets_file.empty());
  EXPECT_EQ(h.agent->address, "192.0.2.10:7070");
  EXPECT_EQ(h.agent->key_file, "/etc/synwarden/keys/web1.key");
  EXPECT_EQ(h.agent->poll_interval_ms, 1000u);
  EXPECT_EQ(h.agent->hold_ms, 30'000u);
  EXPECT_FALSE(h.agent->fail.has_value());
  EXPECT_EQ(h.policy.fail, FailPolicy::kOpen) << "the host's policy default";
}

TEST(AgentConfig, AllKeysAreReadAndFailSetsTheHostsPolicy) {
  json host = agent_host();
  host["agent"] = {{"address", "[2001:db8::10]:7070"}, {"key_file", "/k"},
                   {"poll_interval_ms", 250}, {"hold_ms", 10'000}, {"fail", "closed"}};
  const ProtectedHostConfig h = parse_config(with_host(host)).protected_hosts.at(0);
  EXPECT_EQ(h.agent->address, "[2001:db8::10]:7070");
  EXPECT_EQ(h.agent->poll_interval_ms, 250u);
  EXPECT_EQ(h.agent->hold_ms, 10'000u);
  EXPECT_EQ(h.policy.fail, FailPolicy::kClosed);
}

TEST(AgentConfig, ExactlyOneOfSecretsFileAndAgent) {
  json both = agent_host();
  both["secrets_file"] = "/etc/s.json";
  EXPECT_THAT(error_of(with_host(both)),
              HasSubstr("'protected_hosts[0]': gives both \"secrets_file\" and \"agent\""));
  json neither = agent_host();
  neither.erase("agent");
  EXPECT_THAT(error_of(with_host(neither)),
              HasSubstr("'protected_hosts[0].secrets_file': is required, or \"agent\""));
}

TEST(AgentConfig, ErrorsNameTheKeyPath) {
  const auto error_with = [](const char* key, const json& value) {
    json host = agent_host();
    host["agent"][key] = value;
    return error_of(with_host(host));
  };
  EXPECT_THAT(error_with("address", "agent.example:7070"),
              HasSubstr("'protected_hosts[0].agent.address'"));
  EXPECT_THAT(error_with("address", "192.0.2.10"), HasSubstr("'protected_hosts[0].agent.address'"));
  EXPECT_THAT(error_with("key_file", "keys/web1.key"),
              HasSubstr("'protected_hosts[0].agent.key_file': must be an absolute path"));
  EXPECT_THAT(error_with("poll_interval_ms", 10), HasSubstr("agent.poll_interval_ms"));
  EXPECT_THAT(error_with("hold_ms", 1500), HasSubstr("'protected_hosts[0].agent.hold_ms'"))
      << "less than two polls";
  EXPECT_THAT(error_with("fail", "sometimes"), HasSubstr("'protected_hosts[0].agent.fail'"));
  EXPECT_THAT(error_with("secret", "x"), HasSubstr("'protected_hosts[0].agent.secret': unknown"));
  json missing = agent_host();
  missing["agent"].erase("key_file");
  EXPECT_THAT(error_of(with_host(missing)), HasSubstr("protected_hosts[0].agent.key_file"));
}

TEST(AgentConfig, AgentFailContradictingPolicyFailIsAnError) {
  json host = agent_host();
  host["agent"]["fail"] = "open";
  host["policy"] = {{"fail", "closed"}};
  EXPECT_THAT(error_of(with_host(host)),
              HasSubstr("'protected_hosts[0].agent.fail': contradicts protected_hosts[0].policy.fail"));
  host["policy"] = {{"fail", "open"}};
  EXPECT_EQ(error_of(with_host(host)), "(no error)") << "saying it twice the same way is fine";
}

TEST(AgentConfig, TheHostsJsonFormRoundTrips) {
  json host = agent_host();
  host["agent"]["fail"] = "closed";
  const ProtectedHostConfig parsed = parse_protected_host(host, "h");
  const json written = protected_host_to_json(parsed);
  EXPECT_FALSE(written.contains("secrets_file"));
  EXPECT_EQ(written["agent"]["address"], "192.0.2.10:7070");
  EXPECT_EQ(parse_protected_host(written, "h"), parsed);
}

}  // namespace
}  // namespace synwarden::daemon
