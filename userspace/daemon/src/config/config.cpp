#include "config.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "control_config_file.h"
#include "json_reader.h"
#include "synwarden/address_text.h"

namespace synwarden::daemon {

const char* datapath_name(Datapath datapath) noexcept {
  return datapath == Datapath::kXdp ? "xdp" : "afxdp";
}

const char* xsk_mode_name(XskMode mode) noexcept {
  switch (mode) {
    case XskMode::kAuto: return "auto";
    case XskMode::kZeroCopy: return "zerocopy";
    case XskMode::kDriverCopy: return "driver-copy";
    case XskMode::kGeneric: return "generic";
  }
  return "?";
}

namespace {

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::vector<uint32_t> parse_uint_list(const nlohmann::json& value, const std::string& path,
                                      uint32_t max, const char* what) {
  std::vector<uint32_t> out;
  std::set<uint32_t> seen;
  const auto& array = json_array(value, path);
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    const auto v = static_cast<uint32_t>(json_uint(array[i], item_path, 0, max));
    if (!seen.insert(v).second) {
      throw_config_error(item_path, std::string("duplicate ") + what + " " + std::to_string(v));
    }
    out.push_back(v);
  }
  return out;
}

Datapath parse_datapath(const std::string& text, const std::string& path) {
  if (text == "afxdp") return Datapath::kAfxdp;
  if (text == "xdp") return Datapath::kXdp;
  throw_config_error(path, "expected \"afxdp\" or \"xdp\", got \"" + text + "\"");
}

XskMode parse_xsk_mode(const std::string& text, const std::string& path) {
  if (text == "auto") return XskMode::kAuto;
  if (text == "zerocopy") return XskMode::kZeroCopy;
  if (text == "driver-copy") return XskMode::kDriverCopy;
  if (text == "generic") return XskMode::kGeneric;
  throw_config_error(path, "expected one of \"auto\", \"zerocopy\", \"driver-copy\", "
                           "\"generic\", got \"" + text + "\"");
}

HostPolicy parse_policy(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  HostPolicy policy;
  const std::string fail = r.string_or("fail", fail_policy_name(policy.fail));
  try {
    policy.fail = parse_fail_policy(fail);
  } catch (const std::invalid_argument&) {
    throw_config_error(r.path_of("fail"), "expected \"open\" or \"closed\", got \"" + fail + "\"");
  }
  policy.forward_icmp = r.bool_or("forward_icmp", policy.forward_icmp);
  policy.forward_udp = r.bool_or("forward_udp", policy.forward_udp);
  policy.forward_other = r.bool_or("forward_other", policy.forward_other);
  policy.forward_tcp_fragments = r.bool_or("forward_tcp_fragments", policy.forward_tcp_fragments);
  policy.timestamp_recovery_s = static_cast<uint32_t>(
      r.uint_or("timestamp_recovery_s", policy.timestamp_recovery_s, 0, 3600));
  if (r.find("socket_confirm") != nullptr) policy.socket_confirm = r.bool_or("socket_confirm", true);
  r.reject_unknown_keys();
  return policy;
}

Limits parse_limits(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  Limits limits;
  limits.frames_per_queue =
      static_cast<uint32_t>(r.uint_or("frames_per_queue", limits.frames_per_queue, 64, 1u << 20));
  if (!is_power_of_two(limits.frames_per_queue)) {
    throw_config_error(r.path_of("frames_per_queue"), "must be a power of two");
  }
  limits.frame_size = static_cast<uint32_t>(r.uint_or("frame_size", limits.frame_size, 2048, 4096));
  if (limits.frame_size != 2048 && limits.frame_size != 4096) {
    // Aligned UMEM chunks must be a power of two between 2048 and the page size.
    throw_config_error(r.path_of("frame_size"), "must be 2048 or 4096");
  }
  limits.ring_size = static_cast<uint32_t>(r.uint_or("ring_size", limits.ring_size, 64, 1u << 16));
  if (!is_power_of_two(limits.ring_size)) {
    throw_config_error(r.path_of("ring_size"), "must be a power of two (AF_XDP ring sizes are)");
  }
  if (limits.frames_per_queue < limits.ring_size) {
    throw_config_error(r.path_of("frames_per_queue"),
                       "must be at least ring_size so the fill ring can be filled");
  }
  limits.batch_size = static_cast<uint32_t>(r.uint_or("batch_size", limits.batch_size, 1, 256));
  if (limits.batch_size > limits.ring_size) {
    throw_config_error(r.path_of("batch_size"), "must not exceed ring_size");
  }
  limits.synack_pps_per_queue =
      r.uint_or("synack_pps_per_queue", limits.synack_pps_per_queue, 0, 1'000'000'000);
  limits.forwarded_synack_pps =
      r.uint_or("forwarded_synack_pps", limits.forwarded_synack_pps, 0, 1'000'000'000);
  limits.flow_table_size = static_cast<uint32_t>(
      r.uint_or("flow_table_size", limits.flow_table_size, 1024, 1u << 28));
  limits.outbound_table_size = static_cast<uint32_t>(
      r.uint_or("outbound_table_size", limits.outbound_table_size, 1024, 1u << 26));
  limits.outbound_unverified_table_size = static_cast<uint32_t>(r.uint_or(
      "outbound_unverified_table_size", limits.outbound_unverified_table_size, 1024, 1u << 26));
  limits.host_table_size = static_cast<uint32_t>(
      r.uint_or("host_table_size", limits.host_table_size, 1, 1u << 20));
  limits.list_prefixes = static_cast<uint32_t>(
      r.uint_or("list_prefixes", limits.list_prefixes, 16, 1u << 26));
  limits.synack_budget_table_size = static_cast<uint32_t>(
      r.uint_or("synack_budget_table_size", limits.synack_budget_table_size, 1024, 1u << 24));
  limits.flow_hint = r.bool_or("flow_hint", limits.flow_hint);
  limits.confirm_candidates_per_s = static_cast<uint32_t>(
      r.uint_or("confirm_candidates_per_s", limits.confirm_candidates_per_s, 0, 1'000'000));
  r.reject_unknown_keys();
  return limits;
}

// Why an address cannot be a protected host's (nullptr if it can): the XDP program forwards by
// destination address, so only a unicast address another machine can send to makes sense.
const char* unusable_host_address(const IpAddress& ip) {
  const auto& b = ip.bytes();
  if (ip.family() == IpAddress::Family::kIpv4) {
    if (b[0] == 0) return "is in 0.0.0.0/8 (\"this network\"), not a host address";
    if (b[0] == 127) return "is a loopback address";
    if (b[0] >= 224 && b[0] <= 239) return "is a multicast address";
    if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return "is the broadcast address";
    return nullptr;
  }
  if (std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; })) {
    return "is the unspecified address ::";
  }
  if (ip.is_loopback()) return "is the loopback address ::1";
  if (b[0] == 0xff) return "is a multicast address";
  return nullptr;
}

}  // namespace

ProtectedHostConfig parse_protected_host(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  ProtectedHostConfig host;
  const std::string address = r.string_at("address");
  const auto ip = IpAddress::parse(address);
  if (!ip) {
    throw_config_error(r.path_of("address"),
                       "expected an IPv4 or IPv6 address, got \"" + address + "\"");
  }
  if (const char* why = unusable_host_address(*ip)) {
    throw_config_error(r.path_of("address"), address + " " + why +
                                                 ": a protected host needs a unicast address");
  }
  host.address = *ip;
  const std::string mac = r.string_at("mac");
  const auto parsed_mac = parse_mac_text(mac);
  if (!parsed_mac) {
    throw_config_error(r.path_of("mac"),
                       "expected a MAC address like 02:00:5e:00:53:01, got \"" + mac + "\"");
  }
  if ((*parsed_mac)[0] & 0x01) {
    throw_config_error(r.path_of("mac"), mac + " is a multicast/broadcast MAC: forwarded frames "
                                               "need the host NIC's unicast MAC");
  }
  if (*parsed_mac == MacAddress{}) {
    throw_config_error(r.path_of("mac"), "00:00:00:00:00:00 is not a NIC's MAC address");
  }
  host.mac = *parsed_mac;
  // Exactly one source of secrets: a static file, or the host's agent (agent_endpoint.h).
  const auto* agent = r.find("agent");
  const bool has_file = r.find("secrets_file") != nullptr;
  if (agent == nullptr && !has_file) {
    throw_config_error(r.path_of("secrets_file"),
                       "is required, or \"agent\" for live secrets from the host's "
                       "synwarden-agent");
  }
  if (agent != nullptr && has_file) {
    throw_config_error(path, "gives both \"secrets_file\" and \"agent\": a host's secrets "
                             "come from exactly one of them");
  }
  if (agent != nullptr) host.agent = parse_agent_endpoint(*agent, r.path_of("agent"));
  else host.secrets_file = r.string_at("secrets_file");
  if (!host.agent && host.secrets_file.empty()) {
    throw_config_error(r.path_of("secrets_file"), "must not be empty");
  }
  if (!host.agent && !host.secrets_file.is_absolute()) {
    // The daemon runs with / as its working directory under systemd: a relative path would
    // silently point somewhere else than the operator meant.
    throw_config_error(r.path_of("secrets_file"),
                       "must be an absolute path, got \"" + host.secrets_file.string() + "\"");
  }
  if (const auto* ports = r.find("ports")) {
    for (const uint32_t port : parse_uint_list(*ports, r.path_of("ports"), 65535, "port")) {
      if (port == 0) throw_config_error(r.path_of("ports"), "port 0 is not a TCP port");
      host.ports.push_back(static_cast<uint16_t>(port));
    }
    std::sort(host.ports.begin(), host.ports.end());
  }
  // "protection" is the older spelling of protect|pass; given with "mode", they must agree.
  const bool has_protection = r.find("protection") != nullptr;
  const bool protection = r.bool_or("protection", true);
  if (const auto* mode = r.find("mode")) {
    const std::string text = json_string(*mode, r.path_of("mode"));
    const auto parsed = parse_host_mode(text);
    if (!parsed) {
      throw_config_error(r.path_of("mode"),
                         std::string("expected ") + kHostModeChoices + ", got \"" + text + "\"");
    }
    host.mode = *parsed;
    if (has_protection && protection != (host.mode == HostMode::kProtect)) {
      throw_config_error(r.path_of("protection"),
                         "contradicts " + r.path_of("mode") + " \"" + text +
                             "\": true means mode protect; set one of them");
    }
  } else if (has_protection) {
    host.mode = protection ? HostMode::kProtect : HostMode::kPass;
  }
  if (const auto* policy = r.find("policy")) host.policy = parse_policy(*policy, r.path_of("policy"));
  if (host.policy.socket_confirm.value_or(false) && !host.agent) {
    throw_config_error(r.path_of("policy") + ".socket_confirm",
                       "needs an \"agent\": only the host's agent can confirm its sockets");
  }
  if (host.agent && host.agent->fail) {
    const FailPolicy fail = *host.agent->fail;
    const auto* policy = r.find("policy");
    if (policy != nullptr && policy->contains("fail") && host.policy.fail != fail) {
      throw_config_error(r.path_of("agent") + ".fail",
                         "contradicts " + r.path_of("policy") + ".fail: set the fail policy once");
    }
    host.policy.fail = fail;
  }
  r.reject_unknown_keys();
  return host;
}

nlohmann::json protected_host_to_json(const ProtectedHostConfig& host) {
  nlohmann::json out = nlohmann::json::object();
  out["address"] = host.address.to_string();
  out["mac"] = format_mac(host.mac);
  if (host.agent) out["agent"] = agent_endpoint_to_json(*host.agent);
  else out["secrets_file"] = host.secrets_file.string();
  if (!host.ports.empty()) out["ports"] = host.ports;
  out["mode"] = host_mode_name(host.mode);
  out["protection"] = host.mode == HostMode::kProtect;  // the older key, for older readers
  out["policy"] = {{"fail", fail_policy_name(host.policy.fail)},
                   {"forward_icmp", host.policy.forward_icmp},
                   {"forward_udp", host.policy.forward_udp},
                   {"forward_other", host.policy.forward_other},
                   {"forward_tcp_fragments", host.policy.forward_tcp_fragments},
                   {"timestamp_recovery_s", host.policy.timestamp_recovery_s}};
  if (host.policy.socket_confirm) out["policy"]["socket_confirm"] = *host.policy.socket_confirm;
  return out;
}

namespace {

ApiConfig parse_api(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  ApiConfig api;
  if (const auto* address = r.find("address")) {
    const std::string text = json_string(*address, r.path_of("address"));
    const auto ip = IpAddress::parse(text);
    if (!ip) {
      throw_config_error(r.path_of("address"),
                         "expected a numeric IPv4 or IPv6 address, got \"" + text + "\"");
    }
    if (!ip->is_loopback()) {
      throw_config_error(r.path_of("address"),
                         text + " is not a loopback address: the API has no authentication, so "
                                "it only listens on 127.0.0.0/8 or ::1");
    }
    api.address = *ip;
  }
  api.port = static_cast<uint16_t>(r.uint_or("port", api.port, 1, 65535));
  api.max_body_bytes =
      static_cast<uint32_t>(r.uint_or("max_body_bytes", api.max_body_bytes, 1024, 256u << 20));
  api.persist_changes = r.bool_or("persist_changes", api.persist_changes);
  r.reject_unknown_keys();
  return api;
}

}  // namespace

DaemonConfig parse_config(const nlohmann::json& document) {
  JsonObjectReader r(document, "");
  DaemonConfig config;
  config.interface = r.string_at("interface");
  if (const char* why = interface_name_problem(config.interface)) {
    throw_config_error("interface", "\"" + config.interface + "\" " + why +
                                        ": expected a network interface name such as eth0");
  }
  if (const auto* queues = r.find("queues")) {
    config.queues = parse_uint_list(*queues, "queues", 4095, "queue");
    if (config.queues.empty()) {
      throw_config_error("queues", "must list at least one queue (omit the key for all)");
    }
  }
  if (const auto* cpus = r.find("worker_cpus")) {
    config.worker_cpus = parse_uint_list(*cpus, "worker_cpus", 4095, "cpu");
    if (config.queues.empty() || config.worker_cpus.size() != config.queues.size()) {
      throw_config_error("worker_cpus", "needs an explicit \"queues\" list of the same length "
                                        "(one CPU per queue, in the same order)");
    }
  }
  config.bpffs_pin_dir = r.string_or("bpffs_pin_dir", "");
  if (!config.bpffs_pin_dir.empty() && !config.bpffs_pin_dir.is_absolute()) {
    throw_config_error("bpffs_pin_dir", "must be an absolute path on a bpffs mount");
  }
  config.keep_dataplane_on_exit = r.bool_or("keep_dataplane_on_exit", config.keep_dataplane_on_exit);
  config.fail_open_without_workers =
      r.bool_or("fail_open_without_workers", config.fail_open_without_workers);
  if (const auto* mode = r.find("xsk_mode")) {
    config.xsk_mode = parse_xsk_mode(json_string(*mode, "xsk_mode"), "xsk_mode");
  }
  if (const auto* dp = r.find("datapath")) {
    config.datapath = parse_datapath(json_string(*dp, "datapath"), "datapath");
  }
  config.secrets_reload_interval_ms = static_cast<uint32_t>(
      r.uint_or("secrets_reload_interval_ms", config.secrets_reload_interval_ms, 100, 3'600'000));
  if (const auto* limits = r.find("limits")) config.limits = parse_limits(*limits, "limits");
  if (const auto* api = r.find("api")) config.api = parse_api(*api, "api");
  if (const auto* a = r.find("auto")) config.auto_mode = parse_auto_mode_config(*a, "auto");

  const auto& hosts = json_array(r.require("protected_hosts"), "protected_hosts");
  if (hosts.empty()) throw_config_error("protected_hosts", "must list at least one host");
  if (hosts.size() > config.limits.host_table_size) {
    throw_config_error("protected_hosts", "lists more hosts than limits.host_table_size");
  }
  for (size_t i = 0; i < hosts.size(); ++i) {
    const std::string path = "protected_hosts[" + std::to_string(i) + "]";
    ProtectedHostConfig host = parse_protected_host(hosts[i], path);
    for (const auto& other : config.protected_hosts) {
      if (other.address == host.address) {
        throw_config_error(path + ".address", "host " + host.address.to_string() +
                                                  " is listed twice");
      }
    }
    config.protected_hosts.push_back(std::move(host));
  }
  if (const auto* lists = r.find("lists")) config.lists = parse_source_lists(*lists, "lists");
  const ListCounts counts = count_trie_entries(config.lists);
  if (std::max(counts.v4, counts.v6) > config.limits.list_prefixes) {
    throw_config_error("lists", "holds " + std::to_string(counts.v4) + " IPv4 and " +
                                    std::to_string(counts.v6) +
                                    " IPv6 prefixes, more than limits.list_prefixes (" +
                                    std::to_string(config.limits.list_prefixes) + ") per family");
  }
  if (const auto* budget = r.find("synack_budget")) {
    config.synack_budget = parse_synack_budget(*budget, "synack_budget");
  }
  r.reject_unknown_keys();
  return config;
}

DaemonConfig load_config(const std::filesystem::path& path) {
  return read_config_file(path).config;
}

}  // namespace synwarden::daemon
