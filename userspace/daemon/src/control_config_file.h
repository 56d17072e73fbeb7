// The config file as the control plane keeps it: the exact text last read or written (so an edit
// on disk that nobody reloaded yet is noticed before the API overwrites it), the JSON document in
// its own key order (an API change edits only the keys it means to, the operator's layout of the
// rest survives) and the parsed, validated config.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "config.h"

namespace synwarden::daemon {

struct LoadedConfig {
  std::string text;                 // the file's bytes as read (or as last written)
  nlohmann::ordered_json document;  // `text` parsed, key order kept
  DaemonConfig config;              // `document` validated
};

// Reads, parses and fully validates `path`. Throws ConfigError naming the file, and for a bad
// value the key path ("protected_hosts[1].mac").
LoadedConfig read_config_file(const std::filesystem::path& path);

// Validates a document edited in memory (the API's changes). Throws ConfigError.
DaemonConfig parse_config_document(const nlohmann::ordered_json& document);

// The file's bytes. Throws ConfigError when it cannot be read.
std::string read_text_file(const std::filesystem::path& path);

// Replaces the file at `path` (following a symlink to the real file) with `text` so that a crash
// or power loss leaves either the old or the new content, never a mix: write "<file>.tmp" in the
// same directory with the old file's mode and owner, fsync it, rename it over the file, fsync the
// directory. The fixed temp name means an interrupted write leaves at most one stale file, which
// the next write replaces. Throws std::runtime_error saying which step failed on which path.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace synwarden::daemon
