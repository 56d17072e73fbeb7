// The daemon's implementation of ControlApi: host operations and reload go to the ControlPlane,
// status and counters are read from the running workers and the XDP program. Runs on the control
// thread only (the API server dispatches through ControlQueue).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api_server.h"
#include "control_api.h"
#include "control_plane.h"
#include "metrics_confirm.h"
#include "metrics_host_counters.h"
#include "metrics_sample.h"
#include "net_interface.h"
#include "stats_report.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace synwarden::daemon {

// What the daemon set up at start, for GET /status. Pointers stay valid while the API runs (the
// daemon stops the API before tearing any of it down).
struct RuntimeInfo {
  const NetInterface* nic = nullptr;
  std::vector<WorkerView> workers;
  std::vector<uint32_t> queues;  // the RX queues the XDP program steers to (GET /health)
  dataplane::XdpFastpath* fastpath = nullptr;
  std::string pin_dir;
  uint64_t start_unix_ms = 0;
  uint64_t start_mono_ms = 0;
  // The API server's counters, appended to /metrics (empty: none).
  std::function<ApiServerCounters()> api_counters;
  // The confirmer's counters (flow_confirmer.h), in /stats and /metrics (empty: confirmation off).
  std::function<ConfirmerCounters()> confirm_counters;
};

class DaemonControlApi : public ControlApi {
 public:
  DaemonControlApi(ControlPlane& control, const HostCounters& counters, RuntimeInfo runtime)
      : control_(control), counters_(counters), runtime_(std::move(runtime)) {}

  nlohmann::json status() override;
  HealthReport health() override;
  nlohmann::json list_hosts() override { return control_.hosts_json(); }
  nlohmann::json get_host(const IpAddress& a) override { return control_.host_json(a); }
  nlohmann::json add_host(const nlohmann::json& spec) override { return control_.add_host(spec); }
  nlohmann::json remove_host(const IpAddress& a) override { return control_.remove_host(a); }
  nlohmann::json set_protection(const IpAddress& a, bool on) override {
    return control_.set_protection(a, on);
  }
  nlohmann::json set_mode(const IpAddress& a, HostMode mode) override {
    return control_.set_mode(a, mode);
  }
  nlohmann::json stats() override;
  std::string metrics() override;
  nlohmann::json reload() override { return control_.reload("api"); }
  nlohmann::json get_list(ListKindCfg kind) override { return control_.list_json(kind); }
  nlohmann::json change_list(ListKindCfg kind, const nlohmann::json& body, bool add) override {
    return control_.change_list(kind, body, add);
  }

 private:
  StatsSample sample();
  ControlPlane& control_;
  const HostCounters& counters_;
  RuntimeInfo runtime_;
};

}  // namespace synwarden::daemon
