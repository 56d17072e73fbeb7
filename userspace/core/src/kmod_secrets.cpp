#include "synwarden/kmod_secrets.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <type_traits>
#include <vector>

namespace synwarden {
namespace {

static_assert(std::is_trivially_copyable_v<KmodSecrets>,
              "KmodSecrets is wiped with sodium_memzero by its holders");

// The module's file is about 400 bytes; anything near this is not that file.
constexpr size_t kMaxFileBytes = 4096;

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

// The lines the format defines, in file order; `seen` is a bit set over this table.
enum Field : unsigned {
  kVersion, kSyncookie, kSyncookie6, kTsOffset, kNetSecret, kTsSecret, kHz, kJiffies, kMonoNs,
  kMonoMs, kAcceptCookies, kGateOpened, kFieldCount
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames{
    "synwarden_secrets", "syncookie_secret", "syncookie6_secret", "ts_offset", "net_secret",
    "ts_secret",         "hz",               "jiffies",           "mono_ns",   "mono_ms",
    "accept_cookies",    "gate_opened"};
// Values after the name.
constexpr std::array<size_t, kFieldCount> kFieldValues{1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1};

// Parses one line's values. Messages carry the origin, line number and field name only.
class LineReader {
 public:
  LineReader(std::string_view origin, size_t line_no, std::string_view field)
      : origin_(origin), line_no_(line_no), field_(field) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw KmodSecretsError(std::string(origin_) + " line " + std::to_string(line_no_) + ": " +
                           std::string(field_) + ": " + what);
  }

  uint64_t number(std::string_view word) const {
    uint64_t v = 0;
    const auto [p, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
    if (ec == std::errc::result_out_of_range) fail("number out of range");
    if (ec != std::errc() || p != word.data() + word.size()) fail("expected an unsigned number");
    return v;
  }

  // %16phN in the module: the 16 bytes of a siphash_key_t as they lie in memory, lower-case hex.
  SipKey key(std::string_view word) const {
    if (word.size() != 32) fail("expected a key of 32 hex digits");
    std::array<uint8_t, 16> bytes{};
    for (size_t i = 0; i < bytes.size(); ++i) {
      const char* first = word.data() + 2 * i;
      const auto [p, ec] = std::from_chars(first, first + 2, bytes[i], 16);
      if (ec != std::errc() || p != first + 2) {
        sodium_memzero(bytes.data(), bytes.size());
        fail("a key is not hexadecimal");
      }
    }
    const SipKey k = SipKey::from_bytes(bytes);
    sodium_memzero(bytes.data(), bytes.size());
    return k;
  }

  SipKey nonzero_key(std::string_view word) const {
    const SipKey k = key(word);
    if (k.is_zero()) {
      fail("the key is all zero: the kernel has not created it, although the module forces that "
           "at load; reload the module and check its kernel log");
    }
    return k;
  }

 private:
  std::string_view origin_;
  size_t line_no_;
  std::string_view field_;
};

// Wipes a buffer that held the file's text when the scope ends, whatever way it ends.
class WipeOnExit {
 public:
  WipeOnExit(void* p, size_t n) : p_(p), n_(n) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { sodium_memzero(p_, n_); }

 private:
  void* p_;
  size_t n_;
};

std::vector<uint64_t> read_sysctl_numbers(const std::filesystem::path& path, size_t expected) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    throw HostSysctlError("cannot read " + path.string() + ": " + std::strerror(err));
  }
  std::vector<uint64_t> out;
  uint64_t v = 0;
  while (in >> v) out.push_back(v);
  if (!in.eof() || out.size() != expected) {
    throw HostSysctlError(path.string() + ": expected " + std::to_string(expected) +
                          " unsigned number(s), found " + std::to_string(out.size()) +
                          (in.eof() ? "" : " and then something else"));
  }
  return out;
}

uint8_t read_small_sysctl(const std::filesystem::path& path, uint64_t max) {
  const uint64_t v = read_sysctl_numbers(path, 1).front();
  if (v > max) {
    throw HostSysctlError(path.string() + ": value " + std::to_string(v) +
                          " is outside 0.." + std::to_string(max) + ", which this version knows");
  }
  return static_cast<uint8_t>(v);
}

}  // namespace

KmodSecrets parse_kmod_secrets(std::string_view text, std::string_view origin) {
  KmodSecrets k;
  unsigned seen = 0;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    const std::vector<std::string_view> w = split_words(line);
    if (line_no == 1 && (w.empty() || w[0] != kFieldNames[kVersion])) {
      throw KmodSecretsError(std::string(origin) +
                             ": does not start with \"synwarden_secrets <version>\"; it is not "
                             "the synwarden_secrets module's file");
    }
    if (w.empty()) continue;
    const auto known = std::find(kFieldNames.begin(), kFieldNames.end(), w[0]);
    if (known == kFieldNames.end()) continue;  // a later module's addition to format 1
    const auto field = static_cast<Field>(known - kFieldNames.begin());
    const LineReader r(origin, line_no, w[0]);
    if (seen & (1u << field)) r.fail("appears twice");
    seen |= 1u << field;
    if (w.size() != kFieldValues[field] + 1) {
      r.fail("expected " + std::to_string(kFieldValues[field]) + " value(s), found " +
             std::to_string(w.size() - 1));
    }
    switch (field) {
      case kVersion:
        if (r.number(w[1]) != kKmodFormatVersion) {
          r.fail("format version " + std::string(w[1]) + " is not the " +
                 std::to_string(kKmodFormatVersion) +
                 " this program reads: install the agent and module of the same release");
        }
        break;
      case kSyncookie:
        k.syncookie = {r.nonzero_key(w[1]), r.nonzero_key(w[2])};
        break;
      case kSyncookie6:
        k.syncookie6 = {r.nonzero_key(w[1]), r.nonzero_key(w[2])};
        k.has_ipv6 = true;
        break;
      case kTsOffset:
        if (w[1] == "per-connection") {
          k.ts_offset = TsOffsetMode::kPerConnection;
        } else if (w[1] == "per-host") {
          k.ts_offset = TsOffsetMode::kPerHost;
        } else {
          r.fail("expected per-connection or per-host");
        }
        break;
      case kNetSecret:
        // net_secret also keys the host's ISNs; the kernel creates it on its first connection
        // and the module forces that, so zero is never legitimate.
        k.ts_key = r.nonzero_key(w[1]);
        break;
      case kTsSecret:
        k.ts_key = r.key(w[1]);  // zero while tcp_timestamps != 1 (see KmodSecrets)
        break;
      case kHz: {
        const uint64_t hz = r.number(w[1]);
        if (hz == 0 || hz > HostClock::kMaxHz) r.fail("implausible HZ " + std::string(w[1]));
        k.hz = static_cast<uint32_t>(hz);
        break;
      }
      case kJiffies:
        k.jiffies = r.number(w[1]);
        break;
      case kMonoNs:
        k.mono_ns = r.number(w[1]);
        break;
      case kMonoMs:
        k.mono_ms = r.number(w[1]);
        break;
      case kAcceptCookies: {
        const uint64_t v = r.number(w[1]);
        if (v > 1) r.fail("expected 0 or 1");
        k.accept_cookies = v == 1;
        break;
      }
      case kGateOpened:
        k.gate_opened = r.number(w[1]);
        break;
      case kFieldCount:
        break;
    }
  }

  if (line_no == 0) throw KmodSecretsError(std::string(origin) + ": empty");
  const bool per_connection = k.ts_offset == TsOffsetMode::kPerConnection;
  const Field ts_field = per_connection ? kNetSecret : kTsSecret;
  const Field other_ts_field = per_connection ? kTsSecret : kNetSecret;
  if ((seen & (1u << kTsOffset)) != 0 && (seen & (1u << other_ts_field)) != 0) {
    throw KmodSecretsError(std::string(origin) + ": has a " +
                           std::string(kFieldNames[other_ts_field]) + " line, but ts_offset " +
                           std::string(ts_offset_name(k.ts_offset)) + " is keyed by " +
                           std::string(kFieldNames[ts_field]));
  }
  std::string missing;
  for (unsigned f = 0; f < kFieldCount; ++f) {
    // syncookie6_secret exists only with CONFIG_IPV6; only one of the timestamp keys exists.
    if (f == kSyncookie6 || f == other_ts_field || (seen & (1u << f)) != 0) continue;
    missing += (missing.empty() ? "" : ", ") + std::string(kFieldNames[f]);
  }
  if (!missing.empty()) {
    throw KmodSecretsError(std::string(origin) + ": no line for " + missing +
                           " (a truncated read, or a module of another release)");
  }
  if (k.mono_ms != k.mono_ns / 1'000'000) {
    throw KmodSecretsError(std::string(origin) +
                           ": mono_ms is not mono_ns / 10^6; the clock sample is inconsistent");
  }
  return k;
}

KmodSecrets read_kmod_secrets(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string hint;
    if (err == ENOENT) {
      hint = " (is the synwarden_secrets module loaded? `modprobe synwarden_secrets`, package "
             "synwarden-dkms)";
    } else if (err == EACCES || err == EPERM) {
      hint = " (the file is root-only and also needs CAP_NET_ADMIN: run as root)";
    }
    throw KmodSecretsError("cannot open " + path + ": " + std::strerror(err) + hint);
  }
  std::array<char, kMaxFileBytes> buf;
  const WipeOnExit wipe(buf.data(), buf.size());
  size_t len = 0;
  int read_errno = 0;
  while (len < buf.size()) {
    const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_errno = errno;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  ::close(fd);
  if (read_errno != 0) {
    throw KmodSecretsError("cannot read " + path + ": " + std::strerror(read_errno));
  }
  if (len == buf.size()) {
    throw KmodSecretsError(path + ": larger than " + std::to_string(kMaxFileBytes) +
                           " bytes; it is not the synwarden_secrets module's file");
  }
  return parse_kmod_secrets(std::string_view(buf.data(), len), path);
}

TcpSysctls read_tcp_sysctls(const std::filesystem::path& proc_sys) {
  const std::filesystem::path ipv4 = proc_sys / "net/ipv4";
  TcpSysctls s;
  s.tcp_timestamps = read_small_sysctl(ipv4 / "tcp_timestamps", 2);
  s.tcp_sack = read_small_sysctl(ipv4 / "tcp_sack", 1);
  s.tcp_window_scaling = read_small_sysctl(ipv4 / "tcp_window_scaling", 1);
  // 0..2 on 6.1; later kernels add AccECN modes up to 5 (the secrets document's range).
  s.tcp_ecn = read_small_sysctl(ipv4 / "tcp_ecn", 5);
  return s;
}

uint8_t tcp_rcv_wscale(uint64_t tcp_rmem_max, uint64_t rmem_max) noexcept {
  // tcp_select_initial_window(): both sysctls are u32 there (max_t(u32, ...)), and a window
  // clamp of 0 becomes U16_MAX << TCP_MAX_WSCALE.
  constexpr uint64_t kU32Max = 0xffffffff;
  constexpr uint64_t kWindowClamp = uint64_t{0xffff} << 14;
  const uint64_t space =
      std::min(std::max(std::min(tcp_rmem_max, kU32Max), std::min(rmem_max, kU32Max)),
               kWindowClamp);
  if (space == 0) return 0;
  const int ilog2 = static_cast<int>(std::bit_width(space)) - 1;
  return static_cast<uint8_t>(std::clamp(ilog2 - 15, 0, 14));
}

bool rmem_max_hidden(const std::filesystem::path& proc_sys) {
  std::error_code ec;
  return !std::filesystem::exists(proc_sys / "net/core/rmem_max", ec) &&
         std::filesystem::exists(proc_sys / "net/core/somaxconn", ec);
}

uint8_t read_rcv_wscale(const std::filesystem::path& proc_sys) {
  const uint64_t tcp_rmem_max = read_sysctl_numbers(proc_sys / "net/ipv4/tcp_rmem", 3)[2];
  const uint64_t rmem_max = rmem_max_hidden(proc_sys)
                                ? kDefaultRmemMax
                                : read_sysctl_numbers(proc_sys / "net/core/rmem_max", 1).front();
  return tcp_rcv_wscale(tcp_rmem_max, rmem_max);
}

KmodStandIns KmodStandIns::random() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  KmodStandIns s;
  const auto fill = [](SipKey& key) {
    do {
      randombytes_buf(&key, sizeof key);
    } while (key.is_zero());
  };
  fill(s.syncookie6[0]);
  fill(s.syncookie6[1]);
  fill(s.ts_key);
  return s;
}

HostSecrets to_host_secrets(const KmodSecrets& k, const TcpSysctls& sysctls, uint16_t mss,
                            uint16_t mss6, uint8_t rcv_wscale, const KmodStandIns& stand_ins) {
  HostSecrets s;
  s.syncookie = k.syncookie;
  s.syncookie6 = k.has_ipv6 ? k.syncookie6 : stand_ins.syncookie6;
  s.ts_offset = k.ts_offset;
  s.ts_key = k.ts_key;
  if (s.ts_key.is_zero()) {
    // Only a per-host ts_secret can be zero here (parse_kmod_secrets() refuses a zero
    // net_secret); it is unused while tcp_timestamps != 1 (secure_tcp_ts_off() returns 0).
    if (sysctls.tcp_timestamps == 1) {
      throw KmodSecretsError(
          "ts_secret is still zero although net.ipv4.tcp_timestamps is 1; the module creates it "
          "on its next read, so the next reply will carry it");
    }
    s.ts_key = stand_ins.ts_key;
  }
  s.sysctls = sysctls;
  s.mss = mss;
  s.mss6 = mss6;
  s.rcv_wscale = rcv_wscale;
  s.clock = k.clock();
  return s;
}

}  // namespace synwarden
