#include "config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "json_reader.h"

namespace synwarden::daemon {

std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  const int af = family == Family::kIpv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, bytes.data(), text, sizeof text) == nullptr) return "?";
  return text;
}

std::optional<IpAddress> parse_ip_address(const std::string& text) {
  IpAddress address;
  if (inet_pton(AF_INET, text.c_str(), address.bytes.data()) == 1) {
    address.family = IpAddress::Family::kIpv4;
    return address;
  }
  if (inet_pton(AF_INET6, text.c_str(), address.bytes.data()) == 1) {
    address.family = IpAddress::Family::kIpv6;
    return address;
  }
  return std::nullopt;
}

std::optional<MacAddress> parse_mac_address(const std::string& text) {
  if (text.size() != 17) return std::nullopt;
  MacAddress mac{};
  for (size_t i = 0; i < 6; ++i) {
    const char* pair = text.c_str() + i * 3;
    if (i < 5 && pair[2] != ':' && pair[2] != '-') return std::nullopt;
    unsigned value = 0;
    for (size_t k = 0; k < 2; ++k) {
      const char c = pair[k];
      unsigned nibble = 0;
      if (c >= '0' && c <= '9') nibble = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') nibble = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') nibble = static_cast<unsigned>(c - 'A' + 10);
      else return std::nullopt;
      value = value * 16 + nibble;
    }
    mac[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5]);
  return text;
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
  const std::string fail = r.string_or("fail", "open");
  if (fail == "open") policy.fail = FailPolicy::kFailOpen;
  else if (fail == "closed") policy.fail = FailPolicy::kFailClosed;
  else throw_config_error(r.path_of("fail"), "expected \"open\" or \"closed\", got \"" + fail + "\"");
  policy.forward_icmp = r.bool_or("forward_icmp", policy.forward_icmp);
  policy.forward_udp = r.bool_or("forward_udp", policy.forward_udp);
  policy.forward_other = r.bool_or("forward_other", policy.forward_other);
  policy.forward_tcp_fragments = r.bool_or("forward_tcp_fragments", policy.forward_tcp_fragments);
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
  limits.host_table_size = static_cast<uint32_t>(
      r.uint_or("host_table_size", limits.host_table_size, 1, 1u << 20));
  r.reject_unknown_keys();
  return limits;
}

ProtectedHostConfig parse_host(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  ProtectedHostConfig host;
  const std::string address = r.string_at("address");
  const auto ip = parse_ip_address(address);
  if (!ip) {
    throw_config_error(r.path_of("address"),
                       "expected an IPv4 or IPv6 address, got \"" + address + "\"");
  }
  host.address = *ip;
  const std::string mac = r.string_at("mac");
  const auto parsed_mac = parse_mac_address(mac);
  if (!parsed_mac) {
    throw_config_error(r.path_of("mac"),
                       "expected a MAC address like 02:00:5e:00:53:01, got \"" + mac + "\"");
  }
  host.mac = *parsed_mac;
  host.secrets_file = r.string_at("secrets_file");
  if (host.secrets_file.empty()) throw_config_error(r.path_of("secrets_file"), "must not be empty");
  if (const auto* ports = r.find("ports")) {
    for (const uint32_t port : parse_uint_list(*ports, r.path_of("ports"), 65535, "port")) {
      if (port == 0) throw_config_error(r.path_of("ports"), "port 0 is not a TCP port");
      host.ports.push_back(static_cast<uint16_t>(port));
    }
    std::sort(host.ports.begin(), host.ports.end());
  }
  host.protection = r.bool_or("protection", host.protection);
  if (const auto* policy = r.find("policy")) host.policy = parse_policy(*policy, r.path_of("policy"));
  r.reject_unknown_keys();
  return host;
}

}  // namespace

DaemonConfig parse_config(const nlohmann::json& document) {
  JsonObjectReader r(document, "");
  DaemonConfig config;
  config.interface = r.string_at("interface");
  if (config.interface.empty() || config.interface.size() >= 16) {
    throw_config_error("interface", "must be an interface name of 1 to 15 characters");
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
  config.secrets_reload_interval_ms = static_cast<uint32_t>(
      r.uint_or("secrets_reload_interval_ms", config.secrets_reload_interval_ms, 100, 3'600'000));
  if (const auto* limits = r.find("limits")) config.limits = parse_limits(*limits, "limits");

  const auto& hosts = json_array(r.require("protected_hosts"), "protected_hosts");
  if (hosts.empty()) throw_config_error("protected_hosts", "must list at least one host");
  if (hosts.size() > config.limits.host_table_size) {
    throw_config_error("protected_hosts", "lists more hosts than limits.host_table_size");
  }
  for (size_t i = 0; i < hosts.size(); ++i) {
    const std::string path = "protected_hosts[" + std::to_string(i) + "]";
    ProtectedHostConfig host = parse_host(hosts[i], path);
    for (const auto& other : config.protected_hosts) {
      if (other.address == host.address) {
        throw_config_error(path + ".address", "host " + host.address.to_string() +
                                                  " is listed twice");
      }
    }
    config.protected_hosts.push_back(std::move(host));
  }
  r.reject_unknown_keys();
  return config;
}

DaemonConfig load_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError("cannot read config file " + path.string() +
                      ": check that it exists and is readable by this user");
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError("config file " + path.string() + " is not valid JSON: " + e.what());
  }
  try {
    return parse_config(document);
  } catch (const ConfigError& e) {
    throw ConfigError(path.string() + ": " + e.what());
  }
}

}  // namespace synwarden::daemon
