// Specification of the source lists and the SYN-ACK budget in the daemon: the config keys (a
// table of refused entries, each error naming the entry), the canonical document form, and the
// API's bulk operations through the control plane (all or nothing, persisted, applied to the
// dataplane as a difference) and the router.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_router.h"
#include "api_test_support.h"
#include "config.h"
#include "control_plane.h"
#include "control_test_support.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using namespace std::string_literals;

json base() {
  return json::parse(R"({
    "interface": "eth1",
    "datapath": "afxdp",
    "limits": {"host_table_size": 4, "list_prefixes": 16},
    "protected_hosts": [
      {"address": "192.0.2.10", "mac": "02:00:5e:00:53:10", "secrets_file": "/etc/s.json"}
    ]})");
}

std::vector<std::string> texts(const std::vector<ListPrefix>& list) {
  std::vector<std::string> out;
  for (const auto& p : list) out.push_back(p.prefix_text() + (p.has_host ? "@" + p.host_text() : ""));
  return out;
}

struct BadList {
  const char* what;
  json lists;
  const char* expected;  // substring of the error
};

TEST(ConfigLists, RefusedEntriesNameTheEntryAndTheProblem) {
  const std::vector<BadList> rows = {
      {"/33", {{"deny", {{{"prefixes", {"10.0.0.0/8", "198.51.100.0/33"}}}}}},
       "'lists.deny[0].prefixes[1]': \"198.51.100.0/33\": /33 is longer than IPv4's 32 bits"},
      {"/129", {{"allow", {{{"prefixes", {"2001:db8::/129"}}}}}},
       "'lists.allow[0].prefixes[0]': \"2001:db8::/129\": /129 is longer than IPv6's 128"},
      {"host bits set", {{"deny", {{{"prefixes", {"198.51.100.7/24"}}}}}},
       "\"198.51.100.7/24\" has address bits set beyond /24 (did you mean 198.51.100.0/24?)"},
      {"NUL in the prefix", {{"deny", {{{"prefixes", {"10.0.0.0\0/8"s}}}}}},
       "'lists.deny[0].prefixes[0]'"},
      {"junk after the length", {{"deny", {{{"prefixes", {"10.0.0.0/8x"}}}}}},
       "\"10.0.0.0/8x\": the prefix length must be a decimal number"},
      {"signed length", {{"deny", {{{"prefixes", {"10.0.0.0/+8"}}}}}}, "must be a decimal number"},
      {"leading zero", {{"deny", {{{"prefixes", {"10.0.0.0/08"}}}}}}, "without sign or leading zero"},
      {"empty length", {{"deny", {{{"prefixes", {"10.0.0.0/"}}}}}}, "must be a decimal number"},
      {"space", {{"deny", {{{"prefixes", {" 10.0.0.0/8"}}}}}}, "is not an IPv4 or IPv6 prefix"},
      {"a name", {{"deny", {{{"prefixes", {"example.com/24"}}}}}}, "is not an IPv4 or IPv6 prefix"},
      {"not a string", {{"deny", {{{"prefixes", {24}}}}}}, "'lists.deny[0].prefixes[0]'"},
      {"host family differs", {{"deny", {{{"host", "192.0.2.10"}, {"prefixes", {"2001:db8::/32"}}}}}},
       "'lists.deny[0].prefixes[0]': 2001:db8::/32 is of another address family than host"},
      {"host not an address", {{"allow", {{{"host", "web1"}, {"prefixes", {"10.0.0.0/8"}}}}}},
       "'lists.allow[0].host': \"web1\" is not an IPv4 or IPv6 address"},
      {"zero host", {{"allow", {{{"host", "0.0.0.0"}, {"prefixes", {"10.0.0.0/8"}}}}}},
       "the all-zero address is no host"},
      {"group without prefixes", {{"allow", {{{"host", "192.0.2.10"}}}}},
       "'lists.allow[0].prefixes': is required"},
      {"unknown key in a group", {{"allow", {{{"prefixes", json::array()}, {"prefix", "x"}}}}},
       "'lists.allow[0].prefix': unknown key"},
      {"unknown list", {{"block", json::array()}}, "'lists.block': unknown key"},
  };
  for (const auto& row : rows) {
    json c = base();
    c["lists"] = row.lists;
    try {
      parse_config(c);
      ADD_FAILURE() << row.what << ": accepted";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(row.expected)) << row.what;
    }
  }
}

TEST(ConfigLists, MoreTriePrefixesThanTheLimitAreRefused) {
  json c = base();
  json prefixes = json::array();
  for (int i = 0; i < 17; ++i) prefixes.push_back("10.0." + std::to_string(i) + ".0/24");
  c["lists"] = {{"deny", {{{"prefixes", prefixes}}}}};
  try {
    parse_config(c);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("holds 17 IPv4 and 0 IPv6 prefixes, more than "
                                    "limits.list_prefixes (16)"));
  }
  // The same prefix in both lists is one trie entry.
  prefixes.erase(prefixes.begin());
  c["lists"] = {{"deny", {{{"prefixes", prefixes}}}}, {"allow", {{{"prefixes", prefixes}}}}};
  EXPECT_NO_THROW(parse_config(c));
}

TEST(ConfigLists, ListsParseSortedUniqueAndRoundTripThroughTheDocumentForm) {
  json c = base();
  c["lists"] = json::parse(R"({
    "allow": [{"host": "192.0.2.10", "prefixes": ["203.0.113.7", "198.51.100.0/24"]},
              {"prefixes": ["2001:db8::/32", "198.51.100.0/24", "198.51.100.0/24"]}],
    "deny": [{"prefixes": ["0.0.0.0/0"]}]})");
  const DaemonConfig parsed = parse_config(c);
  EXPECT_EQ(texts(parsed.lists.allow),
            (std::vector<std::string>{"198.51.100.0/24", "2001:db8::/32",
                                      "198.51.100.0/24@192.0.2.10", "203.0.113.7/32@192.0.2.10"}));
  EXPECT_EQ(texts(parsed.lists.deny), (std::vector<std::string>{"0.0.0.0/0"}));
  const json doc = source_lists_to_json(parsed.lists);
  EXPECT_EQ(doc["allow"][0], json::parse(R"({"prefixes": ["198.51.100.0/24", "2001:db8::/32"]})"));
  EXPECT_EQ(doc["allow"][1]["host"], "192.0.2.10");
  c["lists"] = doc;
  EXPECT_EQ(parse_config(c).lists, parsed.lists);
}

TEST(ConfigLists, SynAckBudgetKeys) {
  json c = base();
  EXPECT_EQ(parse_config(c).synack_budget.pps, 0u) << "off by default";
  EXPECT_EQ(parse_config(c).synack_budget.prefix_v4, 24u);
  EXPECT_EQ(parse_config(c).synack_budget.prefix_v6, 48u);
  c["synack_budget"] = {{"pps", 50}, {"burst", 100}, {"prefix_v4", 20}, {"prefix_v6", 56}};
  const SynAckBudget b = parse_config(c).synack_budget;
  EXPECT_EQ(b.pps, 50u);
  EXPECT_EQ(b.burst, 100u);
  EXPECT_EQ(b.prefix_v4, 20u);
  EXPECT_EQ(b.prefix_v6, 56u);
  for (const auto& [key, value, expected] :
       std::vector<std::tuple<const char*, json, const char*>>{
           {"prefix_v4", 33, "'synack_budget.prefix_v4'"},
           {"prefix_v6", 0, "'synack_budget.prefix_v6'"},
           {"pps", -1, "'synack_budget.pps'"},
           {"rate", 1, "'synack_budget.rate': unknown key"}}) {
    json bad = base();
    bad["synack_budget"] = {{key, value}};
    try {
      parse_config(bad);
      ADD_FAILURE() << key << ": accepted";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(expected));
    }
  }
}

// ---- the API's operations through the control plane ----

const MacAddress kFirewallMac{0x02, 0x53, 0x57, 0, 0, 0x03};

class ListsControlTest : public ::testing::Test {
 protected:
  ListsControlTest() {
    dir_.write("a.json", serialize_secrets(testing::secrets_for_test(100)), 0600);
    config_ = base();
    config_["protected_hosts"][0]["secrets_file"] = dir_.file("a.json").string();
    config_["lists"] = {{"deny", {{{"prefixes", {"203.0.113.0/24"}}}}}};
    dir_.write("fw.json", config_.dump(2));
    control_ = std::make_unique<ControlPlane>(dir_.file("fw.json"),
                                              read_config_file(dir_.file("fw.json")), dataplane_,
                                              counters_, kFirewallMac,
                                              [this](std::unique_ptr<const Snapshot> s) {
                                                snapshot_ = std::move(s);
                                              });
    snapshot_ = control_->start();
  }
  int status_of(const std::function<void()>& call) {
    try {
      call();
    } catch (const ControlError& e) {
      error_ = e.what();
      return http_status(e.refusal());
    }
    return 200;
  }

  testing::TempDir dir_;
  json config_;
  testing::RecordingDataplane dataplane_;
  HostCounters counters_{2, 4};
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<const Snapshot> snapshot_;
  std::string error_;
};

TEST_F(ListsControlTest, StartUpSyncsTheConfiguredListsAndBudget) {
  EXPECT_EQ(dataplane_.list_syncs, 1);
  EXPECT_EQ(texts(dataplane_.lists.deny), (std::vector<std::string>{"203.0.113.0/24"}));
  EXPECT_TRUE(dataplane_.lists.allow.empty());
}

TEST_F(ListsControlTest, BulkAddIsAppliedAsADifferenceAndPersisted) {
  const json answer = control_->change_list(
      ListKindCfg::kDeny,
      json::parse(R"({"prefixes": ["198.51.100.0/24", "203.0.113.0/24", "2001:db8::/48"]})"), true);
  EXPECT_EQ(answer["added"], 2);
  EXPECT_EQ(answer["already_listed"], 1);
  EXPECT_EQ(answer["count"], 3);
  EXPECT_EQ(answer["persisted"], true);
  EXPECT_EQ(dataplane_.list_updates, 1) << "one update, not a resync";
  EXPECT_EQ(texts(dataplane_.lists.deny),
            (std::vector<std::string>{"198.51.100.0/24", "203.0.113.0/24", "2001:db8::/48"}));
  // The file holds them: a restart (a fresh parse of the file) gets the same lists.
  const DaemonConfig reread = read_config_file(dir_.file("fw.json")).config;
  EXPECT_EQ(reread.lists, control_->config().lists);
  EXPECT_EQ(control_->list_json(ListKindCfg::kDeny)["count"], 3);
}

TEST_F(ListsControlTest, PerHostBulkAddAndDelete) {
  control_->change_list(ListKindCfg::kAllow,
                        json::parse(R"({"host": "192.0.2.10", "prefixes": ["198.51.100.7"]})"), true);
  EXPECT_EQ(texts(dataplane_.lists.allow), (std::vector<std::string>{"198.51.100.7/32@192.0.2.10"}));
  EXPECT_EQ(status_of([&] {
              control_->change_list(ListKindCfg::kAllow,
                                    json::parse(R"({"prefixes": ["198.51.100.7"]})"), false);
            }),
            404)
      << "the global list does not hold the host's entry";
  EXPECT_THAT(error_, HasSubstr("198.51.100.7/32 is not in the allow list; nothing was removed"));
  control_->change_list(ListKindCfg::kAllow,
                        json::parse(R"({"host": "192.0.2.10", "prefixes": ["198.51.100.7/32"]})"),
                        false);
  EXPECT_TRUE(dataplane_.lists.allow.empty());
}

TEST_F(ListsControlTest, ARefusedRequestChangesNothing) {
  const std::string file_before = dir_.read("fw.json");
  EXPECT_EQ(status_of([&] {
              control_->change_list(
                  ListKindCfg::kDeny,
                  json::parse(R"({"prefixes": ["198.51.100.0/24", "198.51.101.9/24"]})"), true);
            }),
            400);
  EXPECT_THAT(error_, HasSubstr("'list.prefixes[1]': \"198.51.101.9/24\" has address bits set"));
  EXPECT_EQ(status_of([&] {
              control_->change_list(ListKindCfg::kDeny,
                                    json::parse(R"({"prefixes": ["203.0.113.0/24", "10.0.0.0/8"]})"),
                                    false);
            }),
            404);
  EXPECT_THAT(error_, HasSubstr("10.0.0.0/8 is not in the deny list"));
  dataplane_.fail_list_update = true;
  EXPECT_EQ(status_of([&] {
              control_->change_list(ListKindCfg::kDeny,
                                    json::parse(R"({"prefixes": ["10.0.0.0/8"]})"), true);
            }),
            500)
      << "the kernel refused: rolled back";
  EXPECT_EQ(dir_.read("fw.json"), file_before);
  EXPECT_EQ(texts(control_->config().lists.deny), (std::vector<std::string>{"203.0.113.0/24"}));
  EXPECT_EQ(texts(dataplane_.lists.deny), (std::vector<std::string>{"203.0.113.0/24"}))
      << "the rollback resynced the maps to the previous lists";
}

TEST_F(ListsControlTest, ReloadAppliesListAndBudgetChanges) {
  config_["lists"] = {{"allow", {{{"prefixes", {"198.51.100.0/24"}}}}}};
  config_["synack_budget"] = {{"pps", 10}};
  dir_.write("fw.json", config_.dump(2));
  const json answer = control_->reload("test");
  EXPECT_EQ(texts(dataplane_.lists.allow), (std::vector<std::string>{"198.51.100.0/24"}));
  EXPECT_TRUE(dataplane_.lists.deny.empty());
  EXPECT_EQ(dataplane_.budget.pps, 10u);
  EXPECT_EQ(dataplane_.list_syncs, 1) << "a reload applies differences, no resync";
}

TEST(ListsRouter, RoutesListsToTheControlApi) {
  FakeApi api;
  ApiRouter router(api, api);
  const auto request = [](std::string method, std::string path, std::string body = {}) {
    ApiRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.body = std::move(body);
    r.content_type = "application/json";
    r.host = "127.0.0.1:9477";
    return r;
  };
  EXPECT_EQ(router.handle(request("GET", "/lists/allow")).status, 200);
  EXPECT_EQ(router.handle(request("POST", "/lists/deny", R"({"prefixes":["10.0.0.0/8"]})")).status, 200);
  EXPECT_EQ(router.handle(request("DELETE", "/lists/deny", R"({"prefixes":["10.0.0.0/8"]})")).status,
            200);
  EXPECT_EQ(api.calls, (std::vector<std::string>{"get_list allow",
                                                 R"(list_add deny {"prefixes":["10.0.0.0/8"]})",
                                                 R"(list_del deny {"prefixes":["10.0.0.0/8"]})"}));
  EXPECT_EQ(router.handle(request("GET", "/lists/block")).status, 404);
  const ApiResponse put = router.handle(request("PUT", "/lists/allow", "{}"));
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.allow, "GET, POST, DELETE");
  EXPECT_EQ(router.handle(request("POST", "/lists/allow", R"({"prefixes":[],"prefixes":[]})")).status,
            400)
      << "a repeated key is ambiguous";
  EXPECT_EQ(router.handle(request("DELETE", "/lists/allow")).status, 400) << "needs a body";
}

}  // namespace
}  // namespace synwarden::daemon
