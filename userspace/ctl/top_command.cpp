// `synwardenctl top`: a live per-host view refreshed every --interval seconds: SYN/s, cookie
// SYN-ACK/s, valid and invalid ACK/s, forwarded/s and dropped/s from the workers, plus the XDP
// program's totals. Rates come from two GET /stats answers and the daemon's own timestamps.
// --iterations N stops after N refreshes (--once = 1), --json prints one JSON object per
// refresh; the screen is cleared between refreshes only on a terminal.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "api_options.h"
#include "commands.h"
#include "list_view.h"
#include "stats_view.h"

namespace synwarden::ctl {
namespace {

struct TopArgs {
  double interval_s = 1.0;
  unsigned iterations = 0;  // 0 = until interrupted
  bool once = false;
};

}  // namespace

void add_top_command(CLI::App& app) {
  auto options = std::make_shared<ApiOptions>();
  auto args = std::make_shared<TopArgs>();
  CLI::App* cmd = app.add_subcommand("top", "Live per-host rates (SYN/s, SYN-ACK/s, ACK/s, ...)");
  cmd->add_option("--interval", args->interval_s, "Seconds between refreshes")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--iterations", args->iterations, "Stop after this many refreshes (0: never)");
  cmd->add_flag("--once", args->once, "One refresh, then exit (same as --iterations 1)");
  add_api_options(cmd, *options);
  cmd->callback([options, args] {
    if (parse_api_urls(options->url).size() != 1) {
      throw CLI::ValidationError("--api", "top watches one box; give one URL (status and stats "
                                          "take several)");
    }
    ApiClient api(options->url);
    const unsigned iterations = args->once ? 1 : args->iterations;
    const bool clear = !options->json && iterations != 1 && ::isatty(STDOUT_FILENO);
    const auto pause = std::chrono::duration<double>(args->interval_s);
    nlohmann::json before = api.get("/stats");
    for (unsigned done = 0; iterations == 0 || done < iterations; ++done) {
      std::this_thread::sleep_for(pause);
      nlohmann::json after = api.get("/stats");
      const TopView view = top_view(before, after);
      if (options->json) {
        nlohmann::json row = top_view_to_json(view);
        if (after.contains("synack_budget")) row["synack_budget_top"] = after["synack_budget"]["top"];
        std::printf("%s\n", row.dump().c_str());
      } else {
        if (clear) std::printf("\x1b[H\x1b[2J");
        std::printf("%s", render_top(view).c_str());
        std::printf("%s", render_budget_top(after).c_str());
        if (!clear && iterations != 1) std::printf("\n");
      }
      std::fflush(stdout);
      before = std::move(after);
    }
  });
}

}  // namespace synwarden::ctl
