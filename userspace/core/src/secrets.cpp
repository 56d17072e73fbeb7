#include "synwarden/secrets.h"
#include "synwarden/strict_json.h"

#include "synwarden/private_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace synwarden {

namespace {

using nlohmann::json;

constexpr std::string_view kPerConnection = "per-connection";
constexpr std::string_view kPerHost = "per-host";

// Every key the document may hold; anything else is a typo or a newer agent and is refused.
constexpr auto kKnownKeys = std::to_array<std::string_view>({
    "syncookie_secret", "syncookie6_secret", "ts_offset", "net_secret", "ts_secret",
    "tcp_timestamps", "tcp_sack", "tcp_window_scaling", "tcp_ecn", "mss", "mss6", "rcv_wscale",
    "rcv_space", "jiffies", "hz", "mono_ms", "outbound_key"});

class Reader {
 public:
  Reader(const json& doc, std::string_view origin) : doc_(doc), origin_(origin) {}

  [[noreturn]] void fail(std::string_view key, const std::string& problem) const {
    throw SecretsError("secrets " + std::string(origin_) + ": key \"" + std::string(key) +
                       "\": " + problem);
  }

  const json& need(std::string_view key) const {
    const auto it = doc_.find(key);
    if (it == doc_.end()) fail(key, "missing (required)");
    return *it;
  }

  bool has(std::string_view key) const { return doc_.contains(key); }

  uint64_t unsigned_in(std::string_view key, uint64_t lo, uint64_t hi) const {
    return unsigned_value(key, need(key), lo, hi);
  }

  uint64_t unsigned_value(std::string_view key, const json& v, uint64_t lo, uint64_t hi) const {
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0)) {
      fail(key, "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) +
                    ", got " + v.dump());
    }
    const auto n = v.get<uint64_t>();
    if (n < lo || n > hi) {
      fail(key, "value " + std::to_string(n) + " is out of range " + std::to_string(lo) + ".." +
                    std::to_string(hi));
    }
    return n;
  }

  SipKey key16(std::string_view key, const json& v) const {
    if (!v.is_string()) fail(key, "expected a string of 32 hex digits, got " + v.dump());
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() != 32) {
      fail(key, "expected 32 hex digits (16 key bytes as in kernel memory), got " +
                    std::to_string(s.size()) + " characters");
    }
    std::array<uint8_t, 16> bytes{};
    for (size_t i = 0; i < 16; ++i) {
      const int hi = hex_digit(s[2 * i]);
      const int lo = hex_digit(s[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        fail(key, "character " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1) +
                      " is not a hex digit");
      }
      bytes[i] = static_cast<uint8_t>((hi << 4) | lo);
    }
    return SipKey::from_bytes(bytes);
  }

  CookieKeyPair key_pair(std::string_view key) const {
    const json& v = need(key);
    if (!v.is_array() || v.size() != 2) {
      fail(key, "expected an array of two 32-hex-digit keys, got " + v.dump());
    }
    return {key16(key, v[0]), key16(key, v[1])};
  }

 private:
  static int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  const json& doc_;
  std::string_view origin_;
};

std::string to_hex(const SipKey& key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (uint8_t b : key.bytes()) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

}  // namespace

bool HostSecrets::has_uninitialised_keys() const noexcept {
  return syncookie[0].is_zero() || syncookie[1].is_zero() || syncookie6[0].is_zero() ||
         syncookie6[1].is_zero() || ts_key.is_zero();
}

std::string_view ts_offset_name(TsOffsetMode mode) noexcept {
  return mode == TsOffsetMode::kPerConnection ? kPerConnection : kPerHost;
}

HostSecrets parse_secrets(std::string_view json_text, std::string_view origin) {
  json doc;
  try {
    doc = parse_json_strict(json_text);
  } catch (const JsonInputError& e) {  // a repeated key, or a NUL byte in a string
    throw SecretsError("secrets " + std::string(origin) + ": \"" + e.key_path() + "\": " +
                       e.what());
  } catch (const json::exception& e) {  // parse_error, or out_of_range.406 for 1e400
    throw SecretsError("secrets " + std::string(origin) + ": not valid JSON (" + e.what() + ")");
  }
  if (!doc.is_object()) {
    throw SecretsError("secrets " + std::string(origin) +
                       ": expected a JSON object at top level, got " + doc.type_name());
  }
  Reader r(doc, origin);
  for (const auto& [key, value] : doc.items()) {
    bool known = false;
    for (std::string_view k : kKnownKeys) known = known || k == key;
    if (!known) r.fail(key, "unknown key (remove it, or update synwarden to a matching version)");
  }

  HostSecrets s;
  s.syncookie = r.key_pair("syncookie_secret");
  s.syncookie6 = r.key_pair("syncookie6_secret");

  const json& mode = r.need("ts_offset");
  if (mode == kPerConnection) {
    s.ts_offset = TsOffsetMode::kPerConnection;
  } else if (mode == kPerHost) {
    s.ts_offset = TsOffsetMode::kPerHost;
  } else {
    r.fail("ts_offset", "expected \"per-connection\" or \"per-host\", got " + mode.dump());
  }
  const std::string_view key_name =
      s.ts_offset == TsOffsetMode::kPerConnection ? "net_secret" : "ts_secret";
  const std::string_view other_name =
      s.ts_offset == TsOffsetMode::kPerConnection ? "ts_secret" : "net_secret";
  if (r.has(other_name)) {
    r.fail(other_name, "not used with ts_offset \"" + std::string(ts_offset_name(s.ts_offset)) +
                           "\" (that mode needs \"" + std::string(key_name) + "\")");
  }
  s.ts_key = r.key16(key_name, r.need(key_name));

  s.sysctls.tcp_timestamps = static_cast<uint8_t>(r.unsigned_in("tcp_timestamps", 0, 2));
  s.sysctls.tcp_sack = static_cast<uint8_t>(r.unsigned_in("tcp_sack", 0, 1));
  s.sysctls.tcp_window_scaling = static_cast<uint8_t>(r.unsigned_in("tcp_window_scaling", 0, 1));
  s.sysctls.tcp_ecn = static_cast<uint8_t>(r.unsigned_in("tcp_ecn", 0, 5));
  // TCP_MIN_MSS (88) .. the largest value the 16-bit MSS option holds.
  s.mss = static_cast<uint16_t>(r.unsigned_in("mss", 88, 65535));
  s.mss6 = static_cast<uint16_t>(r.unsigned_in("mss6", 88, 65535));
  s.rcv_wscale = static_cast<uint8_t>(r.unsigned_in("rcv_wscale", 0, 14));  // TCP_MAX_WSCALE
  if (r.has("rcv_space")) {
    s.rcv_space = static_cast<uint32_t>(
        r.unsigned_in("rcv_space", 1, static_cast<uint64_t>(std::numeric_limits<int32_t>::max())));
  }
  s.clock.jiffies = r.unsigned_in("jiffies", 0, std::numeric_limits<uint64_t>::max());
  s.clock.hz = static_cast<uint32_t>(r.unsigned_in("hz", 1, HostClock::kMaxHz));
  s.clock.mono_ms = r.unsigned_in("mono_ms", 0, std::numeric_limits<uint64_t>::max());
  if (r.has("outbound_key")) {
    s.outbound_key = r.key16("outbound_key", r.need("outbound_key"));
    if (s.outbound_key->is_zero()) r.fail("outbound_key", "all zero (not a key)");
  }
  return s;
}

HostSecrets load_secrets_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw SecretsError("secrets " + path.string() + ": cannot open (" + std::strerror(err) +
                       "); check the path and that this user may read it");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw SecretsError("secrets " + path.string() + ": read failed");
  }
  return parse_secrets(text.str(), path.string());
}

HostSecrets load_private_secrets_file(const std::filesystem::path& path) {
  constexpr size_t kMaxSecretsFileBytes = 64 * 1024;  // a document is well under 1 KiB
  std::string text;
  try {
    text = read_private_file(path.string(), "secrets file", kMaxSecretsFileBytes);
  } catch (const PrivateFileError& e) {
    throw SecretsError(e.what());
  }
  return parse_secrets(text, path.string());
}

std::string serialize_secrets(const HostSecrets& s) {
  json doc = json::object();
  doc["syncookie_secret"] = json::array({to_hex(s.syncookie[0]), to_hex(s.syncookie[1])});
  doc["syncookie6_secret"] = json::array({to_hex(s.syncookie6[0]), to_hex(s.syncookie6[1])});
  doc["ts_offset"] = std::string(ts_offset_name(s.ts_offset));
  doc[s.ts_offset == TsOffsetMode::kPerConnection ? "net_secret" : "ts_secret"] = to_hex(s.ts_key);
  doc["tcp_timestamps"] = s.sysctls.tcp_timestamps;
  doc["tcp_sack"] = s.sysctls.tcp_sack;
  doc["tcp_window_scaling"] = s.sysctls.tcp_window_scaling;
  doc["tcp_ecn"] = s.sysctls.tcp_ecn;
  doc["mss"] = s.mss;
  doc["mss6"] = s.mss6;
  doc["rcv_wscale"] = s.rcv_wscale;
  if (s.rcv_space != HostSecrets::kDefaultRcvSpace) doc["rcv_space"] = s.rcv_space;
  doc["jiffies"] = s.clock.jiffies;
  doc["hz"] = s.clock.hz;
  doc["mono_ms"] = s.clock.mono_ms;
  if (s.outbound_key) doc["outbound_key"] = to_hex(*s.outbound_key);
  return doc.dump();
}

}  // namespace synwarden
