#include "list_view.h"

#include <cstdio>

namespace synwarden::ctl {

std::string render_budget_top(const nlohmann::json& stats) {
  const auto it = stats.find("synack_budget");
  if (it == stats.end() || !it->is_object()) return {};
  const nlohmann::json top = it->value("top", nlohmann::json::array());
  if (!top.is_array() || top.empty()) return {};
  std::string out = "\nSYN-ACK budget (" + std::to_string(it->value("pps", 0ull)) +
                    "/s per prefix): most limited source prefixes\n";
  char line[160];
  std::snprintf(line, sizeof line, "%-44s %14s %14s\n", "PREFIX", "DROPPED", "ANSWERED");
  out += line;
  for (const auto& row : top) {
    std::snprintf(line, sizeof line, "%-44s %14llu %14llu\n", row.value("prefix", "?").c_str(),
                  static_cast<unsigned long long>(row.value("dropped", 0ull)),
                  static_cast<unsigned long long>(row.value("answered", 0ull)));
    out += line;
  }
  return out;
}

}  // namespace synwarden::ctl
