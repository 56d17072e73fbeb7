// `synwardenctl protect on|off IP`: switch a host between SYN-cookie protection and pass mode
// (POST /hosts/{ip}/protect). Established connections keep flowing either way: the XDP program
// forwards flows it knows, and pass mode learns every flow it forwards.
#include <cstdio>
#include <string>

#include "api_options.h"
#include "cli_args.h"
#include "commands.h"

namespace synwarden::ctl {
namespace {

void print_protect(const nlohmann::json& answer, bool on, const std::string& address) {
  std::printf("protection %s for %s%s\n", on ? "on" : "off",
              answer.value("address", address).c_str(),
              answer.value("changed", true) ? "" : " (already so)");
  if (answer.value("changed", true)) {
    if (answer.value("persisted", false)) {
      std::printf("saved to the config file\n");
    } else {
      std::printf("NOT saved to the config file: %s\n", answer.value("persist_note", "").c_str());
    }
  }
}

}  // namespace

void add_protect_command(CLI::App& app) {
  auto options = std::make_shared<ApiOptions>();
  auto state = std::make_shared<std::string>();
  auto address = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("protect", "Turn SYN-cookie protection of a host on or off");
  cmd->add_option("state", *state, "on or off")->required()->check(CLI::IsMember({"on", "off"}));
  cmd->add_option("address", *address, "The host's address")->required();
  add_api_options(cmd, *options);
  cmd->callback([options, state, address] {
    const bool on = *state == "on";
    const std::string path = "/hosts/" + check_host_address("address", *address) + "/protect";
    run_on_boxes(*options, [&](ApiClient& api) {
      const nlohmann::json answer = api.post(path, {{"protection", on}});
      if (options->json) print_json(answer);
      else print_protect(answer, on, *address);
      return 0;
    });
  });
}

}  // namespace synwarden::ctl
