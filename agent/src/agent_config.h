// synwarden-agent's configuration file (/etc/synwarden/agent.json):
//
//   {
//     "listen": "192.0.2.10:7070",             address the firewall polls (required)
//     "key_file": "/etc/synwarden/agent.key",  32-byte pre-shared key, mode 0600 (required)
//     "mode": "auto",                          "bpf" | "kmod" | "auto" (default auto)
//     "interfaces": ["eth0"],                  where clients arrive (required): tc attach points in
//                                              bpf mode, and the MTU the reported MSS comes from
//     "ports": [80, 443],                      listening ports to protect (bpf mode)
//     "key_rotation_s": 3600,                  bpf mode key lifetime, 0 = never rotate
//     "key_overlap_s": 300,                    bpf mode: previous keys stay valid this long
//     "pin_dir": "/sys/fs/bpf/synwarden/agent",
//     "kmod_file": "/proc/synwarden_secrets",
//     "kmod_gate_file": "/sys/module/synwarden_secrets/parameters/accept_cookies",
//                                              kmod mode: the gate the agent holds open
//     "request_max_age_s": 120,                accepted firewall/host wall-clock difference
//     "reply_rate": 20, "reply_burst": 40,     replies per second the agent sends at most
//     "detach_on_exit": true,                  remove the tc programs when stopping
//     "outbound_stamp": "auto"                 "auto" | "on" | "off": stamp the host's outbound
//                                              SYNs (docs/outbound-stamp.md); auto = on unless
//                                              the kernel refuses, then a warning
//   }
//
// Unknown keys are refused (a typo must not silently become a default). Errors name the file,
// the key and what would be valid.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace synwarden::agent {

enum class Mode : uint8_t { kBpf, kKmod, kAuto };
enum class StampMode : uint8_t { kAuto, kOn, kOff };
const char* mode_name(Mode m) noexcept;

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Config {
  std::string listen;
  std::string key_file;
  Mode mode = Mode::kAuto;
  std::vector<std::string> interfaces;
  std::vector<uint16_t> ports;
  uint32_t key_rotation_s = 3600;
  uint32_t key_overlap_s = 300;
  std::string pin_dir = "/sys/fs/bpf/synwarden/agent";
  std::string kmod_file = "/proc/synwarden_secrets";
  std::string kmod_gate_file = "/sys/module/synwarden_secrets/parameters/accept_cookies";
  uint32_t request_max_age_s = 120;
  double reply_rate = 20;
  double reply_burst = 40;
  bool detach_on_exit = true;
  StampMode outbound_stamp = StampMode::kAuto;
};

// A cookie made just before a minute boundary is accepted for up to two minutes
// (MAX_SYNCOOKIE_AGE), so previous keys must outlive that.
inline constexpr uint32_t kMinKeyOverlapS = 120;

// `origin` (usually the path) prefixes every error. Throws ConfigError.
Config parse_config(std::string_view json_text, std::string_view origin);
Config load_config(const std::string& path);

// The checks that depend on the mode finally chosen (ports are needed in bpf mode only).
// Throws ConfigError.
void check_config_for_mode(const Config& config, Mode resolved, std::string_view origin);

}  // namespace synwarden::agent
