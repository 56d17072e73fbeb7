#include <string>

#include <nlohmann/json.hpp>

#include "json_reader.h"
#include "reload_plan.h"

namespace synwarden::daemon {

void plan_lists(const DaemonConfig& running, ReloadPlan& plan) {
  const DaemonConfig& e = plan.effective;
  const ListCounts counts = count_trie_entries(e.lists);
  if (std::max(counts.v4, counts.v6) > e.limits.list_prefixes) {
    throw_config_error("lists", "holds " + std::to_string(counts.v4) + " IPv4 and " +
                                    std::to_string(counts.v6) + " IPv6 prefixes; the running "
                                    "tries have room for " +
                                    std::to_string(e.limits.list_prefixes) +
                                    " per family (a new limits.list_prefixes takes effect only "
                                    "after a restart)");
  }
  plan.allow_changes = diff_list(running.lists.allow, e.lists.allow);
  plan.deny_changes = diff_list(running.lists.deny, e.lists.deny);
  plan.budget_changed = !(running.synack_budget == e.synack_budget);
}

void lists_plan_to_json(const ReloadPlan& plan, nlohmann::json& out) {
  nlohmann::json lists = nlohmann::json::object();
  if (!plan.allow_changes.empty()) {
    lists["allow"] = {{"added", plan.allow_changes.added.size()},
                      {"removed", plan.allow_changes.removed.size()}};
  }
  if (!plan.deny_changes.empty()) {
    lists["deny"] = {{"added", plan.deny_changes.added.size()},
                     {"removed", plan.deny_changes.removed.size()}};
  }
  if (!lists.empty()) out["lists"] = std::move(lists);
  if (plan.budget_changed) out["synack_budget"] = true;
}

}  // namespace synwarden::daemon
