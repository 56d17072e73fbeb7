// `synwardenctl hosts list|add|del`: the protected hosts (GET/POST/DELETE /hosts). `add` builds
// the host from flags (or takes a full JSON object with --spec, e.g. for an "agent" host); the
// daemon validates it like the config file and, unless api.persist_changes is false, saves it.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "api_options.h"
#include "cli_args.h"
#include "commands.h"
#include "synwarden/strict_json.h"
#include "table.h"

namespace synwarden::ctl {
namespace {

struct AddArgs {
  std::string address;
  std::string mac;
  std::string secrets_file;
  std::string spec;
  std::vector<unsigned> ports;
  bool pass = false;
  std::string fail;
};

void print_saved(const nlohmann::json& answer) {
  if (answer.value("persisted", false)) {
    std::printf("saved to the config file\n");
  } else {
    std::printf("NOT saved to the config file: %s\n", answer.value("persist_note", "").c_str());
  }
}

std::string secrets_of(const nlohmann::json& h) {
  if (h.contains("agent") && h["agent"].is_object()) {
    return "agent " + h["agent"].value("address", "?");
  }
  return h.value("secrets_file", "-");
}

int list_hosts_of(const ApiOptions& o, ApiClient& api);

void list_hosts(const ApiOptions& o) {
  run_on_boxes(o, [&](ApiClient& api) { return list_hosts_of(o, api); });
}

int list_hosts_of(const ApiOptions& o, ApiClient& api) {
  const nlohmann::json answer = api.get("/hosts");
  if (o.json) {
    print_json(answer);
    return 0;
  }
  Table table({"HOST", "MAC", "PROTECTION", "PORTS", "FAIL", "SECRETS"},
              {false, false, false, false, false, false});
  for (const auto& h : answer.value("hosts", nlohmann::json::array())) {
    std::string ports;
    for (const auto& p : h.value("ports", nlohmann::json::array())) {
      ports += (ports.empty() ? "" : ",") + std::to_string(p.get<unsigned>());
    }
    table.add_row({h.value("address", "?"), h.value("mac", "?"),
                   h.value("protection", false) ? "on" : "off (pass)", ports.empty() ? "all" : ports,
                   h.contains("policy") ? h["policy"].value("fail", "?") : "?", secrets_of(h)});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

nlohmann::json read_spec(const std::string& spec) {
  std::string text = spec;
  if (spec == "-" || (!spec.empty() && spec.front() != '{')) {
    std::stringstream buffer;
    if (spec == "-") {
      buffer << std::cin.rdbuf();
    } else {
      std::ifstream in(spec);
      if (!in) throw CLI::ValidationError("--spec", "cannot read " + spec);
      buffer << in.rdbuf();
    }
    text = buffer.str();
  }
  try {
    return parse_json_strict(text);
  } catch (const JsonInputError& e) {  // a repeated key, or a NUL byte in a string
    throw CLI::ValidationError("--spec", e.what());
  } catch (const nlohmann::json::exception& e) {  // also out_of_range: "1e400"
    throw CLI::ValidationError("--spec", std::string("not valid JSON: ") + e.what());
  }
}

void add_host(const ApiOptions& o, const AddArgs& a) {
  nlohmann::json host;
  if (!a.spec.empty()) {
    host = read_spec(a.spec);
    if (!host.is_object()) throw CLI::ValidationError("--spec", "must be a JSON object");
    if (!a.address.empty()) host["address"] = a.address;
  } else {
    if (a.mac.empty() || a.secrets_file.empty()) {
      throw CLI::ValidationError("hosts add", "needs --mac and --secrets-file (or --spec)");
    }
    host = {{"address", a.address}, {"mac", a.mac}, {"secrets_file", a.secrets_file}};
  }
  if (!a.ports.empty()) host["ports"] = a.ports;
  if (a.pass) host["protection"] = false;
  if (!a.fail.empty()) host["policy"]["fail"] = a.fail;
  run_on_boxes(o, [&](ApiClient& api) {
    const nlohmann::json answer = api.post("/hosts", host);
    if (o.json) {
      print_json(answer);
    } else {
      std::printf("added host %s\n", answer["host"].value("address", "?").c_str());
      print_saved(answer);
    }
    return 0;
  });
}

void del_host(const ApiOptions& o, const std::string& address) {
  const std::string path = "/hosts/" + check_host_address("address", address);
  run_on_boxes(o, [&](ApiClient& api) {
    const nlohmann::json answer = api.del(path);
    if (o.json) {
      print_json(answer);
    } else {
      std::printf("removed host %s\n", answer.value("removed", "?").c_str());
      print_saved(answer);
    }
    return 0;
  });
}

}  // namespace

void add_hosts_commands(CLI::App& app) {
  CLI::App* hosts = app.add_subcommand("hosts", "List, add or remove protected hosts");
  hosts->require_subcommand(1);

  auto list_options = std::make_shared<ApiOptions>();
  CLI::App* list = hosts->add_subcommand("list", "The protected hosts, as configured");
  add_api_options(list, *list_options);
  list->callback([list_options] { list_hosts(*list_options); });

  auto add_options = std::make_shared<ApiOptions>();
  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = hosts->add_subcommand("add", "Protect another address");
  add->add_option("address", add_args->address, "The host's IPv4 or IPv6 address");
  add->add_option("--mac", add_args->mac, "The host NIC's MAC on the firewall's segment");
  add->add_option("--secrets-file", add_args->secrets_file, "The host's static secrets file");
  add->add_option("--port", add_args->ports, "A TCP port to protect (repeat; default all)")
      ->check(CLI::Range(1u, 65535u));
  add->add_flag("--pass", add_args->pass, "Start in pass mode (protection off, flows learnt)");
  add->add_option("--fail", add_args->fail, "Fail policy without secrets")
      ->check(CLI::IsMember({"open", "closed"}));
  add->add_option("--spec", add_args->spec,
                  "The whole host as JSON (the config's protected_hosts[] form): inline, a "
                  "file, or - for stdin");
  add_api_options(add, *add_options);
  add->callback([add_options, add_args] {
    if (add_args->address.empty() && add_args->spec.empty()) {
      throw CLI::ValidationError("hosts add", "needs the host's address (or --spec)");
    }
    add_host(*add_options, *add_args);
  });

  auto del_options = std::make_shared<ApiOptions>();
  auto del_address = std::make_shared<std::string>();
  CLI::App* del = hosts->add_subcommand("del", "Stop protecting an address");
  del->add_option("address", *del_address, "The host's address")->required();
  add_api_options(del, *del_options);
  del->callback([del_options, del_address] { del_host(*del_options, *del_address); });
}

}  // namespace synwarden::ctl
