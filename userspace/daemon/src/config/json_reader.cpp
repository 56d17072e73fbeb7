#include "json_reader.h"

#include "config.h"

namespace synwarden::daemon {

namespace {

std::string type_name(const nlohmann::json& value) {
  if (value.is_number_unsigned() || value.is_number_integer()) return "an integer";
  if (value.is_number_float()) return "a fractional number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

}  // namespace

void throw_config_error(const std::string& path, const std::string& what) {
  throw ConfigError("config key '" + (path.empty() ? std::string("(top level)") : path) +
                    "': " + what);
}

uint64_t json_uint(const nlohmann::json& value, const std::string& path, uint64_t min,
                   uint64_t max) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v >= min && v <= max) return v;
  } else if (value.is_number_integer()) {
    const auto v = value.get<int64_t>();
    if (v >= 0 && static_cast<uint64_t>(v) >= min && static_cast<uint64_t>(v) <= max) {
      return static_cast<uint64_t>(v);
    }
  } else {
    throw_config_error(path, "expected an integer, got " + type_name(value));
  }
  throw_config_error(path, "value " + value.dump() + " is out of range [" + std::to_string(min) +
                               ", " + std::to_string(max) + "]");
}

std::string json_string(const nlohmann::json& value, const std::string& path) {
  if (!value.is_string()) throw_config_error(path, "expected a string, got " + type_name(value));
  const auto& text = value.get_ref<const std::string&>();
  // Files and API bodies are refused earlier (strict_json.h); this covers documents built in
  // code. A NUL would end the string early for every C API it reaches (paths, inet_pton).
  if (text.find('\0') != std::string::npos) {
    throw_config_error(path,
                       "contains a NUL byte (\\u0000): no name, address or path may hold one");
  }
  return text;
}

const nlohmann::json& json_array(const nlohmann::json& value, const std::string& path) {
  if (!value.is_array()) throw_config_error(path, "expected an array, got " + type_name(value));
  return value;
}

JsonObjectReader::JsonObjectReader(const nlohmann::json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) {
    throw_config_error(path_, "expected an object, got " + type_name(object_));
  }
}

std::string JsonObjectReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const nlohmann::json* JsonObjectReader::find(std::string_view key) {
  known_.emplace(key);
  const auto it = object_.find(std::string(key));
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

const nlohmann::json& JsonObjectReader::require(std::string_view key) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) throw_config_error(path_of(key), "is required but missing");
  return *value;
}

std::string JsonObjectReader::string_at(std::string_view key) {
  return json_string(require(key), path_of(key));
}

std::string JsonObjectReader::string_or(std::string_view key, std::string fallback) {
  const nlohmann::json* value = find(key);
  return value == nullptr ? fallback : json_string(*value, path_of(key));
}

bool JsonObjectReader::bool_or(std::string_view key, bool fallback) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) {
    throw_config_error(path_of(key), "expected true or false, got " + type_name(*value));
  }
  return value->get<bool>();
}

uint64_t JsonObjectReader::uint_or(std::string_view key, uint64_t fallback, uint64_t min,
                                   uint64_t max) {
  const nlohmann::json* value = find(key);
  return value == nullptr ? fallback : json_uint(*value, path_of(key), min, max);
}

void JsonObjectReader::reject_unknown_keys() const {
  for (const auto& [key, value] : object_.items()) {
    if (known_.find(key) == known_.end()) {
      std::string expected;
      for (const auto& k : known_) expected += (expected.empty() ? "" : ", ") + k;
      throw_config_error(path_of(key), "unknown key (known keys here: " + expected + ")");
    }
  }
}

}  // namespace synwarden::daemon
