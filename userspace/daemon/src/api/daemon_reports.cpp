#include "daemon_reports.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "control_lists.h"
#include "metrics_api_server.h"
#include "metrics_prometheus.h"
#include "metrics_sample.h"

namespace synwarden::daemon {

StatsSample DaemonReports::sample() {
  return collect_stats(control_, counters_, runtime_.workers, runtime_.fastpath,
                       runtime_.start_unix_ms, runtime_.start_mono_ms);
}

nlohmann::json DaemonReports::stats() {
  nlohmann::json out = stats_to_json(sample());
  if (runtime_.fastpath != nullptr) add_lists_stats(*runtime_.fastpath, control_.config(), out);
  if (runtime_.confirm_counters) out["socket_confirm"] = confirm_counters_json(runtime_.confirm_counters());
  return out;
}

std::string DaemonReports::stats_line(const std::string& event) {
  nlohmann::json line = stats();
  line["event"] = event;
  return line.dump();
}

std::string DaemonReports::metrics() {
  std::string text = render_prometheus(sample());
  if (runtime_.api_counters) text += render_api_server_prometheus(runtime_.api_counters());
  if (runtime_.confirm_counters) text += render_confirm_prometheus(runtime_.confirm_counters());
  return text;
}

nlohmann::json DaemonReports::status() {
  const uint64_t now = monotonic_ms();
  nlohmann::json out;
  out["pid"] = ::getpid();
  out["started_unix_ms"] = runtime_.start_unix_ms;
  out["uptime_ms"] = now - runtime_.start_mono_ms;
  if (runtime_.nic != nullptr) {
    out["interface"] = {{"name", runtime_.nic->name},
                        {"ifindex", runtime_.nic->ifindex},
                        {"mac", format_mac(runtime_.nic->mac)},
                        {"rx_queues", runtime_.nic->rx_queues}};
  }
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& view : runtime_.workers) {
    workers.push_back({{"queue", view.worker->queue()},
                       {"cpu", view.worker->cpu()},
                       {"mode", xsk_rung_name(view.rung)}});
  }
  out["workers"] = std::move(workers);
  if (runtime_.fastpath != nullptr) {
    out["dataplane"] = {{"program_id", runtime_.fastpath->program_id()},
                        {"pin_dir", runtime_.pin_dir},
                        {"adopted_maps", runtime_.fastpath->adopted_maps()}};
  }
  out["snapshot_version"] = control_.snapshot_version();
  out["config"] = control_.config_status();
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& view : control_.running().host_views(now)) {
    const auto mode = control_.mode_view(view.config->address);
    hosts.push_back({{"address", view.config->address.to_string()},
                     {"protection", mode.effective == HostMode::kProtect},
                     {"mode", {{"configured", host_mode_name(mode.configured)},
                               {"effective", host_mode_name(mode.effective)}}},
                     {"secrets", freshness_to_json(view.secrets)}});
  }
  out["hosts"] = std::move(hosts);
  return out;
}

HealthReport DaemonReports::health() {
  HealthInputs in;
  if (runtime_.nic != nullptr) in.interface = runtime_.nic->name;
  if (runtime_.fastpath != nullptr) {
    in.loaded_program_id = runtime_.fastpath->program_id();
    const int ifindex = runtime_.fastpath->attached_ifindex();
    if (ifindex == 0) {
      in.attach_query_error = "the daemon has not attached its program";
    } else {
      // Asked each time: the attachment can be removed behind the daemon's back.
      LIBBPF_OPTS(bpf_xdp_query_opts, query);
      if (const int ret = bpf_xdp_query(ifindex, 0, &query); ret < 0) {
        in.attach_query_error = std::string("bpf_xdp_query: ") + std::strerror(-ret);
      } else {
        in.attached_program_id = query.prog_id;
      }
    }
  }
  in.steered_queues = runtime_.queues;
  for (const auto& view : runtime_.workers) in.bound_queues.push_back(view.worker->queue());
  for (const auto& view : control_.running().host_views(monotonic_ms())) {
    in.hosts.push_back({view.config->address.to_string(), view.secrets});
  }
  return evaluate_health(in);
}

}  // namespace synwarden::daemon
