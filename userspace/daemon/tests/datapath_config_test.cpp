// The "datapath" key: which of the two datapaths answers SYNs ("afxdp": the workers, the
// default; "xdp": the XDP program), fixed at start, and what the control plane then writes into
// the XDP program's per-host cookie map (every published snapshot, only in the "xdp" datapath).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "config.h"
#include "control_plane.h"
#include "control_test_support.h"
#include "reload_plan.h"

namespace synwarden::daemon {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

json minimal() {
  return json::parse(R"({
    "interface": "eth1",
    "protected_hosts": [
      {"address": "192.0.2.10", "mac": "02:00:5e:00:53:10", "secrets_file": "/etc/s.json"}
    ]})");
}

TEST(DatapathConfig, DefaultsToTheXdpProgram) {
  EXPECT_EQ(parse_config(minimal()).datapath, Datapath::kXdp);
}

TEST(DatapathConfig, XdpAndAfxdpAreAcceptedAnythingElseIsRefusedWithTheChoices) {
  json doc = minimal();
  doc["datapath"] = "xdp";
  EXPECT_EQ(parse_config(doc).datapath, Datapath::kXdp);
  doc["datapath"] = "afxdp";
  EXPECT_EQ(parse_config(doc).datapath, Datapath::kAfxdp);
  doc["datapath"] = "dpdk";
  try {
    parse_config(doc);
    FAIL() << "\"dpdk\" was accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'datapath': expected \"afxdp\" or \"xdp\""));
  }
  EXPECT_STREQ(datapath_name(Datapath::kXdp), "xdp");
  EXPECT_STREQ(datapath_name(Datapath::kAfxdp), "afxdp");
}

TEST(DatapathConfig, ChangingItOnReloadWaitsForARestart) {
  json running = minimal();
  running["datapath"] = "afxdp";
  json next = minimal();
  next["datapath"] = "xdp";
  const ReloadPlan plan = plan_reload(parse_config(running), parse_config(next));
  EXPECT_THAT(plan.restart_required, Contains("datapath"));
  EXPECT_EQ(plan.effective.datapath, Datapath::kAfxdp) << "the running datapath stays";
}

class DatapathControlPlane : public ::testing::Test {
 protected:
  void start(const char* datapath) {
    dir_.write("a.json", serialize_secrets(testing::secrets_for_test(100)), 0600);
    json doc = {{"interface", "eth1"},
                {"datapath", datapath},
                {"protected_hosts",
                 {{{"address", "192.0.2.10"},
                   {"mac", "02:00:5e:00:53:10"},
                   {"secrets_file", dir_.file("a.json").string()}}}}};
    dir_.write("fw.json", doc.dump(2), 0640);
    control_ = std::make_unique<ControlPlane>(dir_.file("fw.json"),
                                              read_config_file(dir_.file("fw.json")), dataplane_,
                                              counters_, MacAddress{2, 0, 0, 0, 0, 1},
                                              [](std::unique_ptr<const Snapshot>) {});
    first_ = control_->start();
  }
  testing::TempDir dir_;
  testing::RecordingDataplane dataplane_;
  HostCounters counters_{1, 4};
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<const Snapshot> first_;
};

TEST_F(DatapathControlPlane, XdpDatapathWritesTheFirstSnapshotsHostsBeforeAnyTraffic) {
  start("xdp");
  EXPECT_THAT(dataplane_.log, Contains("host_cookies v" + std::to_string(first_->version())));
}

TEST_F(DatapathControlPlane, XdpDatapathRewritesTheHostsOnEveryPublish) {
  start("xdp");
  dataplane_.log.clear();
  json host = {{"address", "192.0.2.11"},
               {"mac", "02:00:5e:00:53:11"},
               {"secrets_file", dir_.file("a.json").string()}};
  control_->add_host(host);
  EXPECT_EQ(std::count_if(dataplane_.log.begin(), dataplane_.log.end(),
                          [](const std::string& l) { return l.rfind("host_cookies", 0) == 0; }),
            1);
}

TEST_F(DatapathControlPlane, AfxdpDatapathNeverWritesTheCookieMap) {
  start("afxdp");
  control_->refresh_secrets();
  EXPECT_THAT(dataplane_.log, Not(Contains(HasSubstr("host_cookies"))));
}

}  // namespace
}  // namespace synwarden::daemon
