// `synwardenctl mode IP protect|pass|monitor|auto`: set a host's mode (POST /hosts/{ip}/mode;
// docs/modes.md). Established connections keep flowing across every change: the XDP program
// forwards flows it knows, and pass, monitor and auto's pass state learn every flow they forward.
#include <cstdio>
#include <string>

#include "api_options.h"
#include "cli_args.h"
#include "commands.h"

namespace synwarden::ctl {

void add_mode_command(CLI::App& app) {
  auto options = std::make_shared<ApiOptions>();
  auto address = std::make_shared<std::string>();
  auto mode = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "mode", "Set a host's mode: protect (SYN cookies), pass (forward and learn), monitor "
              "(forward, count what protect would do), auto (protect while its SYN rate is high)");
  cmd->add_option("address", *address, "The host's address")->required();
  cmd->add_option("mode", *mode, "protect, pass, monitor or auto")
      ->required()
      ->check(CLI::IsMember({"protect", "pass", "monitor", "auto"}));
  add_api_options(cmd, *options);
  cmd->callback([options, address, mode] {
    ApiClient api(options->url);
    const nlohmann::json answer =
        api.post("/hosts/" + check_host_address("address", *address) + "/mode", {{"mode", *mode}});
    if (options->json) return print_json(answer);
    std::printf("mode %s for %s%s\n", mode->c_str(),
                answer.value("address", address->c_str()).c_str(),
                answer.value("changed", true) ? "" : " (already so)");
    if (answer.value("changed", true)) {
      if (answer.value("persisted", false)) {
        std::printf("saved to the config file\n");
      } else {
        std::printf("NOT saved to the config file: %s\n",
                    answer.value("persist_note", "").c_str());
      }
    }
  });
}

}  // namespace synwarden::ctl
