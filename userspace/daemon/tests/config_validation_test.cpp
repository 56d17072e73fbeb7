// Specification of config validation as a table: each row mutates a valid config in one way and
// names the error the operator must see (the key path and what is wrong). A row that stops
// failing, or fails with a vaguer message, fails this test. check-config, start-up, SIGHUP,
// POST /reload and every API change go through this same parser.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config.h"

namespace synwarden::daemon {
namespace {

using json = nlohmann::json;
using namespace std::string_literals;

json valid() {
  return json::parse(R"({
    "interface": "eth1",
    "limits": {"host_table_size": 2},
    "api": {"address": "127.0.0.1", "port": 9477},
    "protected_hosts": [
      {"address": "192.0.2.10", "mac": "02:00:5e:00:53:10", "secrets_file": "/etc/s.json",
       "ports": [80, 443], "policy": {"fail": "open"}}
    ]})");
}

struct BadConfig {
  const char* what;
  std::function<void(json&)> mutate;
  const char* expected;  // substring of the error
};

const std::vector<BadConfig>& bad_configs() {
  static const std::vector<BadConfig> rows = {
      {"unknown top-level key (typo)", [](json& c) { c["keep_dataplane_on_exti"] = true; },
       "config key 'keep_dataplane_on_exti': unknown key"},
      {"unknown key in a host", [](json& c) { c["protected_hosts"][0]["prot"] = true; },
       "config key 'protected_hosts[0].prot': unknown key"},
      {"unknown key in api", [](json& c) { c["api"]["token"] = "x"; },
       "config key 'api.token': unknown key"},
      {"unknown key in limits", [](json& c) { c["limits"]["rings"] = 1; },
       "config key 'limits.rings': unknown key"},
      {"socket confirmation without an agent",
       [](json& c) { c["protected_hosts"][0]["policy"]["socket_confirm"] = true; },
       "config key 'protected_hosts[0].policy.socket_confirm': needs an \"agent\""},
      {"socket_confirm not a boolean",
       [](json& c) { c["protected_hosts"][0]["policy"]["socket_confirm"] = "yes"; },
       "config key 'protected_hosts[0].policy.socket_confirm'"},
      {"confirm_candidates_per_s too high",
       [](json& c) { c["limits"]["confirm_candidates_per_s"] = 2000000; },
       "config key 'limits.confirm_candidates_per_s'"},
      {"interface missing", [](json& c) { c.erase("interface"); },
       "config key 'interface': is required but missing"},
      {"interface too long", [](json& c) { c["interface"] = "a-very-long-ifname0"; },
       "config key 'interface': \"a-very-long-ifname0\" is longer than 15 bytes"},
      {"interface with a NUL", [](json& c) { c["interface"] = "eth1\0x"s; },
       "config key 'interface': contains a NUL byte"},
      {"interface with a colon", [](json& c) { c["interface"] = "eth1:0"; },
       "config key 'interface': \"eth1:0\" contains '/' or ':'"},
      {"host address with a NUL and garbage",
       [](json& c) { c["protected_hosts"][0]["address"] = "198.51.100.25\0x"s; },
       "config key 'protected_hosts[0].address': contains a NUL byte"},
      {"host address with a trailing NUL",
       [](json& c) { c["protected_hosts"][0]["address"] = "198.51.100.25\0"s; },
       "config key 'protected_hosts[0].address': contains a NUL byte"},
      {"host address with trailing garbage",
       [](json& c) { c["protected_hosts"][0]["address"] = "192.0.2.10 x"; },
       "config key 'protected_hosts[0].address': expected an IPv4 or IPv6 address"},
      {"mac with a NUL", [](json& c) { c["protected_hosts"][0]["mac"] = "02:00:5e:00:53:10\0"s; },
       "config key 'protected_hosts[0].mac': contains a NUL byte"},
      {"mac with trailing garbage",
       [](json& c) { c["protected_hosts"][0]["mac"] = "02:00:5e:00:53:10:"; },
       "config key 'protected_hosts[0].mac': expected a MAC address"},
      {"mac with mixed separators",
       [](json& c) { c["protected_hosts"][0]["mac"] = "02:00-5e:00:53:10"; },
       "config key 'protected_hosts[0].mac': expected a MAC address"},
      {"secrets file with a NUL",
       [](json& c) { c["protected_hosts"][0]["secrets_file"] = "/etc/s.json\0.bak"s; },
       "config key 'protected_hosts[0].secrets_file': contains a NUL byte"},
      {"pin dir with a NUL", [](json& c) { c["bpffs_pin_dir"] = "/sys/fs/bpf\0x"s; },
       "config key 'bpffs_pin_dir': contains a NUL byte"},
      {"api address with a NUL", [](json& c) { c["api"]["address"] = "127.0.0.1\0"s; },
       "config key 'api.address': contains a NUL byte"},
      {"agent address with a NUL",
       [](json& c) {
         auto& h = c["protected_hosts"][0];
         h.erase("secrets_file");
         h["agent"] = {{"address", "192.0.2.10\0:7070"s}, {"key_file", "/etc/k"}};
       },
       "config key 'protected_hosts[0].agent.address': contains a NUL byte"},
      {"interface not a string", [](json& c) { c["interface"] = 3; },
       "config key 'interface': expected a string, got an integer"},
      {"queues empty", [](json& c) { c["queues"] = json::array(); },
       "config key 'queues': must list at least one queue"},
      {"queue listed twice", [](json& c) { c["queues"] = {0, 0}; },
       "config key 'queues[1]': duplicate queue 0"},
      {"worker_cpus without queues", [](json& c) { c["worker_cpus"] = {1}; },
       "config key 'worker_cpus': needs an explicit \"queues\" list"},
      {"relative pin dir", [](json& c) { c["bpffs_pin_dir"] = "sys/fs/bpf"; },
       "config key 'bpffs_pin_dir': must be an absolute path"},
      {"bad xsk mode", [](json& c) { c["xsk_mode"] = "fast"; },
       "config key 'xsk_mode': expected one of \"auto\""},
      {"reload interval too short", [](json& c) { c["secrets_reload_interval_ms"] = 10; },
       "config key 'secrets_reload_interval_ms': value 10 is out of range [100, 3600000]"},
      {"negative number", [](json& c) { c["limits"]["batch_size"] = -1; },
       "config key 'limits.batch_size': value -1 is out of range [1, 256]"},
      {"fractional number", [](json& c) { c["limits"]["batch_size"] = 1.5; },
       "config key 'limits.batch_size': expected an integer, got a fractional number"},
      {"ring not a power of two", [](json& c) { c["limits"]["ring_size"] = 3000; },
       "config key 'limits.ring_size': must be a power of two"},
      {"frame size", [](json& c) { c["limits"]["frame_size"] = 3000; },
       "config key 'limits.frame_size': must be 2048 or 4096"},
      {"flow hint not a boolean", [](json& c) { c["limits"]["flow_hint"] = "off"; },
       "config key 'limits.flow_hint': expected true or false, got a string"},
      {"more hosts than the host table",
       [](json& c) {
         for (const char* ip : {"192.0.2.11", "192.0.2.12"}) {
           json h = c["protected_hosts"][0];
           h["address"] = ip;
           c["protected_hosts"].push_back(h);
         }
       },
       "config key 'protected_hosts': lists more hosts than limits.host_table_size"},
      {"no hosts", [](json& c) { c["protected_hosts"] = json::array(); },
       "config key 'protected_hosts': must list at least one host"},
      {"hosts not an array", [](json& c) { c["protected_hosts"] = json::object(); },
       "config key 'protected_hosts': expected an array, got an object"},
      {"host listed twice",
       [](json& c) {
         c["limits"]["host_table_size"] = 8;
         c["protected_hosts"].push_back(c["protected_hosts"][0]);
       },
       "config key 'protected_hosts[1].address': host 192.0.2.10 is listed twice"},
      {"address not an IP", [](json& c) { c["protected_hosts"][0]["address"] = "web1"; },
       "config key 'protected_hosts[0].address': expected an IPv4 or IPv6 address, got \"web1\""},
      {"multicast address", [](json& c) { c["protected_hosts"][0]["address"] = "224.0.0.5"; },
       "config key 'protected_hosts[0].address': 224.0.0.5 is a multicast address"},
      {"loopback address", [](json& c) { c["protected_hosts"][0]["address"] = "127.0.0.1"; },
       "config key 'protected_hosts[0].address': 127.0.0.1 is a loopback address"},
      {"unspecified v6", [](json& c) { c["protected_hosts"][0]["address"] = "::"; },
       "config key 'protected_hosts[0].address': :: is the unspecified address"},
      {"broadcast address", [](json& c) { c["protected_hosts"][0]["address"] = "255.255.255.255"; },
       "is the broadcast address"},
      {"bad MAC", [](json& c) { c["protected_hosts"][0]["mac"] = "02:00:5e:00:53"; },
       "config key 'protected_hosts[0].mac': expected a MAC address"},
      {"multicast MAC", [](json& c) { c["protected_hosts"][0]["mac"] = "01:00:5e:00:00:01"; },
       "config key 'protected_hosts[0].mac': 01:00:5e:00:00:01 is a multicast/broadcast MAC"},
      {"zero MAC", [](json& c) { c["protected_hosts"][0]["mac"] = "00:00:00:00:00:00"; },
       "config key 'protected_hosts[0].mac': 00:00:00:00:00:00 is not a NIC's MAC"},
      {"relative secrets file", [](json& c) { c["protected_hosts"][0]["secrets_file"] = "s.json"; },
       "config key 'protected_hosts[0].secrets_file': must be an absolute path"},
      {"port 0", [](json& c) { c["protected_hosts"][0]["ports"] = {0}; },
       "config key 'protected_hosts[0].ports': port 0 is not a TCP port"},
      {"port out of range", [](json& c) { c["protected_hosts"][0]["ports"] = {80, 65536}; },
       "config key 'protected_hosts[0].ports[1]': value 65536 is out of range [0, 65535]"},
      {"protection as a string", [](json& c) { c["protected_hosts"][0]["protection"] = "on"; },
       "config key 'protected_hosts[0].protection': expected true or false, got a string"},
      {"unknown mode", [](json& c) { c["protected_hosts"][0]["mode"] = "block"; },
       "config key 'protected_hosts[0].mode': expected \"protect\", \"pass\", \"monitor\" or "
       "\"auto\", got \"block\""},
      {"mode not a string", [](json& c) { c["protected_hosts"][0]["mode"] = 1; },
       "config key 'protected_hosts[0].mode': expected a string"},
      {"mode contradicting protection",
       [](json& c) {
         c["protected_hosts"][0]["mode"] = "auto";
         c["protected_hosts"][0]["protection"] = true;
       },
       "config key 'protected_hosts[0].protection': contradicts protected_hosts[0].mode \"auto\""},
      {"pass contradicting protection",
       [](json& c) {
         c["protected_hosts"][0]["mode"] = "pass";
         c["protected_hosts"][0]["protection"] = true;
       },
       "contradicts protected_hosts[0].mode \"pass\""},
      {"auto thresholds without a gap",
       [](json& c) { c["auto"] = {{"syn_pps_on", 1000}, {"syn_pps_off", 1000}}; },
       "config key 'auto.syn_pps_off': must be below auto.syn_pps_on (1000)"},
      {"auto off threshold above the default on", [](json& c) { c["auto"]["syn_pps_off"] = 6000; },
       "config key 'auto.syn_pps_off': must be below auto.syn_pps_on (5000)"},
      {"auto on threshold zero", [](json& c) { c["auto"]["syn_pps_on"] = 0; },
       "config key 'auto.syn_pps_on': value 0 is out of range [1, 1000000000]"},
      {"auto poll too fast", [](json& c) { c["auto"]["poll_ms"] = 1; },
       "config key 'auto.poll_ms': value 1 is out of range [10, 1000]"},
      {"auto off_s zero", [](json& c) { c["auto"]["off_s"] = 0; },
       "config key 'auto.off_s': value 0 is out of range [1, 86400]"},
      {"auto unknown key", [](json& c) { c["auto"]["on_pps"] = 5; },
       "config key 'auto.on_pps': unknown key"},
      {"auto not an object", [](json& c) { c["auto"] = true; }, "config key 'auto'"},
      {"bad fail policy", [](json& c) { c["protected_hosts"][0]["policy"]["fail"] = "maybe"; },
       "config key 'protected_hosts[0].policy.fail': expected \"open\" or \"closed\""},
      {"api on a public address", [](json& c) { c["api"]["address"] = "192.0.2.1"; },
       "config key 'api.address': 192.0.2.1 is not a loopback address: the API has no "
       "authentication"},
      {"api on the wildcard address", [](json& c) { c["api"]["address"] = "::"; },
       "config key 'api.address': :: is not a loopback address"},
      {"api address by name", [](json& c) { c["api"]["address"] = "localhost"; },
       "config key 'api.address': expected a numeric IPv4 or IPv6 address, got \"localhost\""},
      {"api port 0", [](json& c) { c["api"]["port"] = 0; },
       "config key 'api.port': value 0 is out of range [1, 65535]"},
      {"api body limit too small", [](json& c) { c["api"]["max_body_bytes"] = 10; },
       "config key 'api.max_body_bytes': value 10 is out of range [1024, 268435456]"},
      {"persist flag not a bool", [](json& c) { c["api"]["persist_changes"] = 1; },
       "config key 'api.persist_changes': expected true or false, got an integer"},
      {"top level not an object", [](json& c) { c = json::array(); },
       "config key '(top level)': expected an object, got an array"},
  };
  return rows;
}

TEST(ConfigValidation, TheBaseConfigOfTheTableIsValid) {
  const DaemonConfig c = parse_config(valid());
  EXPECT_EQ(c.api.port, 9477);
  EXPECT_TRUE(c.api.address.is_loopback());
  EXPECT_TRUE(c.api.persist_changes) << "API changes are saved unless turned off";
}

TEST(ConfigValidation, EveryBadConfigIsRefusedNamingTheKeyAndTheProblem) {
  for (const BadConfig& row : bad_configs()) {
    json doc = valid();
    row.mutate(doc);
    std::string error = "(accepted)";
    try {
      parse_config(doc);
    } catch (const ConfigError& e) {
      error = e.what();
    }
    EXPECT_THAT(error, ::testing::HasSubstr(row.expected)) << "row: " << row.what;
  }
}

// What `synwarden check-config`, start-up and reload read: the file's text, strictly.
TEST(ConfigValidation, AFileWithARepeatedKeyOrANulEscapeIsRefused) {
  const std::string text = valid().dump();
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("sw-config-" + std::to_string(::getpid()) + ".json");
  const auto refusal = [&](const std::string& body) {
    std::ofstream(path) << body;
    std::string error = "accepted";
    try {
      load_config(path);
    } catch (const ConfigError& e) {
      error = e.what();
    }
    std::filesystem::remove(path);
    return error;
  };
  EXPECT_EQ(refusal(text), "accepted");
  std::string repeated = text;
  repeated.replace(repeated.find("\"ports\""), 0, "\"protection\":true,\"protection\":false,");
  EXPECT_THAT(refusal(repeated), ::testing::HasSubstr(
                                     "config key 'protected_hosts[0].protection': duplicate key"));
  std::string nul = text;
  nul.replace(nul.find("192.0.2.10"), 10, "198.51.100.25\\u0000x");
  EXPECT_THAT(refusal(nul), ::testing::HasSubstr("config key 'protected_hosts[0].address'"));
  EXPECT_THAT(refusal(nul), ::testing::HasSubstr("NUL"));
}

TEST(ConfigValidation, ApiDefaultsToLoopbackAndAcceptsIpv6Loopback) {
  json doc = valid();
  doc.erase("api");
  const DaemonConfig defaults = parse_config(doc);
  EXPECT_EQ(defaults.api.address.to_string(), "127.0.0.1");
  EXPECT_EQ(defaults.api.port, kDefaultApiPort);
  EXPECT_EQ(defaults.api.max_body_bytes, 64u * 1024);
  doc["api"] = {{"address", "::1"}, {"port", 19477}, {"persist_changes", false}};
  const DaemonConfig v6 = parse_config(doc);
  EXPECT_EQ(v6.api.address.to_string(), "::1");
  EXPECT_EQ(v6.api.port, 19477);
  EXPECT_FALSE(v6.api.persist_changes);
  doc["api"] = {{"address", "127.0.0.53"}};
  EXPECT_EQ(parse_config(doc).api.address.to_string(), "127.0.0.53") << "all of 127/8 is loopback";
}

TEST(ConfigValidation, AHostRoundTripsThroughItsJsonForm) {
  json doc = valid();
  doc["protected_hosts"][0]["protection"] = false;
  doc["protected_hosts"][0]["policy"] = {{"fail", "closed"}, {"forward_udp", false}};
  const ProtectedHostConfig host = parse_config(doc).protected_hosts[0];
  const json out = protected_host_to_json(host);
  EXPECT_EQ(parse_protected_host(out, "host"), host)
      << "GET /hosts output can be POSTed back unchanged: " << out.dump();
  EXPECT_EQ(out["ports"], json({80, 443}));
  EXPECT_EQ(out["protection"], false);
  EXPECT_EQ(out["policy"]["fail"], "closed");
}

TEST(ConfigValidation, ASingleHostIsValidatedWithTheCallersPath) {
  try {
    parse_protected_host(json{{"address", "192.0.2.20"}, {"mac", "zz"}, {"secrets_file", "/s"}},
                         "host");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("config key 'host.mac'"));
  }
}

}  // namespace
}  // namespace synwarden::daemon
