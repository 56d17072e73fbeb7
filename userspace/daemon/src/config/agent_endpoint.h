// The "agent" object of a protected host in the daemon's config: where the host's
// synwarden-agent serves its secrets over the secret channel, and how the firewall polls it.
// A host names either an agent (live secrets, key rotation, clock samples every poll) or a static
// "secrets_file", never both; config.cpp enforces that and calls the parser here.
//
//   "agent": {"address": "192.0.2.10:7070", "key_file": "/etc/synwarden/keys/web1.key",
//             "poll_interval_ms": 1000, "hold_ms": 30000, "fail": "open"}
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "synwarden/fail_policy.h"

namespace synwarden::daemon {

struct AgentEndpoint {
  // The agent's UDP address, numeric ("192.0.2.10:7070", "[2001:db8::10]:7070"): the channel
  // must not depend on DNS during an attack.
  std::string address;
  // The host's 32-byte pre-shared channel key (synwarden-agent genkey). The channel library
  // refuses a file that group or others may read, when the daemon starts.
  std::filesystem::path key_file;
  uint32_t poll_interval_ms = 1000;
  // How long the last good secrets stay in use while the agent is silent; then the fail policy
  // applies. Below the agent's key overlap (300 s by default), so a rotation the firewall missed
  // cannot leave it minting cookies with keys the host no longer accepts.
  uint32_t hold_ms = 30'000;
  // The "fail" key if present; it sets the host's policy.fail.
  std::optional<FailPolicy> fail;

  friend bool operator==(const AgentEndpoint&, const AgentEndpoint&) = default;
};

// Parses the object at `path` ("protected_hosts[0].agent"). Throws ConfigError naming the key.
AgentEndpoint parse_agent_endpoint(const nlohmann::json& value, const std::string& path);

// The config-file form (every key, so it can be written back and parsed again unchanged).
nlohmann::json agent_endpoint_to_json(const AgentEndpoint& agent);

}  // namespace synwarden::daemon
