// The protected hosts' secrets as static JSON files (core secrets loader), re-read when they
// change. The agent issue replaces this with live agents; until then an operator (or a test)
// writes each host's file. The clock sample inside a file is taken to be valid at the file's
// modification time, so a file written once keeps extrapolating correctly instead of freezing
// the host's clocks at the moment the daemon happened to read it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "control_freshness.h"
#include "snapshot.h"

namespace synwarden::daemon {

class SecretsFiles {
 public:
  explicit SecretsFiles(const std::vector<ProtectedHostConfig>& hosts);

  // Re-reads every file whose identity (inode, size, mtime, ctime: a chmod that fixes a refused
  // file counts) changed since the last look.
  // A file that fails to read or parse keeps the host's last good keys and is logged once per
  // change. Returns true if any host's keys changed. Control thread only.
  bool refresh();

  // Follows a new host list (reload, API change). A host whose address and file are unchanged
  // keeps its loaded keys and file identity, so it never passes through a moment without
  // secrets; every other host starts empty until the next refresh(). Control thread only.
  void reconfigure(const std::vector<ProtectedHostConfig>& hosts);

  // The host's current keys (index into the config's protected_hosts), nullopt if none yet.
  const std::optional<HostKeys>& keys(size_t host) const { return state_.at(host).keys; }
  // How current the host's secrets are at firewall time `now_ms` (CLOCK_MONOTONIC).
  SecretsFreshness freshness(size_t host, uint64_t now_ms) const;

 private:
  struct FileState {
    std::string host;  // address, for log lines
    std::filesystem::path path;
    std::optional<HostKeys> keys;
    bool seen = false;
    uint64_t inode = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    std::string last_error;
  };
  bool refresh_one(FileState& file);
  std::vector<FileState> state_;
};

}  // namespace synwarden::daemon
