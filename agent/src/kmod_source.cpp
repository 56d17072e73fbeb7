#include "kmod_source.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

namespace synwarden::agent {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

class LineParser {
 public:
  LineParser(std::string_view origin, size_t line_no) : origin_(origin), line_no_(line_no) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw FactsError(std::string(origin_) + " line " + std::to_string(line_no_) + ": " + what);
  }

  uint64_t number(std::string_view word) const {
    uint64_t v = 0;
    const auto [p, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
    if (ec != std::errc() || p != word.data() + word.size()) fail("expected a number");
    return v;
  }

  // %16phN: 16 bytes as 32 lower-case hex digits, in memory order.
  SipKey key(std::string_view word) const {
    if (word.size() != 32) fail("expected a key of 32 hex digits");
    std::array<uint8_t, 16> bytes{};
    for (size_t i = 0; i < 16; ++i) {
      const auto [p, ec] = std::from_chars(word.data() + 2 * i, word.data() + 2 * i + 2, bytes[i], 16);
      if (ec != std::errc() || p != word.data() + 2 * i + 2) fail("a key is not hexadecimal");
    }
    const SipKey k = SipKey::from_bytes(bytes);
    sodium_memzero(bytes.data(), bytes.size());
    return k;
  }

 private:
  std::string_view origin_;
  size_t line_no_;
};

}  // namespace

KmodReading parse_kmod_file(std::string_view text, std::string_view origin) {
  KmodReading r;
  bool have_version = false, have_v4 = false, have_v6 = false, have_mode = false,
       have_ts_key = false, have_hz = false, have_jiffies = false, have_mono = false,
       have_accept = false;
  std::string ts_key_name;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    const auto w = split_words(line);
    if (w.empty()) continue;
    const LineParser p(origin, line_no);
    const auto need = [&](size_t n) {
      if (w.size() != n) p.fail("\"" + std::string(w[0]) + "\" needs " + std::to_string(n - 1) + " value(s)");
    };
    if (w[0] == "synwarden_secrets") {
      need(2);
      if (p.number(w[1]) != kKmodFormatVersion) {
        p.fail("format version " + std::string(w[1]) + " is not " +
               std::to_string(kKmodFormatVersion) + ": install matching agent and module versions");
      }
      have_version = true;
    } else if (w[0] == "syncookie_secret") {
      need(3);
      r.secrets.syncookie = {p.key(w[1]), p.key(w[2])};
      have_v4 = true;
    } else if (w[0] == "syncookie6_secret") {
      need(3);
      r.secrets.syncookie6 = {p.key(w[1]), p.key(w[2])};
      have_v6 = true;
    } else if (w[0] == "ts_offset") {
      need(2);
      if (w[1] == "per-connection") {
        r.secrets.ts_offset = TsOffsetMode::kPerConnection;
        ts_key_name = "net_secret";
      } else if (w[1] == "per-host") {
        r.secrets.ts_offset = TsOffsetMode::kPerHost;
        ts_key_name = "ts_secret";
      } else {
        p.fail("ts_offset must be per-connection or per-host");
      }
      have_mode = true;
    } else if (w[0] == "net_secret" || w[0] == "ts_secret") {
      need(2);
      if (!have_mode || w[0] != ts_key_name) p.fail(std::string(w[0]) + " does not match ts_offset");
      r.secrets.ts_key = p.key(w[1]);
      have_ts_key = true;
    } else if (w[0] == "hz") {
      need(2);
      const uint64_t hz = p.number(w[1]);
      if (hz == 0 || hz > HostClock::kMaxHz) p.fail("implausible hz");
      r.secrets.clock.hz = static_cast<uint32_t>(hz);
      have_hz = true;
    } else if (w[0] == "jiffies") {
      need(2);
      r.secrets.clock.jiffies = p.number(w[1]);
      have_jiffies = true;
    } else if (w[0] == "mono_ms") {
      need(2);
      r.secrets.clock.mono_ms = p.number(w[1]);
      have_mono = true;
    } else if (w[0] == "accept_cookies") {
      need(2);
      r.accept_cookies = p.number(w[1]) != 0;
      have_accept = true;
    } else if (w[0] == "gate_opened") {
      need(2);
      r.gate_opened = p.number(w[1]);
    }
    // Other lines (mono_ns, additions of later module versions of the same format) are
    // informational.
  }
  const auto missing = [&](bool have, const char* what) {
    if (!have) throw FactsError(std::string(origin) + ": no \"" + what + "\" line");
  };
  missing(have_version, "synwarden_secrets");
  missing(have_v4, "syncookie_secret");
  missing(have_mode, "ts_offset");
  missing(have_ts_key, ts_key_name.c_str());
  missing(have_hz, "hz");
  missing(have_jiffies, "jiffies");
  missing(have_mono, "mono_ms");
  missing(have_accept, "accept_cookies");
  if (!have_v6) {
    // A kernel without IPv6 has no syncookie6_secret. The firewall refuses all-zero keys, and no
    // IPv6 cookie can ever reach this host, so any random pair stands in.
    randombytes_buf(&r.secrets.syncookie6, sizeof r.secrets.syncookie6);
  }
  return r;
}

KmodSecretSource::KmodSecretSource(const Config& config, LogFn log)
    : config_(config), log_(std::move(log)), facts_(read_host_facts(config.interfaces.front())) {
  const KmodReading r = read();
  accept_cookies_ = r.accept_cookies;
  ts_variant_ = std::string(ts_offset_name(r.secrets.ts_offset));
  if (!accept_cookies_) {
    log_("warning: " + config_.kmod_file + " says accept_cookies 0: the host kernel refuses cookie "
         "ACKs it did not send, so connections through the firewall will fail; load the module "
         "with accept_cookies=1");
  }
}

KmodReading KmodSecretSource::read() const {
  const int fd = ::open(config_.kmod_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw FactsError("cannot open " + config_.kmod_file + ": " + std::strerror(errno) +
                     " (is the synwarden_secrets module loaded? the agent must run as root)");
  }
  std::array<char, 2048> buf{};
  size_t len = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
    if (len == buf.size()) break;
  }
  ::close(fd);
  std::optional<KmodReading> r;
  try {
    r = parse_kmod_file(std::string_view(buf.data(), len), config_.kmod_file);
  } catch (...) {
    sodium_memzero(buf.data(), buf.size());
    throw;
  }
  sodium_memzero(buf.data(), buf.size());
  return *r;
}

HostSecrets KmodSecretSource::current() {
  KmodReading r = read();
  HostSecrets s = r.secrets;
  s.sysctls = facts_.sysctls;
  s.mss = facts_.mss;
  s.mss6 = facts_.mss6;
  s.rcv_wscale = facts_.rcv_wscale;
  sodium_memzero(&r, sizeof r);
  return s;
}

void KmodSecretSource::maintain(uint64_t) {
  try {
    facts_ = read_host_facts(config_.interfaces.front());
  } catch (const FactsError& e) {
    log_(std::string("warning: keeping the previous host settings: ") + e.what());
  }
}

std::string KmodSecretSource::describe() const {
  return "mode kmod: " + config_.kmod_file + " (timestamp offsets " + ts_variant_ +
         ", accept_cookies " + (accept_cookies_ ? "1" : "0") + "); window scale " +
         std::to_string(facts_.rcv_wscale) + ", MSS " + std::to_string(facts_.mss) + "/" +
         std::to_string(facts_.mss6) + " (MTU " + std::to_string(facts_.mtu) + ")";
}

}  // namespace synwarden::agent
