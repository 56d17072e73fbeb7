// The config file as the control plane keeps it: the exact text last read or written (so an edit
// on disk that nobody reloaded yet is noticed before the API overwrites it), the JSON document in
// its own key order (an API change edits only the keys it means to, the operator's layout of the
// rest survives) and the parsed, validated config. ConfigDocument owns the first two and their
// saving; what the config means at run time is RunningConfig's (control_running.h).
#pragma once

#include <filesystem>
#include <optional>
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

// The document the running config was parsed from, and whether the file still says the same.
// Control thread only.
class ConfigDocument {
 public:
  ConfigDocument(std::filesystem::path path, std::string text, nlohmann::ordered_json document)
      : path_(std::move(path)), text_(std::move(text)), document_(std::move(document)) {}

  const std::filesystem::path& path() const noexcept { return path_; }
  const nlohmann::ordered_json& document() const noexcept { return document_; }
  // Index of `address` in the document's protected_hosts, if it is there.
  std::optional<size_t> host_index(const IpAddress& address) const;

  struct Saved {
    bool persisted = false;
    std::string note;  // why not, when not
  };
  // `next` (already applied) becomes the document. With `persist` it is written to the file
  // atomically, unless the file changed on disk since it was last read or written: an edit
  // nobody reloaded yet is never overwritten. Never throws for a failed save: it is reported.
  Saved commit(nlohmann::ordered_json next, bool persist);
  // A reload: the file's content is the document again; nothing is unsaved.
  void adopt(std::string text, nlohmann::ordered_json document);

  bool unsaved() const noexcept { return unsaved_; }
  // {"path", "unsaved_changes", "last_persist_error"} for GET /status.
  nlohmann::json status_json() const;

 private:
  Saved not_saved(std::string why);

  std::filesystem::path path_;
  std::string text_;                  // the file's content as last read or written
  nlohmann::ordered_json document_;   // what the running config was parsed from
  bool unsaved_ = false;              // the running config differs from the file
  std::string last_persist_error_;
};

}  // namespace synwarden::daemon
