// `synwardenctl status`: the daemon at a glance (GET /status): interface, workers and their
// AF_XDP modes, uptime, the config file's state (pending restart keys, last reload, unsaved API
// changes) and, per protected host, protection and how current its secrets are.
#include <cstdio>
#include <string>

#include "api_options.h"
#include "commands.h"
#include "stats_view.h"
#include "synwarden/clock_now.h"
#include "table.h"

namespace synwarden::ctl {
namespace {

std::string join(const nlohmann::json& array) {
  std::string out;
  for (const auto& v : array) out += (out.empty() ? "" : ", ") + v.get<std::string>();
  return out.empty() ? "-" : out;
}

void print_status(const nlohmann::json& s) {
  std::printf("synwarden pid %d, up %s\n", s.value("pid", 0),
              format_age_ms(s.value("uptime_ms", uint64_t{0})).c_str());
  if (s.contains("interface")) {
    const auto& i = s["interface"];
    std::printf("interface %s (ifindex %d, MAC %s, %u RX queues)\n",
                i.value("name", "?").c_str(), i.value("ifindex", 0), i.value("mac", "?").c_str(),
                i.value("rx_queues", 0u));
  }
  for (const auto& w : s.value("workers", nlohmann::json::array())) {
    std::printf("worker queue %u on CPU %d, AF_XDP %s\n", w.value("queue", 0u), w.value("cpu", -1),
                w.value("mode", "?").c_str());
  }
  if (s.contains("dataplane")) {
    const auto& d = s["dataplane"];
    std::printf("XDP program id %u, maps pinned in %s (adopted from a previous run: %s)\n",
                d.value("program_id", 0u), d.value("pin_dir", "?").c_str(),
                join(d.value("adopted_maps", nlohmann::json::array())).c_str());
  }
  const auto& c = s["config"];
  std::printf("config %s: %s, pending restart: %s\n", c.value("path", "?").c_str(),
              c.value("unsaved_changes", false) ? "API changes NOT saved to the file"
                                                : "matches the running config",
              join(c.value("pending_restart", nlohmann::json::array())).c_str());
  if (c.contains("last_persist_error") && c["last_persist_error"].is_string()) {
    std::printf("  last save failed: %s\n", c["last_persist_error"].get<std::string>().c_str());
  }
  if (c.contains("last_reload") && c["last_reload"].is_object()) {
    const auto& r = c["last_reload"];
    const uint64_t at = r.value("unix_ms", uint64_t{0});
    const uint64_t now = unix_time_ms();
    std::printf("last reload (%s) %s ago: %s\n", r.value("trigger", "?").c_str(),
                format_age_ms(now > at ? now - at : 0).c_str(),
                r.value("ok", false) ? "applied" : "REFUSED");
    if (r.contains("error") && r["error"].is_string()) {
      std::printf("  %s\n", r["error"].get<std::string>().c_str());
    }
  }
  Table hosts({"HOST", "MODE", "SECRETS", "SOURCE", "AGE", "FROM / LAST ERROR"},
              {false, false, false, false, true, false});
  for (const auto& h : s.value("hosts", nlohmann::json::array())) {
    const auto& sec = h["secrets"];
    const std::string age = sec["last_update_age_ms"].is_number()
                                ? format_age_ms(sec["last_update_age_ms"].get<uint64_t>())
                                : "-";
    const std::string where = sec["last_error"].is_string() ? sec["last_error"].get<std::string>()
                                                            : sec.value("location", "");
    hosts.add_row({h.value("address", "?"), mode_label(h, "on", "off (pass)"),
                   sec.value("state", "?"), sec.value("source", "?"), age, where});
  }
  std::printf("\n%s", hosts.render().c_str());
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto options = std::make_shared<ApiOptions>();
  CLI::App* cmd = app.add_subcommand("status", "Daemon, workers, config and secrets state");
  add_api_options(cmd, *options);
  cmd->callback([options] {
    run_on_boxes(*options, [&](ApiClient& api) {
      const nlohmann::json status = api.get("/status");
      if (options->json) print_json(status);
      else print_status(status);
      return 0;
    });
  });
}

}  // namespace synwarden::ctl
