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

#include "agent_secrets.h"
#include "config.h"
#include "control_config_file.h"
#include "daemon.h"
#include "log.h"
#include "net_interface.h"
#include "synwarden/secrets.h"

int main(int argc, char** argv) {
  using namespace synwarden::daemon;
  CLI::App app{"synwarden: answers SYN floods with the protected hosts' own SYN cookies"};
  app.require_subcommand(1);
  std::string config_path;
  CLI::App* run = app.add_subcommand("run", "run the firewall daemon");
  run->add_option("--config", config_path, "JSON configuration file")->required();
  CLI::App* check = app.add_subcommand("check-config", "validate a configuration file");
  check->add_option("--config", config_path, "JSON configuration file")->required();
  bool syntax_only = false;
  check->add_flag("--syntax-only", syntax_only,
                  "check the document only, not this machine (interface, key and secrets files)");
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
    // What `run` checks before it touches anything, with no side effect: the interface exists
    // in this network namespace, every agent key file and static secrets file is readable,
    // private (0600/0400, root's) and well-formed.
    if (syntax_only) {
      std::printf("%s: syntax and values OK (%zu protected host(s)); the interface, key and "
                  "secrets files were not checked (--syntax-only)\n",
                  config_path.c_str(), config.protected_hosts.size());
      return 0;
    }
    try {
      (void)query_interface(config.interface);
      check_agent_keys(config.protected_hosts);
      for (const auto& host : config.protected_hosts) {
        if (!host.secrets_file.empty()) (void)synwarden::load_private_secrets_file(host.secrets_file);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "synwarden: %s: %s\n", config_path.c_str(), e.what());
      return 2;
    }
    std::printf("%s: OK (%zu protected host(s), interface %s, API %s port %u); checked: syntax "
                "and values, the interface, key and secrets files. Not checked (only `run` can): "
                "that the API port is free, the XDP attach and the AF_XDP socket modes\n",
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
