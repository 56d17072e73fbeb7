// Command groups of synwardenctl. Each group is one <group>_command.cpp that adds its
// subcommands to the application; main.cpp only wires them up. Groups to come (issue 7):
// status, hosts, protect, stats, top, reload -- clients of the daemon's local API.
#pragma once

#include <CLI/CLI.hpp>

namespace synwarden::ctl {

// `synwardenctl cookie synack|check`: the cookie engine on a secrets file (cookie_command.cpp).
void add_cookie_commands(CLI::App& app);

}  // namespace synwarden::ctl
