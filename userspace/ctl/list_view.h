// The SYN-ACK budget's most limited source prefixes in a GET /stats answer, as a table for
// `synwardenctl top` and `stats` (list_view.cpp).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace synwarden::ctl {

// "" when the answer has no limited prefix (budget off, or nothing over it).
std::string render_budget_top(const nlohmann::json& stats);

}  // namespace synwarden::ctl
