// The protected host's side of kmod mode: the one reader of the synwarden_secrets module's file
// (/proc/synwarden_secrets, format version 1, specified in kmod/README.md and written by
// kmod/procfile.c) and of the host settings that complete it into the firewall's HostSecrets
// (TCP sysctls, window scale). Used by synwarden-agent's kmod mode and by the VM tier's guest
// tools, so both read the module exactly alike.
//
//   synwarden_secrets 1
//   syncookie_secret <32 hex> <32 hex>
//   syncookie6_secret <32 hex> <32 hex>     (absent on kernels without CONFIG_IPV6)
//   ts_offset per-connection|per-host
//   net_secret <32 hex>                     (ts_secret with per-host)
//   hz <n>
//   jiffies <n>
//   mono_ns <n>
//   mono_ms <n>
//   accept_cookies 0|1
//   gate_opened <n>
//
// Errors name the file, the line number and the field, never a key's value: the file holds the
// host's cookie keys and the key of its initial sequence numbers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "synwarden/clock.h"
#include "synwarden/cookie.h"
#include "synwarden/secrets.h"
#include "synwarden/siphash.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden {

inline constexpr const char* kKmodSecretsPath = "/proc/synwarden_secrets";
// The module's acceptance gate (module parameter accept_cookies, root-only, 0|1).
inline constexpr const char* kKmodGatePath =
    "/sys/module/synwarden_secrets/parameters/accept_cookies";
inline constexpr unsigned kKmodFormatVersion = 1;

// The module's file is missing, unreadable or not in the expected format.
class KmodSecretsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A TCP sysctl is unreadable or out of the range this code knows.
class HostSysctlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One read of the module's file: everything in it, nothing derived. Trivially copyable, so
// holders wipe it with sodium_memzero() once done.
struct KmodSecrets {
  CookieKeyPair syncookie{};    // syncookie_secret[2]
  bool has_ipv6 = false;        // the kernel has IPv6 (a syncookie6_secret line)
  CookieKeyPair syncookie6{};   // syncookie6_secret[2]; zero without IPv6
  TsOffsetMode ts_offset = TsOffsetMode::kPerConnection;
  // net_secret (per-connection) or ts_secret (per-host). A per-host kernel creates ts_secret
  // only once net.ipv4.tcp_timestamps is 1 (secure_tcp_ts_off()), so it may be zero then.
  SipKey ts_key{};
  uint32_t hz = 0;
  uint64_t jiffies = 0;   // get_jiffies_64(), in the same jiffy as mono_ns
  uint64_t mono_ns = 0;   // ktime_get_ns(): CLOCK_MONOTONIC, the TCP timestamp clock
  uint64_t mono_ms = 0;   // mono_ns / 10^6
  bool accept_cookies = false;
  uint64_t gate_opened = 0;

  HostClockSample clock() const noexcept { return {jiffies, hz, mono_ms}; }
};

// Parses the file's text. Refuses: a first line other than "synwarden_secrets <n>", another
// format version, a missing or repeated line, a line with the wrong number of fields, a key that
// is not 32 hex digits, an all-zero cookie key or net_secret (the module forces their creation at
// load, so zero means something is wrong), a timestamp key that does not match ts_offset, hz
// outside 1..HostClock::kMaxHz, and mono_ms != mono_ns / 10^6. Unknown lines are ignored (later
// modules may add lines within the same format version). `origin` prefixes every error.
// Throws KmodSecretsError.
KmodSecrets parse_kmod_secrets(std::string_view text, std::string_view origin = kKmodSecretsPath);

// Reads and parses the file; the raw text is wiped after parsing. Errors say what to do (load
// the module, run as root). Throws KmodSecretsError.
KmodSecrets read_kmod_secrets(const std::string& path = kKmodSecretsPath);

// net.ipv4.tcp_{timestamps,sack,window_scaling,ecn} under `proc_sys` (normally /proc/sys of the
// caller's network namespace). Throws HostSysctlError naming the file.
TcpSysctls read_tcp_sysctls(const std::filesystem::path& proc_sys = "/proc/sys");

// tcp_select_initial_window() for a listener with default buffers, no SO_RCVBUF, no window clamp
// and no route window metric: space = min(max(tcp_rmem[2], rmem_max), U16_MAX << TCP_MAX_WSCALE),
// rcv_wscale = clamp(ilog2(space) - 15, 0, TCP_MAX_WSCALE).
uint8_t tcp_rcv_wscale(uint64_t tcp_rmem_max, uint64_t rmem_max) noexcept;

// net.core.rmem_max's default (SK_RMEM_MAX on 64-bit Linux: 256 packets of 832 bytes).
inline constexpr uint64_t kDefaultRmemMax = 212992;

// True when `proc_sys` is the view of a network namespace other than the initial one on a kernel
// that keeps net.core.rmem_max global and shows it in the initial namespace only (Linux 6.1 does:
// net/core is there, with per-namespace entries such as somaxconn, but rmem_max is not). The
// kernel still applies the global value there; this process cannot read it.
bool rmem_max_hidden(const std::filesystem::path& proc_sys = "/proc/sys");

// tcp_rcv_wscale() of net.ipv4.tcp_rmem[2] and net.core.rmem_max under `proc_sys`. Where
// rmem_max_hidden(), kDefaultRmemMax stands in for rmem_max (right unless the initial namespace
// raised rmem_max above tcp_rmem[2]; callers say so in their log).
// Throws HostSysctlError naming the file.
uint8_t read_rcv_wscale(const std::filesystem::path& proc_sys = "/proc/sys");

// Keys the firewall must be given although the host's kernel has none: syncookie6_secret on a
// kernel without IPv6 (no IPv6 SYN can reach it), ts_secret of a per-host kernel while
// tcp_timestamps != 1 (ts_off is 0 then, the engine never uses the key). The firewall refuses
// all-zero keys as "not initialised yet", so random stand-ins take their place. Make them once
// per process: the firewall should see the same secrets on every poll.
struct KmodStandIns {
  CookieKeyPair syncookie6{};
  SipKey ts_key{};
  static KmodStandIns random();
};

// The firewall's view of the host: the module's keys and clock sample, the sysctls, the MSS the
// host advertises (its route's advmss: MTU - 40 for IPv4, MTU - 60 for IPv6) and its window
// scale; stand-ins where the kernel has no key (see KmodStandIns). Throws KmodSecretsError when
// a per-host ts_secret is still zero although tcp_timestamps is 1 (the module creates it on the
// next read; a reply with it would be wrong).
HostSecrets to_host_secrets(const KmodSecrets& k, const TcpSysctls& sysctls, uint16_t mss,
                            uint16_t mss6, uint8_t rcv_wscale, const KmodStandIns& stand_ins);

}  // namespace synwarden
