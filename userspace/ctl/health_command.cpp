// `synwardenctl health`: is the box fit to receive traffic (GET /health)? One line per check and
// the stale hosts. Exit status, for scripts and route watchers: 0 healthy, 1 unhealthy (the API
// answered 503), 2 the API could not be reached or answered something else.
#include <cstdio>
#include <string>

#include "api_options.h"
#include "commands.h"
#include "table.h"

namespace synwarden::ctl {
namespace {

constexpr int kUnhealthy = 1;
constexpr int kUnreachable = 2;

void print_health(const nlohmann::json& h) {
  std::printf("%s\n", h.value("healthy", false) ? "healthy" : "UNHEALTHY");
  for (const auto& c : h.value("checks", nlohmann::json::array())) {
    std::printf("  %-9s %-4s %s\n", c.value("name", "?").c_str(),
                c.value("ok", false) ? "ok" : "FAIL",
                c.value("detail", "").c_str());
  }
  for (const auto& s : h.value("stale_hosts", nlohmann::json::array())) {
    const std::string age =
        s["age_ms"].is_number() ? format_age_ms(s["age_ms"].get<uint64_t>()) + " old" : "none ever";
    std::printf("  stale host %s: %s, secrets %s%s%s\n", s.value("address", "?").c_str(),
                s.value("state", "?").c_str(), age.c_str(),
                s.value("last_error", "").empty() ? "" : ", ",
                s.value("last_error", "").c_str());
  }
}

}  // namespace

void add_health_command(CLI::App& app) {
  auto options = std::make_shared<ApiOptions>();
  CLI::App* cmd = app.add_subcommand(
      "health", "Health checks (dataplane, workers, secrets); exit 0 healthy, 1 unhealthy, 2 "
                "unreachable");
  add_api_options(cmd, *options);
  cmd->callback([options] {
    run_on_boxes(
        *options,
        [&](ApiClient& api) {
          const auto [status, health] = api.get_verdict("/health", 503);
          if (options->json) print_json(health);
          else print_health(health);
          const bool healthy = status == 200 && health.value("healthy", false);
          return healthy ? 0 : kUnhealthy;
        },
        kUnreachable);
  });
}

}  // namespace synwarden::ctl
