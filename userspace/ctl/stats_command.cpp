// `synwardenctl stats`: the daemon's counters (GET /stats) as tables: per protected host (what the
// workers did with its SYNs and ACKs), per worker (socket, TX, cookie checks) and the XDP
// program's reasons that counted something.
#include <cstdio>

#include "api_options.h"
#include "commands.h"
#include "list_view.h"
#include "stats_view.h"

namespace synwarden::ctl {

void add_stats_command(CLI::App& app) {
  auto options = std::make_shared<ApiOptions>();
  CLI::App* cmd = app.add_subcommand("stats", "Counters per host, per worker and per XDP reason");
  add_api_options(cmd, *options);
  cmd->callback([options] {
    run_on_boxes(*options, [&](ApiClient& api) {
      const nlohmann::json stats = api.get("/stats");
      if (options->json) print_json(stats);
      else std::printf("%s%s", render_stats(stats).c_str(), render_budget_top(stats).c_str());
      return 0;
    });
  });
}

}  // namespace synwarden::ctl
