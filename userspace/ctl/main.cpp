// synwardenctl entry point. Exit status: 0 success, 1 a command failed (message on stderr),
// `health`: 1 unhealthy, 2 unreachable or error; with several --api boxes the worst box's;
// other values from CLI11 for usage errors.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "api_options.h"
#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"synwardenctl: inspect and control the synwarden SYN-flood firewall"};
  app.require_subcommand(1);
  synwarden::ctl::add_status_command(app);
  synwarden::ctl::add_health_command(app);
  synwarden::ctl::add_hosts_commands(app);
  synwarden::ctl::add_protect_command(app);
  synwarden::ctl::add_mode_command(app);
  synwarden::ctl::add_stats_command(app);
  synwarden::ctl::add_top_command(app);
  synwarden::ctl::add_reload_command(app);
  synwarden::ctl::add_list_commands(app);
  synwarden::ctl::add_cookie_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const synwarden::ctl::ExitStatus& e) {
    return e.code;  // the boxes' own messages are printed already
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    // Command callbacks run inside parse(); their failures (unreadable secrets, ...) land here.
    std::cerr << "synwardenctl: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
