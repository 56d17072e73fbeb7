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
    ApiClient api(options->url);
    const nlohmann::json stats = api.get("/stats");
    if (options->json) return print_json(stats);
    std::printf("%s", render_stats(stats).c_str());
    std::printf("%s", render_budget_top(stats).c_str());
  });
}

}  // namespace synwarden::ctl
