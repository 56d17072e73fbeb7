// synwarden: the SYN-flood firewall daemon.
//   synwarden run --config /etc/synwarden/synwarden.json     serve until SIGTERM/SIGINT
//   synwarden check-config --config FILE                     validate a config and exit
// Exit status: 0 clean stop, 1 start-up or runtime failure, 2 bad command line or config.
// While running: SIGHUP or POST /reload re-reads the config; the local API (api.* keys,
// default http://127.0.0.1:9477) serves status, hosts, protect on/off, stats and metrics.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "config.h"
#include "control_config_file.h"
#include "daemon.h"
#include "log.h"

int main(int argc, char** argv) {
  using namespace synwarden::daemon;
  CLI::App app{"synwarden: answers SYN floods with the protected hosts' own SYN cookies"};
  app.require_subcommand(1);
  std::string config_path;
  CLI::App* run = app.add_subcommand("run", "run the firewall daemon");
  run->add_option("--config", config_path, "JSON configuration file")->required();
  CLI::App* check = app.add_subcommand("check-config", "validate a configuration file");
  check->add_option("--config", config_path, "JSON configuration file")->required();
  CLI11_PARSE(app, argc, argv);

  LoadedConfig loaded;
  try {
    loaded = read_config_file(config_path);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "synwarden: %s\n", e.what());
    return 2;
  }
  const DaemonConfig& config = loaded.config;
  if (check->parsed()) {
    std::printf("%s: OK (%zu protected host(s), interface %s, API %s port %u)\n",
                config_path.c_str(), config.protected_hosts.size(), config.interface.c_str(),
                config.api.address.to_string().c_str(), unsigned{config.api.port});
    return 0;
  }
  try {
    // Before any thread exists, so every thread inherits the mask and only the control
    // thread's signalfd sees SIGTERM/SIGINT/SIGHUP/SIGUSR1.
    block_daemon_signals();
    Daemon daemon(std::filesystem::absolute(config_path), std::move(loaded));
    return daemon.run();
  } catch (const std::exception& e) {
    log_error(e.what());
    return 1;
  }
}
