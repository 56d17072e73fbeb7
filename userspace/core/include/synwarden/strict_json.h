// Every JSON document the product reads (the daemon's config file and API bodies, the agent's
// config, secrets files, synwardenctl's host specs) goes through these instead of
// nlohmann::json::parse, which accepts an object that repeats a key (the last value wins) and
// strings holding NUL bytes. Both change what a security control does without the operator
// seeing it: {"protection": true, "protection": false} reads as "on" to a person and as "off"
// to the parser, and "198.51.100.25\u0000x" is one address to the JSON parser and another to
// inet_pton(). Both are refused here, naming the key path.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace synwarden {

// A syntactically valid document that is still refused: a repeated key or a NUL in a string.
class JsonInputError : public std::runtime_error {
 public:
  JsonInputError(const std::string& message, std::string key_path)
      : std::runtime_error(message), key_path_(std::move(key_path)) {}
  // "protected_hosts[0].protection"; `root` of the parse call prefixes it.
  const std::string& key_path() const noexcept { return key_path_; }

 private:
  std::string key_path_;
};

// Checks `text` for repeated keys and NUL bytes in keys and strings; throws JsonInputError for
// the first one. Syntax errors are left to the parser (nothing is thrown for them here).
// `root` names the document in key paths ("host" gives "host.mac"); may be empty.
void check_json_text(std::string_view text, std::string_view root = {});

// check_json_text, then nlohmann's parse: throws JsonInputError, or nlohmann::json::exception
// for a syntax error (parse_error) or a number beyond double (out_of_range 406, "1e400").
nlohmann::json parse_json_strict(std::string_view text, std::string_view root = {});
nlohmann::ordered_json parse_ordered_json_strict(std::string_view text, std::string_view root = {});

}  // namespace synwarden
