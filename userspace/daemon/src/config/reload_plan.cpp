#include "reload_plan.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "json_reader.h"

namespace synwarden::daemon {

namespace {

const ProtectedHostConfig* find_host(const std::vector<ProtectedHostConfig>& hosts,
                                     const IpAddress& address) {
  const auto it = std::find_if(hosts.begin(), hosts.end(), [&](const ProtectedHostConfig& h) {
    return h.address == address;
  });
  return it == hosts.end() ? nullptr : &*it;
}

std::vector<std::string> changed_keys(const ProtectedHostConfig& a, const ProtectedHostConfig& b) {
  std::vector<std::string> keys;
  if (a.mac != b.mac) keys.emplace_back("mac");
  if (a.ports != b.ports) keys.emplace_back("ports");
  if (a.mode != b.mode) keys.emplace_back("mode");
  if (!(a.policy == b.policy)) keys.emplace_back("policy");
  if (a.secrets_file != b.secrets_file) keys.emplace_back("secrets_file");
  if (a.agent != b.agent) keys.emplace_back("agent");
  if (a.agent != b.agent) keys.emplace_back("agent");
  return keys;
}

// Keeps the running value of a restart-only key in `effective` and records it when it differs.
template <typename T>
void keep_running(T& effective, const T& running, const char* key,
                  std::vector<std::string>& restart_required) {
  if (!(effective == running)) {
    restart_required.emplace_back(key);
    effective = running;
  }
}

}  // namespace

ReloadPlan plan_reload(const DaemonConfig& running, const DaemonConfig& next) {
  ReloadPlan plan;
  plan.effective = next;
  DaemonConfig& e = plan.effective;
  auto& pending = plan.restart_required;
  // Fixed at start: the interface and its queues, threads and CPUs, the AF_XDP mode, the XDP
  // program's load-time knobs and map sizes, the UMEM and ring geometry, the handler's token
  // bucket (built into each worker), and the API's socket.
  keep_running(e.interface, running.interface, "interface", pending);
  keep_running(e.queues, running.queues, "queues", pending);
  keep_running(e.worker_cpus, running.worker_cpus, "worker_cpus", pending);
  keep_running(e.bpffs_pin_dir, running.bpffs_pin_dir, "bpffs_pin_dir", pending);
  // The XDP attachment's detach-on-exit is fixed when it is made.
  keep_running(e.keep_dataplane_on_exit, running.keep_dataplane_on_exit, "keep_dataplane_on_exit",
               pending);
  keep_running(e.fail_open_without_workers, running.fail_open_without_workers,
               "fail_open_without_workers", pending);
  keep_running(e.xsk_mode, running.xsk_mode, "xsk_mode", pending);
  keep_running(e.datapath, running.datapath, "datapath", pending);
  Limits& l = e.limits;
  const Limits& rl = running.limits;
  keep_running(l.frames_per_queue, rl.frames_per_queue, "limits.frames_per_queue", pending);
  keep_running(l.frame_size, rl.frame_size, "limits.frame_size", pending);
  keep_running(l.ring_size, rl.ring_size, "limits.ring_size", pending);
  keep_running(l.batch_size, rl.batch_size, "limits.batch_size", pending);
  keep_running(l.synack_pps_per_queue, rl.synack_pps_per_queue, "limits.synack_pps_per_queue",
               pending);
  keep_running(l.flow_table_size, rl.flow_table_size, "limits.flow_table_size", pending);
  keep_running(l.outbound_table_size, rl.outbound_table_size, "limits.outbound_table_size",
               pending);
  keep_running(l.outbound_unverified_table_size, rl.outbound_unverified_table_size,
               "limits.outbound_unverified_table_size", pending);
  keep_running(l.host_table_size, rl.host_table_size, "limits.host_table_size", pending);
  keep_running(l.list_prefixes, rl.list_prefixes, "limits.list_prefixes", pending);
  keep_running(l.synack_budget_table_size, rl.synack_budget_table_size,
               "limits.synack_budget_table_size", pending);
  keep_running(l.flow_hint, rl.flow_hint, "limits.flow_hint", pending);
  keep_running(l.confirm_candidates_per_s, rl.confirm_candidates_per_s,
               "limits.confirm_candidates_per_s", pending);
  keep_running(e.api.address, running.api.address, "api.address", pending);
  keep_running(e.api.port, running.api.port, "api.port", pending);
  keep_running(e.api.max_body_bytes, running.api.max_body_bytes, "api.max_body_bytes", pending);

  if (e.protected_hosts.size() > e.limits.host_table_size) {
    throw_config_error("protected_hosts",
                       "lists " + std::to_string(e.protected_hosts.size()) +
                           " hosts, the running XDP host table has room for " +
                           std::to_string(e.limits.host_table_size) +
                           " (a new limits.host_table_size takes effect only after a restart)");
  }
  plan.settings_changed = l.forwarded_synack_pps != rl.forwarded_synack_pps;
  plan_lists(running, plan);

  for (const auto& host : e.protected_hosts) {
    const ProtectedHostConfig* old = find_host(running.protected_hosts, host.address);
    if (old == nullptr) {
      plan.added.push_back(host);
    } else if (auto keys = changed_keys(*old, host); !keys.empty()) {
      plan.changed.push_back({host.address, std::move(keys)});
    }
  }
  for (const auto& host : running.protected_hosts) {
    if (find_host(e.protected_hosts, host.address) == nullptr) plan.removed.push_back(host.address);
  }
  return plan;
}

nlohmann::json reload_plan_to_json(const ReloadPlan& plan) {
  nlohmann::json out;
  out["added"] = nlohmann::json::array();
  for (const auto& h : plan.added) out["added"].push_back(h.address.to_string());
  out["removed"] = nlohmann::json::array();
  for (const auto& a : plan.removed) out["removed"].push_back(a.to_string());
  out["changed"] = nlohmann::json::array();
  for (const auto& c : plan.changed) {
    out["changed"].push_back({{"address", c.address.to_string()}, {"keys", c.keys}});
  }
  out["restart_required"] = plan.restart_required;
  lists_plan_to_json(plan, out);
  return out;
}

}  // namespace synwarden::daemon
