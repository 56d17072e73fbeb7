#include "agent_config.h"

#include <net/if.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "synwarden/address_text.h"
#include "synwarden/channel_socket.h"
#include "synwarden/strict_json.h"

namespace synwarden::agent {
namespace {

using json = nlohmann::json;

class Reader {
 public:
  Reader(const json& doc, std::string_view origin) : doc_(doc), origin_(origin) {}

  [[noreturn]] void fail(std::string_view key, const std::string& problem) const {
    throw ConfigError(std::string(origin_) + ": \"" + std::string(key) + "\": " + problem);
  }

  const json* find(std::string_view key) const {
    const auto it = doc_.find(key);
    return it == doc_.end() ? nullptr : &*it;
  }

  std::string string(std::string_view key, bool required, std::string fallback = {}) const {
    const json* v = find(key);
    if (v == nullptr) {
      if (required) fail(key, "missing (required)");
      return fallback;
    }
    if (!v->is_string() || v->get_ref<const std::string&>().empty()) {
      fail(key, "expected a non-empty string");
    }
    return v->get<std::string>();
  }

  uint64_t unsigned_in(std::string_view key, uint64_t lo, uint64_t hi, uint64_t fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0)) {
      fail(key, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    const auto n = v->get<uint64_t>();
    if (n < lo || n > hi) {
      fail(key, std::to_string(n) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    return n;
  }

  double positive(std::string_view key, double fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_number() || v->get<double>() <= 0) fail(key, "expected a number greater than 0");
    return v->get<double>();
  }

  bool boolean(std::string_view key, bool fallback) const {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(key, "expected true or false");
    return v->get<bool>();
  }

 private:
  const json& doc_;
  std::string_view origin_;
};

constexpr std::string_view kKnownKeys[] = {
    "listen",  "key_file", "mode",     "interfaces", "ports",        "key_rotation_s",
    "key_overlap_s", "pin_dir", "kmod_file", "kmod_gate_file", "request_max_age_s", "reply_rate",
    "reply_burst", "detach_on_exit", "outbound_stamp"};

}  // namespace

const char* mode_name(Mode m) noexcept {
  switch (m) {
    case Mode::kBpf: return "bpf";
    case Mode::kKmod: return "kmod";
    case Mode::kAuto: return "auto";
  }
  return "unknown";
}

Config parse_config(std::string_view json_text, std::string_view origin) {
  json doc;
  try {
    doc = parse_json_strict(json_text);
  } catch (const JsonInputError& e) {  // a repeated key, or a NUL byte in a string
    throw ConfigError(std::string(origin) + ": \"" + e.key_path() + "\": " + e.what());
  } catch (const json::exception& e) {  // also out_of_range: "1e400"
    throw ConfigError(std::string(origin) + ": not valid JSON (" + e.what() + ")");
  }
  if (!doc.is_object()) throw ConfigError(std::string(origin) + ": expected a JSON object");
  Reader r(doc, origin);
  for (const auto& [key, value] : doc.items()) {
    if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), key) == std::end(kKnownKeys)) {
      r.fail(key, "unknown key (see agent/README.md for the accepted keys)");
    }
  }

  Config c;
  c.listen = r.string("listen", true);
  try {
    SocketAddress::parse(c.listen);
  } catch (const ChannelSocketError& e) {
    r.fail("listen", e.what());
  }
  c.key_file = r.string("key_file", true);

  const std::string mode = r.string("mode", false, "auto");
  if (mode == "bpf") {
    c.mode = Mode::kBpf;
  } else if (mode == "kmod") {
    c.mode = Mode::kKmod;
  } else if (mode == "auto") {
    c.mode = Mode::kAuto;
  } else {
    r.fail("mode", "\"" + mode + "\" is not one of bpf, kmod, auto");
  }

  const json* ifs = r.find("interfaces");
  if (ifs == nullptr) r.fail("interfaces", "missing (required): the interfaces clients arrive on");
  if (!ifs->is_array() || ifs->empty()) r.fail("interfaces", "expected a non-empty array of names");
  for (const json& v : *ifs) {
    const char* why = v.is_string() ? interface_name_problem(v.get_ref<const std::string&>())
                                    : "is not a string";
    if (why != nullptr) {
      r.fail("interfaces", "expected interface names of 1 to " + std::to_string(IF_NAMESIZE - 1) +
                               " bytes (no '/', ':', whitespace or NUL), got " + v.dump() +
                               ", which " + why);
    }
    c.interfaces.push_back(v.get<std::string>());
  }

  if (const json* ports = r.find("ports")) {
    if (!ports->is_array()) r.fail("ports", "expected an array of port numbers");
    for (const json& v : *ports) {
      if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || v.get<uint64_t>() > 65535) {
        r.fail("ports", "expected port numbers from 1 to 65535, got " + v.dump());
      }
      const auto port = static_cast<uint16_t>(v.get<uint64_t>());
      if (std::find(c.ports.begin(), c.ports.end(), port) != c.ports.end()) {
        r.fail("ports", "port " + std::to_string(port) + " is listed twice");
      }
      c.ports.push_back(port);
    }
  }

  c.key_overlap_s = static_cast<uint32_t>(
      r.unsigned_in("key_overlap_s", kMinKeyOverlapS, 86'400, c.key_overlap_s));
  c.key_rotation_s =
      static_cast<uint32_t>(r.unsigned_in("key_rotation_s", 0, 30 * 86'400, c.key_rotation_s));
  if (c.key_rotation_s != 0 && c.key_rotation_s <= c.key_overlap_s) {
    r.fail("key_rotation_s",
           std::to_string(c.key_rotation_s) + " must be greater than key_overlap_s (" +
               std::to_string(c.key_overlap_s) +
               "), or 0 to never rotate: only two key generations can be valid at once");
  }
  c.pin_dir = r.string("pin_dir", false, c.pin_dir);
  c.kmod_file = r.string("kmod_file", false, c.kmod_file);
  c.kmod_gate_file = r.string("kmod_gate_file", false, c.kmod_gate_file);
  c.request_max_age_s =
      static_cast<uint32_t>(r.unsigned_in("request_max_age_s", 1, 3600, c.request_max_age_s));
  c.reply_rate = r.positive("reply_rate", c.reply_rate);
  c.reply_burst = r.positive("reply_burst", c.reply_burst);
  if (c.reply_burst < 1) r.fail("reply_burst", "must be at least 1");
  c.detach_on_exit = r.boolean("detach_on_exit", c.detach_on_exit);
  const std::string stamp = r.string("outbound_stamp", false, "auto");
  if (stamp == "auto") {
    c.outbound_stamp = StampMode::kAuto;
  } else if (stamp == "on") {
    c.outbound_stamp = StampMode::kOn;
  } else if (stamp == "off") {
    c.outbound_stamp = StampMode::kOff;
  } else {
    r.fail("outbound_stamp", "\"" + stamp + "\" is not one of auto, on, off");
  }
  return c;
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError("cannot read agent configuration " + path +
                      " (give another with --config, see agent/README.md)");
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

void check_config_for_mode(const Config& config, Mode resolved, std::string_view origin) {
  if (resolved == Mode::kBpf && config.ports.empty()) {
    throw ConfigError(std::string(origin) +
                      ": \"ports\": bpf mode needs the listening ports to protect, e.g. "
                      "\"ports\": [80, 443]");
  }
}

}  // namespace synwarden::agent
