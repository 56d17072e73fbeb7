// Specification of the control plane: how reloads and API changes reach the XDP hosts map and
// the workers' snapshot (in which order, so no frame meets a worker that does not know its host),
// what a refused change leaves behind (nothing), and how API changes are saved to the config
// file (atomically, keeping its mode, never over an edit made on disk meanwhile).
#include "control_plane.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api_router.h"
#include "control_test_support.h"
#include "daemon_reports.h"
#include "metrics_sample.h"

namespace synwarden::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;
using testing::RecordingDataplane;
using testing::TempDir;

const MacAddress kFirewallMac{0x02, 0x53, 0x57, 0, 0, 0x03};

class ControlPlaneTest : public ::testing::Test {
 protected:
  ControlPlaneTest() {
    dir_.write("a.json", serialize_secrets(testing::secrets_for_test(100)), 0600);
    dir_.write("b.json", serialize_secrets(testing::secrets_for_test(200)), 0600);
    // The AF_XDP datapath: these tests order the hosts map against the workers' snapshots; the
    // cookie map the xdp datapath adds is DatapathControlPlane's subject.
    config_ = {{"interface", "eth1"},
               {"datapath", "afxdp"},
               {"limits", {{"host_table_size", 4}, {"forwarded_synack_pps", 1000}}},
               {"protected_hosts",
                {host_json("192.0.2.10", "a.json"), host_json("2001:db8::10", "a.json")}}};
    write_config(config_);
  }

  json host_json(const char* address, const char* secrets) const {
    return {{"address", address},
            {"mac", "02:00:5e:00:53:10"},
            {"secrets_file", dir_.file(secrets).string()},
            {"ports", {8080}}};
  }
  void write_config(const json& doc, mode_t mode = 0640) { dir_.write("fw.json", doc.dump(2), mode); }

  ControlPlane& start() {
    control_ = std::make_unique<ControlPlane>(
        dir_.file("fw.json"), read_config_file(dir_.file("fw.json")), dataplane_, counters_,
        kFirewallMac, [this](std::unique_ptr<const Snapshot> s) {
          std::string hosts;
          for (const auto& h : s->hosts()) hosts += (hosts.empty() ? "" : ",") + h.address.to_string();
          dataplane_.log.push_back("publish " + hosts);
          current_ = std::move(s);
        });
    current_ = control_->start();
    dataplane_.log.clear();
    return *control_;
  }

  const HostEntry* in_snapshot(const char* address) const {
    const auto ip = *IpAddress::parse(address);
    for (const auto& h : current_->hosts()) {
      if (h.address == ip) return &h;
    }
    return nullptr;
  }

  int status_of(const std::function<void()>& call) {
    try {
      call();
    } catch (const ControlError& e) {
      last_error_ = e.what();
      return http_status(e.refusal());
    }
    return 200;
  }

  TempDir dir_;
  json config_;
  RecordingDataplane dataplane_;
  HostCounters counters_{2, 4};
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<const Snapshot> current_;
  std::string last_error_;
};

TEST_F(ControlPlaneTest, StartUpWritesEveryHostAndRemovesStalePinnedOnes) {
  dataplane_.map_hosts.push_back(*IpAddress::parse("198.51.100.9"));  // left by an earlier config
  ControlPlane control(dir_.file("fw.json"), read_config_file(dir_.file("fw.json")), dataplane_,
                       counters_, kFirewallMac, nullptr);
  const auto first = control.start();
  EXPECT_THAT(dataplane_.log, ElementsAre("erase 198.51.100.9", "upsert 192.0.2.10 protect=1",
                                          "upsert 2001:db8::10 protect=1", "settings 1000"));
  ASSERT_EQ(first->hosts().size(), 2u);
  EXPECT_TRUE(first->hosts()[0].keys.has_value()) << "secrets are loaded before the first snapshot";
  EXPECT_NE(first->hosts()[0].counter_slot, first->hosts()[1].counter_slot);
}

TEST_F(ControlPlaneTest, AnAddedHostReachesTheWorkersBeforeXdpSteersItToThem) {
  ControlPlane& c = start();
  const json answer = c.add_host(host_json("192.0.2.11", "b.json"));
  EXPECT_THAT(dataplane_.log, ElementsAre("publish 192.0.2.10,192.0.2.11,2001:db8::10",
                                          "upsert 192.0.2.11 protect=1"));
  const HostEntry* added = in_snapshot("192.0.2.11");
  ASSERT_NE(added, nullptr);
  ASSERT_TRUE(added->keys.has_value()) << "its secrets file is read before it is published";
  EXPECT_EQ(added->keys->secrets, testing::secrets_for_test(200));
  EXPECT_EQ(answer["persisted"], true);
  const json saved = json::parse(dir_.read("fw.json"));
  ASSERT_EQ(saved["protected_hosts"].size(), 3u);
  EXPECT_EQ(saved["protected_hosts"][2]["address"], "192.0.2.11");
  EXPECT_EQ(saved["limits"], config_["limits"]) << "the rest of the file is kept";
}

TEST_F(ControlPlaneTest, ARemovedHostLeavesXdpBeforeTheWorkersForgetIt) {
  ControlPlane& c = start();
  c.remove_host(*IpAddress::parse("2001:db8::10"));
  EXPECT_THAT(dataplane_.log, ElementsAre("erase 2001:db8::10", "publish 192.0.2.10"));
  EXPECT_EQ(in_snapshot("2001:db8::10"), nullptr);
  EXPECT_EQ(json::parse(dir_.read("fw.json"))["protected_hosts"].size(), 1u);
}

TEST_F(ControlPlaneTest, ProtectionToggleUpdatesSnapshotMapAndFileKeepingItsMode) {
  write_config(config_, 0600);
  ControlPlane& c = start();
  const json off = c.set_protection(*IpAddress::parse("192.0.2.10"), false);
  EXPECT_EQ(off["changed"], true);
  EXPECT_EQ(off["persisted"], true);
  EXPECT_THAT(dataplane_.log, ElementsAre("publish 192.0.2.10,2001:db8::10",
                                          "upsert 192.0.2.10 protect=0"));
  EXPECT_FALSE(in_snapshot("192.0.2.10")->protection);
  EXPECT_TRUE(in_snapshot("2001:db8::10")->protection);
  EXPECT_EQ(json::parse(dir_.read("fw.json"))["protected_hosts"][0]["protection"], false);
  EXPECT_EQ(dir_.mode("fw.json"), 0600u) << "the saved file keeps the operator's mode";
  EXPECT_FALSE(std::filesystem::exists(dir_.file("fw.json.tmp"))) << "no temp file left";

  dataplane_.log.clear();
  const json again = c.set_protection(*IpAddress::parse("192.0.2.10"), false);
  EXPECT_EQ(again["changed"], false);
  EXPECT_TRUE(dataplane_.log.empty()) << "asking for the current state changes nothing";
}

TEST_F(ControlPlaneTest, RefusedRequestsChangeNothing) {
  ControlPlane& c = start();
  const std::string before = dir_.read("fw.json");
  json bad_mac = host_json("192.0.2.12", "b.json");
  bad_mac["mac"] = "nope";
  EXPECT_EQ(status_of([&] { c.add_host(bad_mac); }), 400);
  EXPECT_THAT(last_error_, HasSubstr("config key 'host.mac'"));
  EXPECT_EQ(status_of([&] { c.add_host(json::array()); }), 400);
  EXPECT_EQ(status_of([&] { c.add_host(host_json("192.0.2.10", "b.json")); }), 409);
  EXPECT_THAT(last_error_, HasSubstr("already protected"));
  EXPECT_EQ(status_of([&] { c.remove_host(*IpAddress::parse("192.0.2.99")); }), 404);
  EXPECT_EQ(status_of([&] { c.set_protection(*IpAddress::parse("192.0.2.99"), true); }), 404);
  // Two more hosts fit the table of 4; the third does not.
  c.add_host(host_json("192.0.2.12", "b.json"));
  c.add_host(host_json("192.0.2.13", "b.json"));
  dataplane_.log.clear();
  const std::string full = dir_.read("fw.json");
  EXPECT_EQ(status_of([&] { c.add_host(host_json("192.0.2.14", "b.json")); }), 409);
  EXPECT_THAT(last_error_, HasSubstr("limits.host_table_size"));
  EXPECT_TRUE(dataplane_.log.empty());
  EXPECT_EQ(dir_.read("fw.json"), full);
  EXPECT_NE(before, full);
}

TEST_F(ControlPlaneTest, TheLastHostCannotBeRemoved) {
  config_["protected_hosts"].erase(1);
  write_config(config_);
  ControlPlane& c = start();
  EXPECT_EQ(status_of([&] { c.remove_host(*IpAddress::parse("192.0.2.10")); }), 409);
  EXPECT_THAT(last_error_, HasSubstr("only protected host"));
  EXPECT_NE(in_snapshot("192.0.2.10"), nullptr);
}

TEST_F(ControlPlaneTest, AnInvalidFileOnReloadKeepsTheRunningConfigAndSaysWhy) {
  ControlPlane& c = start();
  json broken = config_;
  broken["protected_hosts"][1]["mac"] = "02:00:5e";
  write_config(broken);
  EXPECT_EQ(status_of([&] { c.reload("SIGHUP"); }), 422);
  EXPECT_THAT(last_error_, HasSubstr("reload refused, the running configuration stays"));
  EXPECT_THAT(last_error_, HasSubstr("config key 'protected_hosts[1].mac'"));
  EXPECT_TRUE(dataplane_.log.empty()) << "nothing was touched";
  EXPECT_NE(in_snapshot("2001:db8::10"), nullptr);
  const json status = c.config_status();
  EXPECT_EQ(status["last_reload"]["ok"], false);
  EXPECT_EQ(status["last_reload"]["trigger"], "SIGHUP");
  EXPECT_THAT(status["last_reload"]["error"].get<std::string>(), HasSubstr("protected_hosts[1].mac"));
  EXPECT_EQ(status["reloads"]["failed"], 1);
  EXPECT_FALSE(c.last_reload_ok());

  dir_.write("fw.json", "{\"interface\": ");
  EXPECT_EQ(status_of([&] { c.reload("api"); }), 422);
  EXPECT_THAT(last_error_, HasSubstr("is not valid JSON"));
}

TEST_F(ControlPlaneTest, ReloadAppliesTheDiffAndKeepsRestartOnlyKeys) {
  ControlPlane& c = start();
  json next = config_;
  next["protected_hosts"][0]["protection"] = false;             // changed
  next["protected_hosts"].erase(1);                             // removed
  next["protected_hosts"].push_back(host_json("198.51.100.7", "b.json"));  // added
  next["limits"]["forwarded_synack_pps"] = 5;                   // live
  next["limits"]["ring_size"] = 1024;                           // restart-only
  next["limits"]["frames_per_queue"] = 1024;                    // restart-only
  write_config(next);
  const json answer = c.reload("api");
  EXPECT_THAT(dataplane_.log,
              ElementsAre("erase 2001:db8::10", "publish 192.0.2.10,198.51.100.7",
                          "upsert 198.51.100.7 protect=1", "upsert 192.0.2.10 protect=0",
                          "settings 5"));
  EXPECT_EQ(answer["changes"]["added"], json({"198.51.100.7"}));
  EXPECT_EQ(answer["changes"]["removed"], json({"2001:db8::10"}));
  EXPECT_EQ(answer["changes"]["changed"][0]["keys"], json({"mode"}));
  EXPECT_EQ(answer["changes"]["restart_required"],
            json({"limits.frames_per_queue", "limits.ring_size"}));
  EXPECT_EQ(c.config().limits.ring_size, 2048u) << "the running ring size stays until a restart";
  EXPECT_EQ(c.config().limits.forwarded_synack_pps, 5u);
  EXPECT_EQ(c.config_status()["pending_restart"], answer["changes"]["restart_required"]);
  EXPECT_EQ(c.config_status()["last_reload"]["ok"], true);
}

TEST_F(ControlPlaneTest, AReloadKeepsUnchangedHostsKeysWithoutAGap) {
  ControlPlane& c = start();
  const HostEntry* before = in_snapshot("192.0.2.10");
  ASSERT_TRUE(before->keys.has_value());
  const uint32_t slot = before->counter_slot;
  dir_.write("a.json", "not json any more", 0600);  // the host's file breaks meanwhile
  json next = config_;
  next["protected_hosts"].push_back(host_json("198.51.100.7", "b.json"));
  write_config(next);
  c.reload("SIGHUP");
  const HostEntry* after = in_snapshot("192.0.2.10");
  ASSERT_TRUE(after->keys.has_value()) << "kept keys, not re-read into nothing";
  EXPECT_EQ(after->keys->secrets, testing::secrets_for_test(100));
  EXPECT_EQ(after->counter_slot, slot) << "a kept host keeps its counters";
}

TEST_F(ControlPlaneTest, AnEditOnDiskIsNeverOverwrittenByAnApiChange) {
  ControlPlane& c = start();
  json edited = config_;
  edited["secrets_reload_interval_ms"] = 2000;
  write_config(edited);  // the operator edits the file but does not reload yet
  const json answer = c.set_protection(*IpAddress::parse("192.0.2.10"), false);
  EXPECT_EQ(answer["persisted"], false);
  EXPECT_THAT(answer["persist_note"].get<std::string>(), HasSubstr("changed on disk"));
  EXPECT_FALSE(in_snapshot("192.0.2.10")->protection) << "the change itself is applied";
  EXPECT_EQ(json::parse(dir_.read("fw.json")), edited) << "the operator's edit survives";
  EXPECT_EQ(c.config_status()["unsaved_changes"], true);
  c.reload("SIGHUP");
  EXPECT_EQ(c.config_status()["unsaved_changes"], false) << "a reload makes the file the truth";
  EXPECT_TRUE(in_snapshot("192.0.2.10")->protection);
}

TEST_F(ControlPlaneTest, RuntimeOnlyModeNeverWritesTheFile) {
  config_["api"] = {{"persist_changes", false}};
  write_config(config_);
  ControlPlane& c = start();
  const std::string before = dir_.read("fw.json");
  const json answer = c.add_host(host_json("192.0.2.11", "b.json"));
  EXPECT_EQ(answer["persisted"], false);
  EXPECT_THAT(answer["persist_note"].get<std::string>(), HasSubstr("runtime only"));
  EXPECT_EQ(dir_.read("fw.json"), before);
  EXPECT_NE(in_snapshot("192.0.2.11"), nullptr);
}

TEST_F(ControlPlaneTest, ADataplaneFailureRestoresThePreviousConfiguration) {
  ControlPlane& c = start();
  const std::string before = dir_.read("fw.json");
  dataplane_.fail_upsert_of = "192.0.2.11";
  EXPECT_EQ(status_of([&] { c.add_host(host_json("192.0.2.11", "b.json")); }), 500);
  EXPECT_THAT(last_error_, HasSubstr("injected map failure; the previous configuration was "
                                     "restored"));
  EXPECT_EQ(in_snapshot("192.0.2.11"), nullptr) << "the workers' view is the old one again";
  EXPECT_EQ(c.config().protected_hosts.size(), 2u);
  EXPECT_EQ(dir_.read("fw.json"), before) << "nothing saved";
  const auto& map = dataplane_.map_hosts;
  EXPECT_EQ(std::count(map.begin(), map.end(), *IpAddress::parse("192.0.2.11")), 0);
  EXPECT_EQ(counters_.in_use(), 2u) << "the new host's counter slot was given back";
}

TEST_F(ControlPlaneTest, HostViewsReportSecretsFreshnessPerHost) {
  config_["protected_hosts"].push_back(host_json("192.0.2.11", "missing.json"));
  write_config(config_);
  ControlPlane& c = start();
  const auto views = c.running().host_views(monotonic_ms());
  ASSERT_EQ(views.size(), 3u);
  EXPECT_EQ(views[0].secrets.source, "file");
  EXPECT_EQ(views[0].secrets.state, "fresh");
  ASSERT_TRUE(views[0].secrets.last_update_age_ms.has_value());
  EXPECT_LT(*views[0].secrets.last_update_age_ms, 60'000u);
  EXPECT_EQ(views[2].secrets.state, "no_secrets");
  EXPECT_FALSE(views[2].secrets.last_update_age_ms.has_value());
  EXPECT_THAT(views[2].secrets.last_error, HasSubstr("missing.json"));
}

TEST_F(ControlPlaneTest, AnAgentHostWithAnUnusableKeyFileIsRefusedAndNothingChanges) {
  ControlPlane& c = start();
  dir_.write("agent.key", std::string(32, 'k'), 0644);  // readable by others: refused
  const std::string before = dir_.read("fw.json");
  const json host = {{"address", "192.0.2.12"},
                     {"mac", "02:00:5e:00:53:12"},
                     {"agent", {{"address", "127.0.0.1:9"}, {"key_file", dir_.file("agent.key")}}}};
  EXPECT_EQ(status_of([&] { c.add_host(host); }), 422);
  EXPECT_THAT(last_error_, HasSubstr("agent.key"));
  EXPECT_THAT(last_error_, HasSubstr("nothing was changed"));
  EXPECT_TRUE(dataplane_.log.empty());
  EXPECT_EQ(dir_.read("fw.json"), before);
  EXPECT_EQ(counters_.in_use(), 2u);
}

TEST_F(ControlPlaneTest, AnAgentHostShowsItsAgentsFreshnessAndFailsClosedUntilItAnswers) {
  ControlPlane& c = start();
  dir_.write("agent.key", std::string(32, 'k'), 0600);
  c.add_host({{"address", "192.0.2.12"},
              {"mac", "02:00:5e:00:53:12"},
              {"agent", {{"address", "127.0.0.1:9"}, {"key_file", dir_.file("agent.key")},
                         {"fail", "closed"}}}});
  const auto views = c.running().host_views(monotonic_ms());
  const auto agent = std::find_if(views.begin(), views.end(), [](const auto& v) {
    return v.config->address.to_string() == "192.0.2.12";
  });
  ASSERT_NE(agent, views.end());
  EXPECT_EQ(agent->secrets.source, "agent");
  EXPECT_EQ(agent->secrets.location, "127.0.0.1:9");
  EXPECT_EQ(agent->secrets.state, "no_secrets");
  const HostEntry* entry = in_snapshot("192.0.2.12");
  ASSERT_NE(entry, nullptr);
  EXPECT_FALSE(entry->keys.has_value()) << "no keys until the agent answers";
  EXPECT_EQ(entry->policy, FailPolicy::kClosed);
}

TEST_F(ControlPlaneTest, SetModeReachesMapSnapshotAndFileAndCountsEffectiveChanges) {
  ControlPlane& c = start();
  const auto host = *IpAddress::parse("192.0.2.10");
  const json monitor = c.set_mode(host, HostMode::kMonitor);
  EXPECT_EQ(monitor["changed"], true);
  EXPECT_EQ(monitor["mode"], "monitor");
  EXPECT_THAT(dataplane_.log, ElementsAre("publish 192.0.2.10,2001:db8::10",
                                          "upsert 192.0.2.10 protect=0 mode=monitor"));
  EXPECT_FALSE(in_snapshot("192.0.2.10")->protection) << "monitor: the workers get nothing";
  json saved = json::parse(dir_.read("fw.json"))["protected_hosts"][0];
  EXPECT_EQ(saved["mode"], "monitor");
  EXPECT_FALSE(saved.contains("protection"));
  // protect on|off is mode protect|pass, and a host written with "mode" keeps that form.
  c.set_protection(host, true);
  saved = json::parse(dir_.read("fw.json"))["protected_hosts"][0];
  EXPECT_EQ(saved["mode"], "protect");
  const auto view = c.mode_view(host);
  EXPECT_EQ(view.configured, HostMode::kProtect);
  EXPECT_EQ(view.changes, (std::map<std::string, uint64_t>{{"monitor", 1}, {"protect", 1}}));
  EXPECT_TRUE(c.mode_view(*IpAddress::parse("2001:db8::10")).changes.empty());
  EXPECT_EQ(c.next_auto_poll_ms(), UINT64_MAX) << "no auto host, no polling";
}

TEST_F(ControlPlaneTest, AutoModeSwitchesOnTheSynRateAndBackLoggingNothingInBetween) {
  config_["auto"] = {{"syn_pps_on", 1000}, {"on_ms", 100}, {"syn_pps_off", 100}, {"off_s", 1},
                     {"poll_ms", 50}};
  write_config(config_);
  ControlPlane& c = start();
  const auto host = *IpAddress::parse("192.0.2.10");
  c.set_mode(host, HostMode::kAuto);
  EXPECT_TRUE(in_snapshot("192.0.2.10")->protection)
      << "auto: the workers answer what XDP steers to them while it protects";
  EXPECT_EQ(c.mode_view(host).effective, HostMode::kPass) << "a new auto host starts in pass";
  ASSERT_NE(c.next_auto_poll_ms(), UINT64_MAX);
  dataplane_.log.clear();

  uint64_t now = c.next_auto_poll_ms() + 1000, syns = 0;
  const auto run = [&](int polls, uint64_t per_poll) {
    for (int i = 0; i < polls; ++i) {
      now += 50;
      syns += per_poll;
      dataplane_.syn_counts["192.0.2.10"] = syns;
      c.poll_auto_mode(now);
    }
  };
  run(1, 0);     // the window since tracking: quiet
  run(10, 10);   // 200/s: between the thresholds
  EXPECT_TRUE(dataplane_.log.empty());
  run(3, 250);   // 5000/s for 150 ms: the on condition completes at 100 ms (2 windows)
  EXPECT_THAT(dataplane_.log, ElementsAre("auto 192.0.2.10 protect"));
  EXPECT_EQ(c.mode_view(host).effective, HostMode::kProtect);
  EXPECT_EQ(c.mode_view(host).syn_pps, 5000u);
  run(30, 2);    // 40/s for 1.5 s: off after 1 s
  EXPECT_THAT(dataplane_.log, ElementsAre("auto 192.0.2.10 protect", "auto 192.0.2.10 pass"));
  EXPECT_EQ(c.mode_view(host).changes,
            (std::map<std::string, uint64_t>{{"pass", 2}, {"protect", 1}}));
  // A reload keeps the auto host's state: the controller and the map are not reset.
  run(3, 250);
  ASSERT_EQ(dataplane_.log.back(), "auto 192.0.2.10 protect");
  c.reload("test");
  EXPECT_EQ(c.mode_view(host).effective, HostMode::kProtect);
}

TEST_F(ControlPlaneTest, AFailedSynCountReadNeitherSwitchesNorInventsARate) {
  config_["auto"] = {{"syn_pps_on", 1000}, {"on_ms", 0}, {"syn_pps_off", 100}, {"off_s", 1},
                     {"poll_ms", 50}};
  write_config(config_);
  ControlPlane& c = start();
  const auto host = *IpAddress::parse("192.0.2.10");
  c.set_mode(host, HostMode::kAuto);
  dataplane_.log.clear();
  uint64_t now = c.next_auto_poll_ms() + 50;
  dataplane_.fail_syn_read = true;
  c.poll_auto_mode(now += 50);
  dataplane_.fail_syn_read = false;
  dataplane_.syn_counts["192.0.2.10"] = 1'000'000;  // counted while the reads failed
  c.poll_auto_mode(now += 50);                      // starts over from this count
  c.poll_auto_mode(now += 50);                      // a quiet window
  EXPECT_TRUE(dataplane_.log.empty()) << "no switch from a count that spans the failure";
  EXPECT_EQ(c.mode_view(host).effective, HostMode::kPass);
  EXPECT_EQ(c.next_auto_poll_ms(), now + 50) << "polling goes on";
}

TEST_F(ControlPlaneTest, TheSigusr1LineIsTheStatsDocumentWithItsEvent) {
  ControlPlane& c = start();
  DaemonReports reports(c, counters_, RuntimeInfo{});
  json line = json::parse(reports.stats_line("stats"));
  json stats = reports.stats();
  EXPECT_EQ(line["event"], "stats");
  line.erase("event");
  for (const char* clock : {"taken_at_ms", "uptime_ms"}) {  // read at two different moments
    ASSERT_TRUE(line.contains(clock)) << clock;
    line.erase(clock);
    stats.erase(clock);
  }
  EXPECT_EQ(line, stats) << "one schema: a script reads the line as it reads GET /stats";
  EXPECT_EQ(line["hosts"].size(), 2u);
}

}  // namespace
}  // namespace synwarden::daemon
