#include "api_options.h"

#include <cstdio>

namespace synwarden::ctl {

void add_api_options(CLI::App* command, ApiOptions& options) {
  command->add_option("--api", options.url, "The daemon's API, http://HOST:PORT")
      ->envname("SYNWARDEN_API")
      ->capture_default_str();
  command->add_flag("--json", options.json, "Print the API's JSON instead of a table");
}

void print_json(const nlohmann::json& value) { std::printf("%s\n", value.dump(2).c_str()); }

}  // namespace synwarden::ctl
