#include "kmod_secrets_file.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace synwarden::vmtest {
namespace {

[[noreturn]] void fail(std::string_view what) {
  throw std::runtime_error(std::string(kKmodSecretsPath) + ": " + std::string(what));
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

SipKey parse_key(std::string_view key_name, std::string_view hex) {
  if (hex.size() != 32) fail(std::string(key_name) + ": expected 32 hex digits, got '" +
                             std::string(hex) + "'");
  std::array<uint8_t, 16> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto r = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, bytes[i], 16);
    if (r.ec != std::errc{} || r.ptr != hex.data() + 2 * i + 2)
      fail(std::string(key_name) + ": '" + std::string(hex) + "' is not hex");
  }
  return SipKey::from_bytes(bytes);
}

uint64_t parse_u64(std::string_view key_name, std::string_view text) {
  uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size())
    fail(std::string(key_name) + ": '" + std::string(text) + "' is not an unsigned integer");
  return v;
}

std::string read_whole(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(err) +
                             " (is the module loaded, and are we root?)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

uint64_t read_sysctl(const std::filesystem::path& proc_sys, const char* name, size_t field = 0) {
  const std::filesystem::path path = proc_sys / name;
  const std::string text = read_whole(path);
  std::istringstream in(text);
  uint64_t v = 0;
  for (size_t i = 0; i <= field; ++i) {
    if (!(in >> v)) throw std::runtime_error(path.string() + ": unexpected content '" + text + "'");
  }
  return v;
}

}  // namespace

KmodSecrets parse_kmod_secrets(std::string_view text) {
  KmodSecrets k;
  enum Seen : unsigned {
    kVersion = 1, kV4 = 2, kV6 = 4, kMode = 8, kTsKey = 16, kHz = 32, kJiffies = 64,
    kMonoNs = 128, kMonoMs = 256, kAll = 511
  };
  unsigned seen = 0;
  std::string ts_key_name;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const auto words = split_words(text.substr(pos, end - pos));
    pos = end + 1;
    if (words.empty()) continue;
    const std::string_view key = words[0];
    const auto need = [&](size_t n) {
      if (words.size() != n + 1)
        fail(std::string(key) + ": expected " + std::to_string(n) + " value(s)");
    };
    if (key == "synwarden_secrets") {
      need(1);
      if (parse_u64(key, words[1]) != kKmodFormatVersion)
        fail("format version " + std::string(words[1]) + ", this reader knows " +
             std::to_string(kKmodFormatVersion) + "; update the reader with the module");
      seen |= kVersion;
    } else if (key == "syncookie_secret" || key == "syncookie6_secret") {
      need(2);
      CookieKeyPair& pair = key == "syncookie_secret" ? k.syncookie : k.syncookie6;
      pair = {parse_key(key, words[1]), parse_key(key, words[2])};
      seen |= key == "syncookie_secret" ? kV4 : kV6;
    } else if (key == "ts_offset") {
      need(1);
      if (words[1] == "per-connection") {
        k.ts_offset = TsOffsetMode::kPerConnection;
      } else if (words[1] == "per-host") {
        k.ts_offset = TsOffsetMode::kPerHost;
      } else {
        fail("ts_offset: unknown variant '" + std::string(words[1]) + "'");
      }
      seen |= kMode;
    } else if (key == "net_secret" || key == "ts_secret") {
      need(1);
      k.ts_key = parse_key(key, words[1]);
      ts_key_name = key;
      seen |= kTsKey;
    } else if (key == "hz") {
      need(1);
      k.hz = static_cast<uint32_t>(parse_u64(key, words[1]));
      seen |= kHz;
    } else if (key == "jiffies") {
      need(1);
      k.jiffies = parse_u64(key, words[1]);
      seen |= kJiffies;
    } else if (key == "mono_ns") {
      need(1);
      k.mono_ns = parse_u64(key, words[1]);
      seen |= kMonoNs;
    } else if (key == "mono_ms") {
      need(1);
      k.mono_ms = parse_u64(key, words[1]);
      seen |= kMonoMs;
    } else if (key == "accept_cookies") {
      need(1);
      k.accept_cookies = parse_u64(key, words[1]) != 0;
    } else if (key == "gate_opened") {
      need(1);
      k.gate_opened = parse_u64(key, words[1]);
    }
    // Other keys: added by a newer module of the same format version; ignored on purpose.
  }
  if (seen != kAll) {
    static constexpr std::array<const char*, 9> kNames{
        "synwarden_secrets", "syncookie_secret", "syncookie6_secret", "ts_offset",
        "net_secret/ts_secret", "hz", "jiffies", "mono_ns", "mono_ms"};
    std::string missing;
    for (size_t i = 0; i < kNames.size(); ++i) {
      if (!(seen & (1u << i))) missing += std::string(missing.empty() ? "" : ", ") + kNames[i];
    }
    fail("missing " + missing);
  }
  const char* expected = k.ts_offset == TsOffsetMode::kPerConnection ? "net_secret" : "ts_secret";
  if (ts_key_name != expected)
    fail("ts_offset says " + std::string(ts_offset_name(k.ts_offset)) + " but the file gives " +
         ts_key_name);
  if (k.hz == 0) fail("hz is 0");
  if (k.mono_ms != k.mono_ns / 1000000) fail("mono_ms and mono_ns disagree");
  return k;
}

KmodSecrets read_kmod_secrets(const std::filesystem::path& path) {
  return parse_kmod_secrets(read_whole(path));
}

TcpSysctls read_tcp_sysctls(const std::filesystem::path& proc_sys) {
  TcpSysctls s;
  s.tcp_timestamps = static_cast<uint8_t>(read_sysctl(proc_sys, "net/ipv4/tcp_timestamps"));
  s.tcp_sack = static_cast<uint8_t>(read_sysctl(proc_sys, "net/ipv4/tcp_sack"));
  s.tcp_window_scaling =
      static_cast<uint8_t>(read_sysctl(proc_sys, "net/ipv4/tcp_window_scaling"));
  s.tcp_ecn = static_cast<uint8_t>(read_sysctl(proc_sys, "net/ipv4/tcp_ecn"));
  return s;
}

uint8_t read_rcv_wscale(const std::filesystem::path& proc_sys) {
  const uint64_t space = std::max(read_sysctl(proc_sys, "net/ipv4/tcp_rmem", 2),
                                  read_sysctl(proc_sys, "net/core/rmem_max"));
  // tcp_select_initial_window(): the space is also capped by window_clamp (65535 << 14).
  const uint64_t capped = std::min<uint64_t>(space, uint64_t{0xffff} << 14);
  const int ilog2 = 63 - std::countl_zero(capped | 1);
  return static_cast<uint8_t>(std::clamp(ilog2 - 15, 0, 14));
}

HostSecrets to_host_secrets(const KmodSecrets& k, const TcpSysctls& sysctls, uint16_t mss,
                            uint16_t mss6, uint8_t rcv_wscale) {
  HostSecrets s;
  s.syncookie = k.syncookie;
  s.syncookie6 = k.syncookie6;
  s.ts_offset = k.ts_offset;
  s.ts_key = k.ts_key;
  s.sysctls = sysctls;
  s.mss = mss;
  s.mss6 = mss6;
  s.rcv_wscale = rcv_wscale;
  s.clock = HostClockSample{k.jiffies, k.hz, k.mono_ms};
  return s;
}

}  // namespace synwarden::vmtest
