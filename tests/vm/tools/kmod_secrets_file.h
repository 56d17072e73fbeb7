// Reader of /proc/synwarden_secrets (the synwarden_secrets module's text format, specified in
// kmod/README.md) and of the sysctls that complete it into the firewall's HostSecrets.
// Written for the VM tier; the agent's kmod mode is meant to reuse it (see tests/vm/README.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "synwarden/cookie.h"
#include "synwarden/secrets.h"
#include "synwarden/siphash.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden::vmtest {

inline constexpr const char* kKmodSecretsPath = "/proc/synwarden_secrets";
inline constexpr int kKmodFormatVersion = 1;

// One read of the module's file: everything in it, nothing derived.
struct KmodSecrets {
  CookieKeyPair syncookie{};
  CookieKeyPair syncookie6{};
  TsOffsetMode ts_offset = TsOffsetMode::kPerConnection;
  SipKey ts_key{};        // net_secret or ts_secret, as ts_offset says
  uint32_t hz = 0;
  uint64_t jiffies = 0;   // get_jiffies_64(), taken in the same jiffy as mono_ns
  uint64_t mono_ns = 0;   // ktime_get_ns(): CLOCK_MONOTONIC, the TCP timestamp clock
  uint64_t mono_ms = 0;
  bool accept_cookies = false;
  uint64_t gate_opened = 0;
};

// Parses the file's text. Throws std::runtime_error naming the line or key at fault (wrong
// version, missing or malformed key, a ts key that does not match ts_offset).
KmodSecrets parse_kmod_secrets(std::string_view text);

// Reads and parses `path`. Throws std::runtime_error (also for I/O errors, e.g. EPERM).
KmodSecrets read_kmod_secrets(const std::filesystem::path& path = kKmodSecretsPath);

// net.ipv4.tcp_{timestamps,sack,window_scaling,ecn} under `proc_sys` (/proc/sys). Throws.
TcpSysctls read_tcp_sysctls(const std::filesystem::path& proc_sys = "/proc/sys");

// The window scale a listener with default buffers offers: tcp_select_initial_window()'s
// clamp(ilog2(max(tcp_rmem[2], rmem_max)) - 15, 0, 14). Throws on unreadable sysctls.
uint8_t read_rcv_wscale(const std::filesystem::path& proc_sys = "/proc/sys");

// The firewall's view of the host: module file + sysctls + the host's advertised MSS (its
// route's advmss: MTU - 40 for IPv4, MTU - 60 for IPv6).
HostSecrets to_host_secrets(const KmodSecrets& k, const TcpSysctls& sysctls, uint16_t mss,
                            uint16_t mss6, uint8_t rcv_wscale);

}  // namespace synwarden::vmtest
