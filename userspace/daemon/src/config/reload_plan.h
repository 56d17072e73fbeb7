// What a new configuration changes in the running daemon, worked out before anything is touched.
// Only the protected hosts and a few knobs can change under traffic (hosts map, worker snapshot,
// XDP settings); keys that shape the sockets, rings, maps or threads need a restart. Like
// PostgreSQL's "pending restart" parameters, those keep their running value and are reported,
// so a reload never half-applies a change it cannot make safely.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config.h"

namespace synwarden::daemon {

struct HostChange {
  IpAddress address;
  std::vector<std::string> keys;  // "mac", "ports", "mode", "policy", "secrets_file", "agent"
};

struct ReloadPlan {
  // The config to run: the new one, except restart-only keys, which keep their running values.
  DaemonConfig effective;
  std::vector<ProtectedHostConfig> added;
  std::vector<IpAddress> removed;
  std::vector<HostChange> changed;
  // Key paths whose new value waits for a restart ("limits.ring_size", "api.port", ...).
  std::vector<std::string> restart_required;
  bool settings_changed = false;  // limits.forwarded_synack_pps: rewrite the XDP settings map
  // Source lists: what the tries gain and lose (config_lists.h); synack_budget changed.
  ListDiff allow_changes;
  ListDiff deny_changes;
  bool budget_changed = false;

  bool changes_hosts() const { return !added.empty() || !removed.empty() || !changed.empty(); }
};

// Throws ConfigError when `next` cannot run in this process at all (more hosts than the running
// XDP host table has room for).
ReloadPlan plan_reload(const DaemonConfig& running, const DaemonConfig& next);

// {"added": [...], "removed": [...], "changed": [{"address", "keys"}], "restart_required": [...]}
// and, when they change, "lists": {"allow"|"deny": {"added": n, "removed": n}} and
// "synack_budget": true.
nlohmann::json reload_plan_to_json(const ReloadPlan& plan);

// The lists' and budget's part of plan_reload() (reload_plan_lists.cpp): diffs, and a ConfigError
// when the lists outgrow the running tries (limits.list_prefixes takes effect at restart).
void plan_lists(const DaemonConfig& running, ReloadPlan& plan);
void lists_plan_to_json(const ReloadPlan& plan, nlohmann::json& out);

}  // namespace synwarden::daemon
