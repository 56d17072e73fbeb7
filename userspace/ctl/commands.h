// Command groups of synwardenctl. Each group is one <group>_command.cpp that adds its
// subcommands to the application; main.cpp only wires them up. All but `cookie` are clients of
// the daemon's local API (api_client.h) and take --api URL and --json (api_options.h).
#pragma once

#include <CLI/CLI.hpp>

namespace synwarden::ctl {

// `synwardenctl cookie synack|check`: the cookie engine on a secrets file (cookie_command.cpp).
void add_cookie_commands(CLI::App& app);

void add_status_command(CLI::App& app);    // status_command.cpp: GET /status
void add_health_command(CLI::App& app);    // health_command.cpp: GET /health, exit 0/1/2
void add_hosts_commands(CLI::App& app);    // hosts_command.cpp: hosts list|add|del
void add_protect_command(CLI::App& app);   // protect_command.cpp: protect on|off IP
void add_mode_command(CLI::App& app);      // mode_command.cpp: mode IP protect|pass|monitor|auto
void add_stats_command(CLI::App& app);     // stats_command.cpp: GET /stats as tables
void add_top_command(CLI::App& app);       // top_command.cpp: live per-host rates
void add_reload_command(CLI::App& app);    // reload_command.cpp: POST /reload
void add_list_commands(CLI::App& app);     // list_command.cpp: list show|add|del allow|deny

}  // namespace synwarden::ctl
