// What the firewall does with a protected host's SYNs (and ACKs of unknown flows) while it has
// no usable cookie secrets for that host: none loaded yet, the file unreadable, or the agent
// silent for longer than its hold time. The one enum for the config file ("policy.fail",
// "agent.fail"), the secret-channel poller, the workers' snapshot and the XDP map value
// (SW_HC_FAIL_OPEN).
#pragma once

#include <cstdint>
#include <string_view>

namespace synwarden {

enum class FailPolicy : uint8_t {
  kOpen,    // forward to the host, whose own kernel answers them: unprotected but reachable
  kClosed,  // drop them: protected, but no new connections until secrets are available
};

// The default when the configuration says nothing: open. A host whose secrets cannot be read
// stays reachable (its own kernel still has SYN cookies); an operator who prefers dropping says
// "fail": "closed". Every place that holds a FailPolicy starts from this value.
inline constexpr FailPolicy kDefaultFailPolicy = FailPolicy::kOpen;

// "open" / "closed".
const char* fail_policy_name(FailPolicy policy) noexcept;
// "open" / "closed"; throws std::invalid_argument naming the accepted values.
FailPolicy parse_fail_policy(std::string_view text);

}  // namespace synwarden
