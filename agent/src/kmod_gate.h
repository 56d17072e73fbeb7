// kmod mode: the synwarden_secrets module's acceptance gate (module parameter accept_cookies,
// /sys/module/synwarden_secrets/parameters/accept_cookies, root-only). While it is on, the
// host's kernel accepts cookie ACKs for SYN-ACKs it never sent (the firewall's); while it is
// off, it refuses them (kmod/README.md, "The acceptance gate").
//
// The agent holds the gate open exactly while it serves secrets: KmodGate turns it on when
// constructed, turns it back on if something turned it off meanwhile (an administrator, or a
// reload of the module, which starts with the gate off), and on destruction restores the value
// it found at start. A killed agent (SIGKILL, a crash) leaves the gate on; that is harmless on
// its own, because the kernel still validates every cookie with its own keys, and the next agent
// start takes the gate over again.
#pragma once

#include <string>

#include "secret_source.h"

namespace synwarden::agent {

class KmodGate {
 public:
  // Reads the gate ("Y"/"N" from sysfs, or "1"/"0") and turns it on. Throws FactsError naming
  // the file and what to do (load the module, run as root).
  KmodGate(std::string path, LogFn log);
  KmodGate(const KmodGate&) = delete;
  KmodGate& operator=(const KmodGate&) = delete;
  // Restores the value found at start; logs, never throws.
  ~KmodGate();

  // Called about once a second: turns the gate back on if it is off. Logs each change of state
  // (turned back on, unreadable, readable again) once, never every second. Never throws.
  void keep_open() noexcept;

  bool was_on_at_start() const noexcept { return was_on_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  LogFn log_;
  bool was_on_ = false;
  bool failing_ = false;   // the last keep_open() could not read or write the gate
};

// The gate's value in `path`. Throws FactsError.
bool read_gate(const std::string& path);
// Writes "1" or "0" to `path`. Throws FactsError.
void write_gate(const std::string& path, bool on);

}  // namespace synwarden::agent
