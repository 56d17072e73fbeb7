#include "agent_endpoint.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "config.h"
#include "json_reader.h"
#include "synwarden/channel_socket.h"

namespace synwarden::daemon {

AgentEndpoint parse_agent_endpoint(const nlohmann::json& value, const std::string& path) {
  JsonObjectReader r(value, path);
  AgentEndpoint agent;
  agent.address = r.string_at("address");
  try {
    const SocketAddress parsed = SocketAddress::parse(agent.address);
    agent.address = parsed.to_string();  // one spelling, so reload diffs compare equal
  } catch (const ChannelSocketError& e) {
    throw_config_error(r.path_of("address"), e.what());
  }
  agent.key_file = r.string_at("key_file");
  if (agent.key_file.empty() || !agent.key_file.is_absolute()) {
    // Under systemd the working directory is /: a relative path would name another file.
    throw_config_error(r.path_of("key_file"),
                       "must be an absolute path to the host's channel key (made by "
                       "`synwarden-agent genkey`), got \"" + agent.key_file.string() + "\"");
  }
  agent.poll_interval_ms =
      static_cast<uint32_t>(r.uint_or("poll_interval_ms", agent.poll_interval_ms, 100, 60'000));
  agent.hold_ms = static_cast<uint32_t>(r.uint_or("hold_ms", agent.hold_ms, 1'000, 600'000));
  if (agent.hold_ms < 2 * agent.poll_interval_ms) {
    throw_config_error(r.path_of("hold_ms"),
                       "must cover at least two polls (2 x poll_interval_ms = " +
                           std::to_string(2 * agent.poll_interval_ms) +
                           " ms), or one lost datagram applies the fail policy");
  }
  if (const auto* fail = r.find("fail")) {
    const std::string text = json_string(*fail, r.path_of("fail"));
    try {
      agent.fail = parse_fail_policy(text);
    } catch (const std::invalid_argument&) {
      throw_config_error(r.path_of("fail"),
                         "expected \"open\" (forward SYNs unprotected while the agent's secrets "
                         "are unavailable) or \"closed\" (drop them), got \"" + text + "\"");
    }
  }
  r.reject_unknown_keys();
  return agent;
}

nlohmann::json agent_endpoint_to_json(const AgentEndpoint& agent) {
  nlohmann::json out = {{"address", agent.address},
                        {"key_file", agent.key_file.string()},
                        {"poll_interval_ms", agent.poll_interval_ms},
                        {"hold_ms", agent.hold_ms}};
  if (agent.fail) out["fail"] = fail_policy_name(*agent.fail);
  return out;
}

}  // namespace synwarden::daemon
