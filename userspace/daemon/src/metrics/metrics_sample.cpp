#include "metrics_sample.h"

#include <time.h>

#include <nlohmann/json.hpp>

#include "control_plane.h"

namespace synwarden::daemon {

namespace {

std::vector<uint64_t> read_worker_counters(const WorkerCounters& c) {
  std::vector<uint64_t> values;
  values.reserve(kWorkerCounterCount);
#define SW_WORKER_COUNTER_READ(name, help) values.push_back(c.name.load(std::memory_order_relaxed));
  SW_WORKER_COUNTERS(SW_WORKER_COUNTER_READ)
#undef SW_WORKER_COUNTER_READ
  return values;
}

}  // namespace

StatsSample collect_stats(const ControlPlane& control, const HostCounters& host_counters,
                          const std::vector<WorkerView>& workers,
                          dataplane::XdpFastpath* fastpath, uint64_t start_unix_ms,
                          uint64_t start_mono_ms) {
  StatsSample s;
  s.taken_at_ms = monotonic_ms();
  s.start_unix_ms = start_unix_ms;
  s.uptime_ms = s.taken_at_ms - start_mono_ms;
  s.snapshot_version = control.snapshot_version();
  s.reloads_ok = control.reloads_ok();
  s.reloads_failed = control.reloads_failed();
  s.last_reload_ok = control.last_reload_ok();
  for (const auto& view : control.running().host_views(s.taken_at_ms)) {
    HostSample h;
    h.address = view.config->address.to_string();
    const auto mode = control.mode_view(view.config->address);
    h.protection = mode.effective == HostMode::kProtect;
    h.mode = host_mode_name(mode.configured);
    h.effective_mode = host_mode_name(mode.effective);
    h.auto_syn_pps = mode.syn_pps;
    h.mode_changes = mode.changes;
    h.secrets = view.secrets;
    h.counters = host_counters.read(view.counter_slot);
    s.hosts.push_back(std::move(h));
  }
  for (const auto& agent : control.running().secrets().agent_counters()) {
    AgentSample a;
    a.host = agent.host.to_string();
    a.agent = agent.agent;
    a.state = secrets_state_name(agent.state);
    a.requests_sent = agent.poller.requests_sent;
    a.replies_accepted = agent.poller.replies_accepted;
    a.timeouts = agent.poller.timeouts;
    a.payload_rejected = agent.poller.payload_rejected;
    a.send_errors = agent.poller.send_errors;
    for (size_t r = 0; r < kChannelResultCount; ++r) {
      a.replies.emplace_back(channel_result_name(static_cast<ChannelResult>(r)), agent.replies[r]);
    }
    s.agents.push_back(std::move(a));
  }
  for (const WorkerView& view : workers) {
    WorkerSample w;
    w.queue = view.worker->queue();
    w.cpu = view.worker->cpu();
    w.mode = xsk_rung_name(view.rung);
    w.counters = read_worker_counters(view.worker->counters());
    w.snapshot_generation =
        view.worker->counters().snapshot_generation.load(std::memory_order_relaxed);
    xdp_statistics xs{};
    if (view.worker->port().statistics(xs)) w.xsk = xs;
    s.workers.push_back(std::move(w));
  }
  if (fastpath != nullptr) {
    if (auto counters = fastpath->stats().read(); counters.ok()) {
      s.xdp = *counters;
    } else {
      s.xdp_error = counters.error().message;
    }
    if (auto flows = fastpath->flows().count(); flows.ok()) s.established_flows = *flows;
  }
  return s;
}

nlohmann::json freshness_to_json(const SecretsFreshness& f) {
  return {{"source", f.source},
          {"location", f.location},
          {"state", f.state},
          {"last_update_age_ms",
           f.last_update_age_ms ? nlohmann::json(*f.last_update_age_ms) : nlohmann::json(nullptr)},
          {"last_error", f.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.last_error)}};
}

nlohmann::json host_mode_to_json(const HostSample& h) {
  nlohmann::json changes = nlohmann::json::object();
  for (const auto& [to, n] : h.mode_changes) changes[to] = n;
  nlohmann::json out = {{"configured", h.mode}, {"effective", h.effective_mode},
                        {"changes", std::move(changes)}};
  if (h.mode == "auto") out["syn_pps"] = h.auto_syn_pps;
  return out;
}

nlohmann::json stats_to_json(const StatsSample& s) {
  nlohmann::json out;
  out["taken_at_ms"] = s.taken_at_ms;
  out["uptime_ms"] = s.uptime_ms;
  out["snapshot_version"] = s.snapshot_version;
  nlohmann::json hosts = nlohmann::json::array();
  for (const auto& h : s.hosts) {
    nlohmann::json counters = nlohmann::json::object();
    for (size_t c = 0; c < kHostCounterCount; ++c) {
      counters[host_counter_label(static_cast<HostCounter>(c))] = h.counters[c];
    }
    hosts.push_back({{"address", h.address},
                     {"protection", h.protection},
                     {"mode", host_mode_to_json(h)},
                     {"secrets_state", h.secrets.state},
                     {"counters", std::move(counters)}});
  }
  out["hosts"] = std::move(hosts);
  nlohmann::json agents = nlohmann::json::array();
  for (const auto& a : s.agents) {
    nlohmann::json replies = nlohmann::json::object();
    for (const auto& [result, n] : a.replies) replies[result] = n;
    agents.push_back({{"host", a.host}, {"agent", a.agent}, {"state", a.state},
                      {"requests_sent", a.requests_sent}, {"replies_accepted", a.replies_accepted},
                      {"timeouts", a.timeouts}, {"payload_rejected", a.payload_rejected},
                      {"send_errors", a.send_errors}, {"replies", std::move(replies)}});
  }
  out["agents"] = std::move(agents);
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& w : s.workers) {
    nlohmann::json counters = nlohmann::json::object();
    for (size_t i = 0; i < w.counters.size() && i < kWorkerCounterCount; ++i) {
      counters[kWorkerCounterInfo[i].name] = w.counters[i];
    }
    nlohmann::json xsk = nullptr;
    if (w.xsk) {
      xsk = nlohmann::json::object();
      for (const auto& f : kXskStatistics) xsk[f.name] = (*w.xsk).*(f.field);
    }
    workers.push_back({{"queue", w.queue}, {"cpu", w.cpu}, {"mode", w.mode},
                       {"counters", std::move(counters)}, {"xsk", std::move(xsk)},
                       {"snapshot_generation", w.snapshot_generation}});
  }
  out["workers"] = std::move(workers);
  if (s.xdp) {
    nlohmann::json packets = nlohmann::json::object();
    nlohmann::json bytes = nlohmann::json::object();
    for (unsigned r = 1; r < SW_REASON_COUNT; ++r) {  // 0 is "none": no decision
      const auto reason = static_cast<sw_reason>(r);
      const std::string name(dataplane::StatsTable::reason_name(reason));
      packets[name] = (*s.xdp)[reason].packets;
      bytes[name] = (*s.xdp)[reason].bytes;
    }
    // Monitor mode: what protection would have counted for the monitored hosts' frames.
    nlohmann::json would = nlohmann::json::object();
    for (unsigned r = 1; r < SW_REASON_COUNT; ++r) {
      if (s.xdp->would[r] == 0) continue;
      would[std::string(dataplane::StatsTable::reason_name(static_cast<sw_reason>(r)))] =
          s.xdp->would[r];
    }
    out["xdp"] = {{"packets", std::move(packets)}, {"bytes", std::move(bytes)},
                  {"monitor_would", std::move(would)}};
  } else {
    out["xdp"] = {{"error", s.xdp_error.empty() ? "XDP program not loaded" : s.xdp_error}};
  }
  out["established_flows"] =
      s.established_flows ? nlohmann::json(*s.established_flows) : nlohmann::json(nullptr);
  return out;
}

}  // namespace synwarden::daemon
