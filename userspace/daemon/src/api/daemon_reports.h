// What the running daemon reports: GET /status, /health, /stats, /metrics and the SIGUSR1 (and
// exit) statistics line, read from the control plane, the workers and the XDP program. /stats
// and the line are one document (stats()), so a script reads either the same way. Control thread
// only (the API server dispatches through ControlQueue).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "api_backend.h"
#include "api_server.h"
#include "control_plane.h"
#include "metrics_confirm.h"
#include "metrics_host_counters.h"
#include "metrics_sample.h"
#include "net_interface.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace synwarden::daemon {

// What the daemon set up at start. Pointers stay valid while the reports are used (the daemon
// stops the API before tearing any of it down).
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

class DaemonReports : public StatusReports {
 public:
  DaemonReports(const ControlPlane& control, const HostCounters& counters, RuntimeInfo runtime)
      : control_(control), counters_(counters), runtime_(std::move(runtime)) {}

  nlohmann::json status() override;
  HealthReport health() override;
  nlohmann::json stats() override;
  std::string metrics() override;
  // The SIGUSR1 / exit line: stats() with {"event": event} ("stats" or "final"), on one line.
  std::string stats_line(const std::string& event);

 private:
  StatsSample sample();
  const ControlPlane& control_;
  const HostCounters& counters_;
  RuntimeInfo runtime_;
};

}  // namespace synwarden::daemon
