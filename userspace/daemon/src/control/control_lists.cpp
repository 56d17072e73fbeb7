// Source allow/deny lists and the per-source SYN-ACK budget in the control plane: the API's list
// operations (ControlPlane) and their writes into the XDP maps (FastpathPort).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "control_dataplane.h"
#include "control_error.h"
#include "control_lists.h"
#include "control_plane.h"
#include "log.h"

namespace synwarden::daemon {

namespace {

IpAddress dp_address(bool v6, const std::array<uint8_t, 16>& bytes) {
  return IpAddress::from_bytes(v6 ? IpAddress::Family::kIpv6 : IpAddress::Family::kIpv4,
                               bytes.data());
}

dataplane::ListKind dp_kind(ListKindCfg kind) {
  return kind == ListKindCfg::kAllow ? dataplane::ListKind::allow : dataplane::ListKind::deny;
}

std::vector<dataplane::ListEntry> dp_entries(const std::vector<ListPrefix>& prefixes) {
  std::vector<dataplane::ListEntry> out;
  out.reserve(prefixes.size());
  for (const auto& p : prefixes) {
    dataplane::ListEntry e;
    e.prefix = dp_address(p.v6, p.prefix);
    e.length = p.length;
    if (p.has_host) e.host = dp_address(p.v6, p.host);
    out.push_back(e);
  }
  return out;
}

std::string scope_text(const ListPrefix& p) {
  return p.has_host ? " (host " + p.host_text() + ")" : "";
}

}  // namespace

// ---- FastpathPort ----

void FastpathPort::update_list(ListKindCfg kind, const ListDiff& diff) {
  auto& lists = fastpath_.lists();
  // Additions first: a deny list never holds less than both versions share.
  if (!diff.added.empty()) {
    if (auto r = lists.add(dp_kind(kind), dp_entries(diff.added)); !r.ok()) {
      throw std::runtime_error(std::string("adding to the ") + list_kind_name(kind) +
                               " list: " + r.error().message);
    }
  }
  if (!diff.removed.empty()) {
    if (auto r = lists.remove(dp_kind(kind), dp_entries(diff.removed)); !r.ok()) {
      // Undo the additions, so the request is applied whole or not at all.
      (void)lists.remove(dp_kind(kind), dp_entries(diff.added));
      throw std::runtime_error(std::string("removing from the ") + list_kind_name(kind) +
                               " list: " + r.error().message);
    }
  }
}

void FastpathPort::sync_lists(const DaemonConfig& config) {
  for (const ListKindCfg kind : {ListKindCfg::kAllow, ListKindCfg::kDeny}) {
    if (auto r = fastpath_.lists().sync(dp_kind(kind), dp_entries(config.lists.of(kind))); !r.ok()) {
      throw std::runtime_error(std::string("writing the ") + list_kind_name(kind) +
                               " list into the XDP maps: " + r.error().message);
    }
  }
  write_synack_budget(config.synack_budget);
}

void FastpathPort::write_synack_budget(const SynAckBudget& budget) {
  dataplane::SynBudget b;
  b.pps = budget.pps;
  b.burst = budget.burst;
  b.prefix_v4 = budget.prefix_v4;
  b.prefix_v6 = budget.prefix_v6;
  if (auto r = fastpath_.syn_budget().write(b); !r.ok()) {
    throw std::runtime_error("writing the SYN-ACK budget into the XDP maps: " + r.error().message);
  }
}

// ---- GET /stats ----

void add_lists_stats(dataplane::XdpFastpath& fastpath, const DaemonConfig& config,
                     nlohmann::json& out) {
  nlohmann::json lists = {{"allow", config.lists.allow.size()}, {"deny", config.lists.deny.size()}};
  if (auto hits = fastpath.lists().allow_hits(); hits.ok()) {
    lists["allow_hits"] = {{"host", (*hits)[0]}, {"global", (*hits)[1]}};
  } else {
    lists["error"] = hits.error().message;
  }
  out["lists"] = std::move(lists);
  nlohmann::json budget = synack_budget_to_json(config.synack_budget);
  nlohmann::json top = nlohmann::json::array();
  if (auto rows = fastpath.syn_budget().top(kBudgetTopN); rows.ok()) {
    for (const auto& r : *rows) {
      if (r.dropped == 0) break;  // sorted by dropped: only prefixes the budget limited
      top.push_back({{"prefix", r.prefix.to_string() + "/" + std::to_string(r.length)},
                     {"dropped", r.dropped},
                     {"answered", r.answered}});
    }
  } else {
    budget["error"] = rows.error().message;
  }
  budget["top"] = std::move(top);
  out["synack_budget"] = std::move(budget);
}

// ---- RunningConfig and ControlPlane ----

void RunningConfig::apply_lists(const ReloadPlan& plan) {
  if (!plan.allow_changes.empty()) dataplane_.update_list(ListKindCfg::kAllow, plan.allow_changes);
  if (!plan.deny_changes.empty()) {
    try {
      dataplane_.update_list(ListKindCfg::kDeny, plan.deny_changes);
    } catch (...) {
      // The allow list's change went through: take it back before the caller's rollback
      // resyncs everything (so even a failing resync leaves the allow list as it was).
      if (!plan.allow_changes.empty()) {
        try {
          dataplane_.update_list(ListKindCfg::kAllow, {plan.allow_changes.removed,
                                                       plan.allow_changes.added});
        } catch (const std::exception& e) {
          log_error("undoing the allow list's change failed: " + std::string(e.what()));
        }
      }
      throw;
    }
  }
  if (plan.budget_changed) dataplane_.write_synack_budget(config_.synack_budget);
}

nlohmann::json ControlPlane::list_json(ListKindCfg kind) const {
  const auto& list = config().lists.of(kind);
  return {{"list", list_kind_name(kind)}, {"count", list.size()}, {"groups", list_to_json(list)}};
}

nlohmann::json ControlPlane::change_list(ListKindCfg kind, const nlohmann::json& body, bool add) {
  const std::string name = list_kind_name(kind);
  std::vector<ListPrefix> request;
  try {
    parse_list_group(body, "list", request);
  } catch (const ConfigError& e) {
    throw ControlError(Refusal::kInvalidRequest, std::string(e.what()) + "; nothing was changed");
  }
  if (request.empty()) {
    throw ControlError(Refusal::kInvalidRequest, "list.prefixes is empty: nothing to do");
  }
  std::sort(request.begin(), request.end());
  request.erase(std::unique(request.begin(), request.end()), request.end());

  const auto& current = config().lists.of(kind);
  std::vector<ListPrefix> present;
  std::set_intersection(request.begin(), request.end(), current.begin(), current.end(),
                        std::back_inserter(present));
  SourceLists next_lists = config().lists;
  auto& target = next_lists.of(kind);
  if (add) {
    std::vector<ListPrefix> merged;
    merged.reserve(current.size() + request.size());
    std::set_union(current.begin(), current.end(), request.begin(), request.end(),
                   std::back_inserter(merged));
    target = std::move(merged);
  } else {
    if (present.size() != request.size()) {
      std::vector<ListPrefix> absent;
      std::set_difference(request.begin(), request.end(), present.begin(), present.end(),
                          std::back_inserter(absent));
      const std::string more =
          absent.size() > 1 ? " (nor are " + std::to_string(absent.size() - 1) +
                                  " more of the request's prefixes)"
                            : std::string{};
      throw ControlError(Refusal::kNotFound, absent.front().prefix_text() +
                                                 scope_text(absent.front()) + " is not in the " +
                                                 name + " list" + more + "; nothing was removed");
    }
    std::vector<ListPrefix> kept;
    kept.reserve(current.size());
    std::set_difference(current.begin(), current.end(), request.begin(), request.end(),
                        std::back_inserter(kept));
    target = std::move(kept);
  }
  const size_t changed = add ? request.size() - present.size() : request.size();
  if (changed == 0) {
    return {{"list", name}, {"added", 0}, {"already_listed", present.size()},
            {"count", current.size()}, {"persisted", !document_.unsaved()}, {"persist_note", ""}};
  }
  nlohmann::ordered_json next = document_.document();
  next["lists"] = nlohmann::ordered_json(source_lists_to_json(next_lists));
  const auto saved = change_document(
      std::move(next), std::string(add ? "added " : "removed ") + std::to_string(changed) +
                           " prefixes " + (add ? "to" : "from") + " the " + name + " list");
  nlohmann::json out = {{"list", name},
                        {"count", config().lists.of(kind).size()},
                        {"persisted", saved.persisted},
                        {"persist_note", saved.note}};
  if (add) {
    out["added"] = changed;
    out["already_listed"] = present.size();
  } else {
    out["removed"] = changed;
  }
  return out;
}

}  // namespace synwarden::daemon
