// `synwardenctl list show|add|del allow|deny [--host IP] PREFIX... | --file F`: the source
// allow/deny lists (GET/POST/DELETE /lists/{allow|deny}). One request per command, so a bulk add
// or delete is applied whole or not at all; the daemon checks every prefix and names a bad one.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "api_options.h"
#include "cli_args.h"
#include "commands.h"

namespace synwarden::ctl {

namespace {

struct ListArgs {
  ApiOptions api;
  std::string kind;
  std::string host;
  std::string file;
  std::vector<std::string> prefixes;
};

// One prefix per line; blank lines and lines starting with '#' are skipped, surrounding blanks
// trimmed. Anything else goes to the daemon as written, which refuses it naming the line's text.
std::vector<std::string> read_prefix_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CLI::ValidationError("--file", "cannot read " + path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto last = line.find_last_not_of(" \t\r");
    out.push_back(line.substr(first, last - first + 1));
  }
  return out;
}

nlohmann::json body_of(const ListArgs& a) {
  std::vector<std::string> prefixes = a.prefixes;
  if (!a.file.empty()) {
    const auto more = read_prefix_file(a.file);
    prefixes.insert(prefixes.end(), more.begin(), more.end());
  }
  if (prefixes.empty()) throw CLI::ValidationError("PREFIX", "give prefixes or --file");
  nlohmann::json body = {{"prefixes", prefixes}};
  if (!a.host.empty()) body["host"] = check_host_address("--host", a.host);
  return body;
}

CLI::App* kind_command(CLI::App* parent, const char* name, const char* help,
                       const std::shared_ptr<ListArgs>& args, bool takes_prefixes) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("list", args->kind, "allow or deny")->required()->check(CLI::IsMember({"allow", "deny"}));
  if (takes_prefixes) {
    cmd->add_option("--host", args->host, "The protected host whose list it is (default: global)");
    cmd->add_option("--file", args->file, "Read prefixes from a file, one per line ('#' comments)");
    cmd->add_option("prefixes", args->prefixes, "Prefixes: 198.51.100.0/24, 2001:db8::/32, an address");
  }
  add_api_options(cmd, args->api);
  return cmd;
}

void print_saved(const nlohmann::json& answer) {
  if (answer.value("persisted", false)) {
    std::printf("saved to the config file\n");
  } else if (!answer.value("persist_note", "").empty()) {
    std::printf("NOT saved to the config file: %s\n", answer.value("persist_note", "").c_str());
  }
}

}  // namespace

void add_list_commands(CLI::App& app) {
  CLI::App* list = app.add_subcommand("list", "Source allow/deny lists (CIDR, IPv4 and IPv6)");
  list->require_subcommand(1);

  auto show = std::make_shared<ListArgs>();
  kind_command(list, "show", "Print a list", show, false)->callback([show] {
    ApiClient api(show->api.url);
    const nlohmann::json answer = api.get("/lists/" + show->kind);
    if (show->api.json) return print_json(answer);
    for (const auto& group : answer.value("groups", nlohmann::json::array())) {
      const std::string scope = group.contains("host") ? "host " + group["host"].get<std::string>()
                                                       : std::string("global");
      for (const auto& p : group.value("prefixes", nlohmann::json::array())) {
        std::printf("%-40s %s\n", p.get<std::string>().c_str(), scope.c_str());
      }
    }
    std::printf("%zu prefixes in the %s list\n", answer.value("count", size_t{0}), show->kind.c_str());
  });

  auto add = std::make_shared<ListArgs>();
  kind_command(list, "add", "Add prefixes to a list (all or none)", add, true)->callback([add] {
    ApiClient api(add->api.url);
    const nlohmann::json answer = api.post("/lists/" + add->kind, body_of(*add));
    if (add->api.json) return print_json(answer);
    std::printf("added %zu prefixes to the %s list (%zu already listed, %zu in total)\n",
                answer.value("added", size_t{0}), add->kind.c_str(),
                answer.value("already_listed", size_t{0}), answer.value("count", size_t{0}));
    print_saved(answer);
  });

  auto del = std::make_shared<ListArgs>();
  kind_command(list, "del", "Remove prefixes from a list (all or none)", del, true)->callback([del] {
    ApiClient api(del->api.url);
    const nlohmann::json answer = api.del("/lists/" + del->kind, body_of(*del));
    if (del->api.json) return print_json(answer);
    std::printf("removed %zu prefixes from the %s list (%zu left)\n",
                answer.value("removed", size_t{0}), del->kind.c_str(), answer.value("count", size_t{0}));
    print_saved(answer);
  });
}

}  // namespace synwarden::ctl
