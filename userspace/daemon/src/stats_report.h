// The daemon's statistics as one JSON line on stdout: per-worker counters, each socket's
// XDP_STATISTICS, the XDP program's per-reason counters and the established-map size. Printed on
// SIGUSR1 and at exit until the control-plane issue serves them over its API. Control thread
// only (syscalls, allocation).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "attach_ladder.h"
#include "synwarden/dataplane/xdp_fastpath.h"
#include "worker.h"

namespace synwarden::daemon {

struct WorkerView {
  const Worker* worker;
  XskRung rung;
};

nlohmann::json worker_counters_json(const WorkerCounters& counters);

// `event` is "stats" (SIGUSR1) or "final" (exit). `fastpath` may be null (not loaded yet).
std::string stats_report(const std::string& event, const std::vector<WorkerView>& workers,
                         dataplane::XdpFastpath* fastpath, uint64_t snapshot_version);

}  // namespace synwarden::daemon
