// `synwardenctl reload`: the daemon re-reads its config file (POST /reload, like SIGHUP). An
// invalid file is refused with the reason and the running configuration stays (exit status 1).
#include <cstdio>
#include <string>

#include "api_options.h"
#include "commands.h"

namespace synwarden::ctl {
namespace {

// "192.0.2.10" for an added/removed host, "192.0.2.10 (protection, ports)" for a changed one.
std::string describe(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  std::string keys;
  for (const auto& k : v.value("keys", nlohmann::json::array())) {
    keys += (keys.empty() ? "" : ", ") + k.get<std::string>();
  }
  return v.value("address", "?") + " (" + keys + ")";
}

std::string list(const nlohmann::json& array) {
  std::string out;
  for (const auto& v : array) out += (out.empty() ? "" : ", ") + describe(v);
  return out.empty() ? "-" : out;
}

void print_reload(const nlohmann::json& answer) {
  const auto& c = answer["changes"];
  std::printf("reloaded (snapshot %llu)\n",
              static_cast<unsigned long long>(answer.value("snapshot_version", uint64_t{0})));
  std::printf("  added:   %s\n", list(c["added"]).c_str());
  std::printf("  removed: %s\n", list(c["removed"]).c_str());
  std::printf("  changed: %s\n", list(c["changed"]).c_str());
  std::printf("  waiting for a restart: %s\n", list(c["restart_required"]).c_str());
}

}  // namespace

void add_reload_command(CLI::App& app) {
  auto options = std::make_shared<ApiOptions>();
  CLI::App* cmd = app.add_subcommand("reload", "Re-read the daemon's config file");
  add_api_options(cmd, *options);
  cmd->callback([options] {
    run_on_boxes(*options, [&](ApiClient& api) {
      const nlohmann::json answer = api.post("/reload", nlohmann::json::object());
      if (options->json) print_json(answer);
      else print_reload(answer);
      return 0;
    });
  });
}

}  // namespace synwarden::ctl
