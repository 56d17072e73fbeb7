// Strict reading of one JSON object of the config: each lookup records the key as known, typed
// getters name the key path in their errors, and reject_unknown_keys() turns typos
// ("keep_dataplane_on_exti") into errors instead of silently applied defaults.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace synwarden::daemon {

class JsonObjectReader {
 public:
  // Throws ConfigError if `object` is not a JSON object. `path` is its key path ("" for root).
  JsonObjectReader(const nlohmann::json& object, std::string path);

  // The value of `key`, or nullptr if absent (JSON null counts as absent).
  const nlohmann::json* find(std::string_view key);
  // The value of `key`; throws ConfigError naming the path if it is absent.
  const nlohmann::json& require(std::string_view key);

  std::string string_at(std::string_view key);                    // required
  std::string string_or(std::string_view key, std::string fallback);
  bool bool_or(std::string_view key, bool fallback);
  // Integers are range-checked against [min, max].
  uint64_t uint_or(std::string_view key, uint64_t fallback, uint64_t min, uint64_t max);

  // Path of a child key, for errors raised by the caller ("protected_hosts[0].mac").
  std::string path_of(std::string_view key) const;
  const std::string& path() const { return path_; }

  // Throws ConfigError listing the first key that no lookup asked for.
  void reject_unknown_keys() const;

 private:
  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

// Value checks shared by the config parser; all throw ConfigError naming `path`.
[[noreturn]] void throw_config_error(const std::string& path, const std::string& what);
uint64_t json_uint(const nlohmann::json& value, const std::string& path, uint64_t min,
                   uint64_t max);
std::string json_string(const nlohmann::json& value, const std::string& path);
const nlohmann::json& json_array(const nlohmann::json& value, const std::string& path);

}  // namespace synwarden::daemon
