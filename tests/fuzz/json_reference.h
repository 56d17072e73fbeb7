// A second, independent answer to "does this JSON text repeat a key in one object, or hold a
// NUL byte in a key or string?" for the fuzz targets' properties: it uses nlohmann's parser
// callback (per-event, with a stack of open objects), not the SAX checker of strict_json.h
// that the product uses.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace synwarden::fuzz {

inline bool json_repeats_a_key_or_holds_nul(std::string_view text) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::set<std::string>> open;
  bool found = false;
  const auto has_nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  const nlohmann::json::parser_callback_t callback = [&](int, Event event, nlohmann::json& parsed) {
    if (event == Event::object_start) {
      open.emplace_back();
    } else if (event == Event::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == Event::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (has_nul(key) || open.empty() || !open.back().insert(key).second) found = true;
    } else if (event == Event::value && parsed.is_string()) {
      if (has_nul(parsed.get_ref<const std::string&>())) found = true;
    }
    return true;
  };
  const nlohmann::json ignored = nlohmann::json::parse(text, callback, /*allow_exceptions=*/false);
  static_cast<void>(ignored);
  return found;
}

}  // namespace synwarden::fuzz
