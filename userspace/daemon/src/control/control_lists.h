// The source lists' and SYN-ACK budget's part of GET /stats (control_lists.cpp).
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "config.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace synwarden::daemon {

// How many budget-limited prefixes /stats lists (most dropped SYNs first).
inline constexpr size_t kBudgetTopN = 10;

// {"lists": {"allow": n, "deny": n, "allow_hits": {"host": n, "global": n}},
//  "synack_budget": {"pps", "burst", "prefix_v4", "prefix_v6",
//                    "top": [{"prefix": "198.51.100.0/24", "dropped": n, "answered": n}]}}
// merged into `out`. Deny hits are the reasons drop_deny_host / drop_deny_global. Walks the
// budget map (O(tracked prefixes) syscalls): for scrapes and `top`, not per event.
void add_lists_stats(dataplane::XdpFastpath& fastpath, const DaemonConfig& config,
                     nlohmann::json& out);

}  // namespace synwarden::daemon
