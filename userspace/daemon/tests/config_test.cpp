// Specification of the daemon's JSON config: defaults, strictness, and errors that name the key.
#include "config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "synwarden/address_text.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

json minimal() {
  return json::parse(R"({
    "interface": "eth1",
    "protected_hosts": [
      {"address": "192.0.2.10", "mac": "02:00:5e:00:53:10", "secrets_file": "/etc/s.json"}
    ]})");
}

std::string error_of(const json& document) {
  try {
    parse_config(document);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Config, MinimalConfigGetsDocumentedDefaults) {
  const DaemonConfig c = parse_config(minimal());
  EXPECT_EQ(c.interface, "eth1");
  EXPECT_TRUE(c.queues.empty()) << "no queues key means every RX queue";
  EXPECT_TRUE(c.bpffs_pin_dir.empty()) << "empty means the dataplane's per-interface default";
  EXPECT_TRUE(c.keep_dataplane_on_exit);
  EXPECT_FALSE(c.fail_open_without_workers);
  EXPECT_EQ(c.xsk_mode, XskMode::kAuto);
  EXPECT_EQ(c.limits.batch_size, 64u);
  EXPECT_EQ(c.limits.ring_size, 2048u);
  EXPECT_EQ(c.limits.frames_per_queue, 4096u);
  ASSERT_EQ(c.protected_hosts.size(), 1u);
  const ProtectedHostConfig& h = c.protected_hosts[0];
  EXPECT_EQ(h.address.to_string(), "192.0.2.10");
  EXPECT_EQ(format_mac(h.mac), "02:00:5e:00:53:10");
  EXPECT_EQ(h.mode, HostMode::kProtect);
  EXPECT_TRUE(h.ports.empty()) << "no ports key means every port";
  EXPECT_EQ(h.policy.fail, FailPolicy::kOpen);
  EXPECT_TRUE(h.policy.forward_icmp);
  EXPECT_FALSE(h.policy.forward_tcp_fragments);
  EXPECT_EQ(h.policy.timestamp_recovery_s, 300u);
  EXPECT_FALSE(h.policy.socket_confirm.has_value()) << "unset: on for hosts with an agent";
  EXPECT_EQ(c.limits.confirm_candidates_per_s, 2000u);
}

TEST(Config, SocketConfirmationIsOnForAgentHostsUnlessTurnedOff) {
  json doc = minimal();
  doc["limits"] = {{"confirm_candidates_per_s", 500}};
  doc["protected_hosts"][0].erase("secrets_file");
  doc["protected_hosts"][0]["agent"] = {{"address", "192.0.2.10:7070"},
                                        {"key_file", "/etc/k.key"}};
  doc["protected_hosts"].push_back(json::parse(R"({
    "address": "192.0.2.11", "mac": "02:00:5e:00:53:11",
    "agent": {"address": "192.0.2.11:7070", "key_file": "/etc/k2.key"},
    "policy": {"socket_confirm": false}})"));
  const DaemonConfig c = parse_config(doc);
  EXPECT_EQ(c.limits.confirm_candidates_per_s, 500u);
  EXPECT_FALSE(c.protected_hosts[0].policy.socket_confirm.has_value());
  EXPECT_EQ(c.protected_hosts[1].policy.socket_confirm, std::optional<bool>(false));
}

TEST(Config, FullConfigIsParsed) {
  json doc = minimal();
  doc["queues"] = {2, 0};
  doc["worker_cpus"] = {3, 1};
  doc["bpffs_pin_dir"] = "/sys/fs/bpf/fw";
  doc["keep_dataplane_on_exit"] = false;
  doc["xsk_mode"] = "generic";
  doc["limits"] = {{"batch_size", 32}, {"synack_pps_per_queue", 100000}, {"frame_size", 2048}};
  doc["protected_hosts"].push_back(json::parse(R"({
    "address": "2001:db8::10", "mac": "02-00-5E-00-53-11", "secrets_file": "/etc/s6.json",
    "ports": [443, 80], "protection": false,
    "policy": {"fail": "closed", "forward_udp": false}})"));
  const DaemonConfig c = parse_config(doc);
  EXPECT_EQ(c.queues, (std::vector<uint32_t>{2, 0}));
  EXPECT_EQ(c.worker_cpus, (std::vector<uint32_t>{3, 1}));
  EXPECT_EQ(c.bpffs_pin_dir, "/sys/fs/bpf/fw");
  EXPECT_FALSE(c.keep_dataplane_on_exit);
  EXPECT_EQ(c.xsk_mode, XskMode::kGeneric);
  EXPECT_EQ(c.limits.batch_size, 32u);
  EXPECT_EQ(c.limits.synack_pps_per_queue, 100000u);
  EXPECT_EQ(c.limits.frame_size, 2048u);
  const ProtectedHostConfig& h = c.protected_hosts[1];
  EXPECT_EQ(h.address.family(), IpAddress::Family::kIpv6);
  EXPECT_EQ(h.address.to_string(), "2001:db8::10");
  EXPECT_EQ(format_mac(h.mac), "02:00:5e:00:53:11");
  EXPECT_EQ(h.ports, (std::vector<uint16_t>{80, 443})) << "ports are kept sorted";
  EXPECT_EQ(h.mode, HostMode::kPass);
  EXPECT_EQ(h.policy.fail, FailPolicy::kClosed);
  EXPECT_FALSE(h.policy.forward_udp);
}

TEST(Config, UnknownKeysAreRejectedWithTheirPath) {
  json top = minimal();
  top["keep_dataplane_on_exti"] = true;
  EXPECT_THAT(error_of(top), HasSubstr("'keep_dataplane_on_exti': unknown key"));
  json host = minimal();
  host["protected_hosts"][0]["colour"] = "red";
  EXPECT_THAT(error_of(host), HasSubstr("'protected_hosts[0].colour': unknown key"));
  json limits = minimal();
  limits["limits"] = {{"batch", 64}};
  EXPECT_THAT(error_of(limits), HasSubstr("'limits.batch': unknown key"));
  json policy = minimal();
  policy["protected_hosts"][0]["policy"] = {{"fail", "open"}, {"forward_gre", true}};
  EXPECT_THAT(error_of(policy), HasSubstr("'protected_hosts[0].policy.forward_gre'"));
}

TEST(Config, BadValuesNameTheKeyAndWhatWasExpected) {
  json doc = minimal();
  doc["protected_hosts"][0]["mac"] = "02:00:5e:00:53";
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts[0].mac': expected a MAC address"));
  doc = minimal();
  doc["protected_hosts"][0]["address"] = "192.0.2.300";
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts[0].address': expected an IPv4 or IPv6"));
  doc = minimal();
  doc["protected_hosts"][0]["ports"] = {80, 70000};
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts[0].ports[1]': value 70000 is out of range"));
  doc = minimal();
  doc["protected_hosts"][0]["ports"] = {80, 80};
  EXPECT_THAT(error_of(doc), HasSubstr("duplicate port 80"));
  doc = minimal();
  doc["protected_hosts"][0]["protection"] = "on";
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts[0].protection': expected true or false"));
  doc = minimal();
  doc["protected_hosts"][0]["policy"] = {{"fail", "sometimes"}};
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts[0].policy.fail': expected \"open\""));
  doc = minimal();
  doc["xsk_mode"] = "turbo";
  EXPECT_THAT(error_of(doc), HasSubstr("'xsk_mode': expected one of"));
  doc = minimal();
  doc["limits"] = {{"ring_size", 1000}};
  EXPECT_THAT(error_of(doc), HasSubstr("'limits.ring_size': must be a power of two"));
  doc = minimal();
  doc["limits"] = {{"batch_size", 0}};
  EXPECT_THAT(error_of(doc), HasSubstr("'limits.batch_size': value 0 is out of range [1, 256]"));
  doc = minimal();
  doc["bpffs_pin_dir"] = "relative/dir";
  EXPECT_THAT(error_of(doc), HasSubstr("'bpffs_pin_dir': must be an absolute path"));
}

TEST(Config, MissingAndInconsistentKeysAreErrors) {
  json doc = minimal();
  doc.erase("interface");
  EXPECT_THAT(error_of(doc), HasSubstr("'interface': is required but missing"));
  doc = minimal();
  doc["protected_hosts"][0].erase("secrets_file");
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts[0].secrets_file': is required"));
  doc = minimal();
  doc["protected_hosts"] = json::array();
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts': must list at least one host"));
  doc = minimal();
  doc["protected_hosts"].push_back(doc["protected_hosts"][0]);
  EXPECT_THAT(error_of(doc), HasSubstr("'protected_hosts[1].address': host 192.0.2.10 is listed twice"));
  doc = minimal();
  doc["worker_cpus"] = {1};
  EXPECT_THAT(error_of(doc), HasSubstr("'worker_cpus': needs an explicit \"queues\" list"));
  doc = minimal();
  doc["limits"] = {{"frames_per_queue", 1024}, {"ring_size", 2048}};
  EXPECT_THAT(error_of(doc), HasSubstr("must be at least ring_size"));
  EXPECT_THAT(error_of(json::array()), HasSubstr("'(top level)': expected an object"));
}

TEST(Config, LoadConfigReportsUnreadableFilesAndJsonSyntax) {
  try {
    load_config("/nonexistent/synwarden.json");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot read config file /nonexistent/synwarden.json"));
  }
  char path[] = "/tmp/synwarden-config-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "{\"interface\": \"eth1\",";
  try {
    load_config(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is not valid JSON"));
  }
  std::ofstream(path) << minimal().dump();
  EXPECT_EQ(load_config(path).interface, "eth1");
  std::remove(path);
}

TEST(Config, TheShippedExampleConfigIsValid) {
  const DaemonConfig c = load_config(SYNWARDEN_DAEMON_DIR "/synwarden.example.json");
  EXPECT_EQ(c.interface, "eth1");
  ASSERT_EQ(c.protected_hosts.size(), 2u);
  EXPECT_EQ(c.protected_hosts[0].ports, (std::vector<uint16_t>{80, 443}));
  EXPECT_FALSE(c.protected_hosts[0].policy.forward_udp);
  EXPECT_EQ(c.limits.forwarded_synack_pps, 50000u);
  EXPECT_EQ(c.protected_hosts[0].mode, HostMode::kProtect);
  EXPECT_EQ(c.protected_hosts[1].mode, HostMode::kAuto);
  EXPECT_EQ(c.auto_mode, AutoModeConfig{}) << "the example spells out the defaults";
}

TEST(Config, AddressAndMacParsersAcceptOnlyWellFormedText) {
  EXPECT_TRUE(IpAddress::parse("198.51.100.7"));
  EXPECT_TRUE(IpAddress::parse("2001:db8::7"));
  EXPECT_FALSE(IpAddress::parse("198.51.100"));
  EXPECT_FALSE(IpAddress::parse("example.com"));
  EXPECT_TRUE(parse_mac_text("aa:BB:cc:dd:ee:ff"));
  EXPECT_FALSE(parse_mac_text("aa:bb:cc:dd:ee:fg"));
  EXPECT_FALSE(parse_mac_text("aa:bb:cc:dd:ee:ff:00"));
  EXPECT_FALSE(parse_mac_text("aabb.ccdd.eeff.."));
}

}  // namespace
}  // namespace synwarden::daemon
