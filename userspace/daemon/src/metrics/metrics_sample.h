// One consistent reading of everything the daemon counts, taken on the control thread and then
// rendered as GET /stats JSON and the SIGUSR1 line (stats_to_json: one schema for both) or
// Prometheus text (metrics_prometheus.h). The
// sources: per-host worker counters (HostCounters), per-worker counters and socket statistics,
// the XDP program's per-reason counters and the established-map size.
#pragma once

#include <linux/if_xdp.h>

#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "control_freshness.h"
#include "metrics_host_counters.h"
#include "attach_ladder.h"
#include "synwarden/clock_now.h"  // taken_at_ms and the callers' now: monotonic_ms()
#include "synwarden/dataplane/tables.h"
#include "worker.h"
#include "worker_counters.h"

namespace synwarden::daemon {

class ControlPlane;

// A running worker and the AF_XDP mode its socket got.
struct WorkerView {
  const Worker* worker;
  XskRung rung;
};

struct CounterInfo {
  const char* name;
  const char* help;
};
// The worker counters of SW_WORKER_COUNTERS, in declaration order.
inline constexpr CounterInfo kWorkerCounterInfo[] = {
#define SW_WORKER_COUNTER_INFO(name, help) {#name, help},
    SW_WORKER_COUNTERS(SW_WORKER_COUNTER_INFO)
#undef SW_WORKER_COUNTER_INFO
};
inline constexpr size_t kWorkerCounterCount = std::size(kWorkerCounterInfo);

// One reported number of a struct: its name, help text and where it is.
template <typename Struct, typename Value>
struct FieldInfo {
  const char* name;
  const char* help;
  Value Struct::*field;
};

// The AF_XDP socket statistics (XDP_STATISTICS) /stats and /metrics report, in that order.
inline constexpr FieldInfo<xdp_statistics, __u64> kXskStatistics[] = {
    {"rx_dropped", "Frames the kernel dropped for the socket (RX ring full or no buffer)",
     &xdp_statistics::rx_dropped},
    {"rx_invalid_descs", "Invalid RX descriptors", &xdp_statistics::rx_invalid_descs},
    {"tx_invalid_descs", "Invalid TX descriptors", &xdp_statistics::tx_invalid_descs},
    {"rx_ring_full", "Frames dropped because the RX ring was full", &xdp_statistics::rx_ring_full},
    {"rx_fill_ring_empty_descs", "Times the fill ring was empty when a frame arrived",
     &xdp_statistics::rx_fill_ring_empty_descs},
    {"tx_ring_empty_descs", "Times the TX ring was found empty",
     &xdp_statistics::tx_ring_empty_descs},
};

struct HostSample {
  std::string address;
  bool protection = false;  // effective: protect now (mode protect, or auto switched on)
  std::string mode;         // configured: protect, pass, monitor, auto (host_mode.h)
  std::string effective_mode;  // protect, pass or monitor
  uint64_t auto_syn_pps = 0;   // auto: SYN rate of the last poll window
  std::map<std::string, uint64_t> mode_changes;  // by the effective mode changed to
  SecretsFreshness secrets;
  HostCounterValues counters{};
};

// One agent host's secret-channel counters (AgentChannelCounters, flattened for rendering).
struct AgentSample {
  std::string host;
  std::string agent;  // its address
  std::string state;  // secrets_state_name()
  uint64_t requests_sent = 0;
  uint64_t replies_accepted = 0;
  uint64_t timeouts = 0;
  uint64_t payload_rejected = 0;
  uint64_t send_errors = 0;
  std::vector<std::pair<std::string, uint64_t>> replies;  // by channel_result_name()
};

struct WorkerSample {
  uint32_t queue = 0;
  int cpu = -1;
  std::string mode;                 // xsk_rung_name()
  std::vector<uint64_t> counters;   // kWorkerCounterInfo order
  uint64_t snapshot_generation = 0;  // the last snapshot the worker used
  std::optional<xdp_statistics> xsk;
};

struct StatsSample {
  uint64_t taken_at_ms = 0;        // CLOCK_MONOTONIC, for rates between two samples
  uint64_t start_unix_ms = 0;
  uint64_t uptime_ms = 0;
  uint64_t snapshot_version = 0;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  bool last_reload_ok = true;
  std::vector<HostSample> hosts;
  std::vector<AgentSample> agents;
  std::vector<WorkerSample> workers;
  std::optional<dataplane::CounterSnapshot> xdp;  // nullopt: could not be read (xdp_error)
  std::string xdp_error;
  std::optional<uint64_t> established_flows;
};

// Reads every source now. `fastpath` may be null (not loaded). Control thread only.
StatsSample collect_stats(const ControlPlane& control, const HostCounters& host_counters,
                          const std::vector<WorkerView>& workers,
                          dataplane::XdpFastpath* fastpath, uint64_t start_unix_ms,
                          uint64_t start_mono_ms);

nlohmann::json stats_to_json(const StatsSample& sample);
// The per-host part of /status: address, protection, secrets freshness.
nlohmann::json freshness_to_json(const SecretsFreshness& freshness);
// A host's mode for /status and /stats: configured, effective, auto's rate, changes.
nlohmann::json host_mode_to_json(const HostSample& host);


}  // namespace synwarden::daemon
