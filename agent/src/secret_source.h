// Where the agent's reply comes from: the kernel module's file (kmod mode) or the agent's own
// keys behind its tc program (bpf mode). Both produce the engine's HostSecrets document, so the
// firewall treats every host alike.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "synwarden/secrets.h"

namespace synwarden::agent {

using LogFn = std::function<void(const std::string& line)>;

class SecretSource {
 public:
  virtual ~SecretSource() = default;
  // The secrets with a clock sample taken now. Called once per reply; throws on failure (the
  // request then goes unanswered and the firewall holds its last good copy).
  virtual HostSecrets current() = 0;
  // Periodic upkeep (about once a second): key rotation, sysctl changes.
  virtual void maintain(uint64_t now_ns) = 0;
  // One line for the start-up log: mode and what it found.
  virtual std::string describe() const = 0;
};

}  // namespace synwarden::agent
