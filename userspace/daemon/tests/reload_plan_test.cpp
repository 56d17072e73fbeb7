// Specification of what a reload may change under traffic: hosts (added, removed, changed by key)
// and live knobs; everything that shapes sockets, rings, maps or threads keeps its running value
// and is reported as waiting for a restart.
#include "reload_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace synwarden::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

DaemonConfig config(const json& patch = json::object()) {
  json doc = {{"interface", "eth1"},
              {"protected_hosts",
               {{{"address", "192.0.2.10"}, {"mac", "02:00:5e:00:53:10"}, {"secrets_file", "/s"}},
                {{"address", "192.0.2.11"}, {"mac", "02:00:5e:00:53:11"}, {"secrets_file", "/s"}}}}};
  doc.merge_patch(patch);
  return parse_config(doc);
}

TEST(ReloadPlan, AnIdenticalConfigChangesNothing) {
  const ReloadPlan plan = plan_reload(config(), config());
  EXPECT_FALSE(plan.changes_hosts());
  EXPECT_TRUE(plan.restart_required.empty());
  EXPECT_FALSE(plan.settings_changed);
}

TEST(ReloadPlan, HostsAreMatchedByAddressAndChangesNamed) {
  const json next_hosts = {
      {{"address", "192.0.2.10"}, {"mac", "02:00:5e:00:53:99"}, {"secrets_file", "/other"},
       {"ports", {443}}, {"protection", false}, {"policy", {{"forward_udp", false}}}},
      {{"address", "198.51.100.1"}, {"mac", "02:00:5e:00:53:12"}, {"secrets_file", "/s"}}};
  const ReloadPlan plan = plan_reload(config(), config({{"protected_hosts", next_hosts}}));
  ASSERT_EQ(plan.added.size(), 1u);
  EXPECT_EQ(plan.added[0].address.to_string(), "198.51.100.1");
  ASSERT_EQ(plan.removed.size(), 1u);
  EXPECT_EQ(plan.removed[0].to_string(), "192.0.2.11");
  ASSERT_EQ(plan.changed.size(), 1u);
  EXPECT_THAT(plan.changed[0].keys,
              ElementsAre("mac", "ports", "mode", "policy", "secrets_file"));
  const json j = reload_plan_to_json(plan);
  EXPECT_EQ(j["added"], json({"198.51.100.1"}));
  EXPECT_EQ(j["removed"], json({"192.0.2.11"}));
}

TEST(ReloadPlan, RestartOnlyKeysKeepTheirRunningValueAndAreReported) {
  const DaemonConfig running = config();
  const DaemonConfig next = config({{"interface", "eth2"},
                                    {"queues", {0}},
                                    {"xsk_mode", "generic"},
                                    {"keep_dataplane_on_exit", false},
                                    {"limits", {{"batch_size", 32}, {"host_table_size", 8}}},
                                    {"api", {{"port", 9999}}},
                                    {"secrets_reload_interval_ms", 250}});
  const ReloadPlan plan = plan_reload(running, next);
  EXPECT_THAT(plan.restart_required,
              ElementsAre("interface", "queues", "keep_dataplane_on_exit", "xsk_mode",
                          "limits.batch_size", "limits.host_table_size", "api.port"));
  EXPECT_EQ(plan.effective.interface, "eth1");
  EXPECT_TRUE(plan.effective.queues.empty());
  EXPECT_EQ(plan.effective.limits.batch_size, 64u);
  EXPECT_EQ(plan.effective.api.port, kDefaultApiPort);
  EXPECT_EQ(plan.effective.secrets_reload_interval_ms, 250u) << "a live key takes effect";
}

TEST(ReloadPlan, LiveKnobsAreApplied) {
  const ReloadPlan plan = plan_reload(
      config(), config({{"limits", {{"forwarded_synack_pps", 10}}},
                        {"api", {{"persist_changes", false}}}}));
  EXPECT_TRUE(plan.settings_changed);
  EXPECT_TRUE(plan.restart_required.empty());
  EXPECT_FALSE(plan.effective.api.persist_changes);
}

TEST(ReloadPlan, MoreHostsThanTheRunningTableAreRefused) {
  const DaemonConfig running = config({{"limits", {{"host_table_size", 2}}}});
  json three = json::array();
  for (const char* ip : {"192.0.2.10", "192.0.2.11", "192.0.2.12"}) {
    three.push_back({{"address", ip}, {"mac", "02:00:5e:00:53:10"}, {"secrets_file", "/s"}});
  }
  // The new file raises the table size too, but that needs a restart: refuse, do not truncate.
  const DaemonConfig next = config({{"limits", {{"host_table_size", 8}}}, {"protected_hosts", three}});
  try {
    plan_reload(running, next);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("lists 3 hosts, the running XDP host table has room for 2"));
  }
}

}  // namespace
}  // namespace synwarden::daemon
