// synwarden-agent's main loop: one thread polling the channel socket, a 1 s timer for upkeep
// (key rotation, host settings) and a signalfd for SIGINT/SIGTERM. Logs go to stderr, one line
// each, for journald; no log line ever carries key material or a datagram's content.
#pragma once

#include <string>

#include "agent_config.h"

namespace synwarden::agent {

// Runs until SIGINT or SIGTERM. Returns the process exit code; start-up failures are thrown
// (ConfigError, ChannelKeyError, FactsError, HostProgramError, ChannelSocketError) for main()
// to print.
int run(const Config& config, const std::string& config_origin);

// Writes one timestamped line to stderr.
void log_line(const std::string& line);

}  // namespace synwarden::agent
