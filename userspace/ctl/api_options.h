// Options every API command takes: --api URL (default the daemon's default address, or
// $SYNWARDEN_API) and --json (print the API's JSON instead of a table, for scripts).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "api_client.h"

namespace synwarden::ctl {

struct ApiOptions {
  std::string url = kDefaultApiUrl;
  bool json = false;
};

void add_api_options(CLI::App* command, ApiOptions& options);

// Prints a JSON value for --json output: pretty, one document, newline-terminated.
void print_json(const nlohmann::json& value);

}  // namespace synwarden::ctl
