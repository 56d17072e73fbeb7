#include "stats_report.h"

#include <nlohmann/json.hpp>

namespace synwarden::daemon {

nlohmann::json worker_counters_json(const WorkerCounters& c) {
  nlohmann::json out = nlohmann::json::object();
#define SW_COUNTER_TO_JSON(name, help) out[#name] = c.name.load(std::memory_order_relaxed);
  SW_WORKER_COUNTERS(SW_COUNTER_TO_JSON)
#undef SW_COUNTER_TO_JSON
  out["snapshot_generation"] = c.snapshot_generation.load(std::memory_order_relaxed);
  return out;
}

std::string stats_report(const std::string& event, const std::vector<WorkerView>& workers,
                         dataplane::XdpFastpath* fastpath, uint64_t snapshot_version) {
  nlohmann::json report;
  report["event"] = event;
  report["snapshot_version"] = snapshot_version;
  nlohmann::json list = nlohmann::json::array();
  for (const WorkerView& view : workers) {
    nlohmann::json w;
    w["queue"] = view.worker->queue();
    w["cpu"] = view.worker->cpu();
    w["mode"] = xsk_rung_name(view.rung);
    w["counters"] = worker_counters_json(view.worker->counters());
    xdp_statistics xs{};
    if (view.worker->port().statistics(xs)) {
      w["xsk"] = {{"rx_dropped", xs.rx_dropped},
                  {"rx_invalid_descs", xs.rx_invalid_descs},
                  {"tx_invalid_descs", xs.tx_invalid_descs},
                  {"rx_ring_full", xs.rx_ring_full},
                  {"rx_fill_ring_empty_descs", xs.rx_fill_ring_empty_descs},
                  {"tx_ring_empty_descs", xs.tx_ring_empty_descs}};
    } else {
      w["xsk"] = nullptr;
    }
    list.push_back(std::move(w));
  }
  report["workers"] = std::move(list);
  if (fastpath != nullptr) {
    nlohmann::json xdp = nlohmann::json::object();
    if (auto counters = fastpath->stats().read(); counters.ok()) {
      for (unsigned r = 0; r < SW_REASON_COUNT; ++r) {
        const auto reason = static_cast<sw_reason>(r);
        const auto& c = (*counters)[reason];
        if (c.packets != 0) {
          xdp[std::string(dataplane::StatsTable::reason_name(reason))] = c.packets;
        }
      }
    } else {
      xdp["error"] = counters.error().message;
    }
    report["xdp"] = std::move(xdp);
    if (auto flows = fastpath->flows().count(); flows.ok()) {
      report["established_flows"] = *flows;
    }
  }
  return report.dump();
}

}  // namespace synwarden::daemon
