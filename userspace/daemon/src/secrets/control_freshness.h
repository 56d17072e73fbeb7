// How current a protected host's secrets are, as GET /status and the metrics show it, whatever
// supplies them. Today every host's secrets come from a static file (SecretsFiles::freshness);
// a host with a live agent (core SecretPoller) fills the same fields from the poller: source
// "agent", state = secrets_state_name(poller.state()), age since the last valid reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace synwarden::daemon {

struct SecretsFreshness {
  std::string source;    // "file" (SecretsFiles) or "agent" (SecretPoller)
  std::string location;  // the file's path, or the agent's address
  // The core's SecretsState names: "fresh", "holding" (source failing, last good secrets still
  // in use), "expired", "no_secrets" (the host's fail policy applies).
  std::string state;
  // Since the secrets in use were produced (file: its mtime; agent: the last valid reply);
  // nullopt while there are none.
  std::optional<uint64_t> last_update_age_ms;
  std::string last_error;  // why the source is failing now, "" when it is not
};

}  // namespace synwarden::daemon
