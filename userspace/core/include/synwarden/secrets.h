// Everything the firewall must know about one protected host to answer SYNs as its kernel would:
// the kernel's cookie and timestamp-offset keys, the TCP sysctls that shape the SYN-ACK, the
// host's advertised MSS and window scale, and a sample of its clocks. The agent produces it; the
// firewall and synwardenctl read it. JSON shape (also the agent's wire format):
//
//   {"syncookie_secret": ["<32 hex>", "<32 hex>"], "syncookie6_secret": ["<32 hex>", "<32 hex>"],
//    "ts_offset": "per-connection" | "per-host",
//    "net_secret": "<32 hex>"   (only with per-connection)
//    "ts_secret": "<32 hex>"    (only with per-host),
//    "tcp_timestamps": 1, "tcp_sack": 1, "tcp_window_scaling": 1, "tcp_ecn": 2,
//    "mss": 1460, "mss6": 1440, "rcv_wscale": 7,
//    "jiffies": <u64>, "hz": 250, "mono_ms": <u64>,
//    "rcv_space": 65536         (optional, see HostSecrets::rcv_space)
//    "outbound_key": "<32 hex>" (optional, see HostSecrets::outbound_key)}
//
// Each key is the 16 key bytes as they lie in kernel memory, in hex.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "synwarden/clock.h"
#include "synwarden/cookie.h"
#include "synwarden/siphash.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden {

// The host's net.ipv4.* values that change what its SYN-ACK carries or what its cookie check
// accepts (they apply to IPv6 too).
struct TcpSysctls {
  uint8_t tcp_timestamps = 1;      // 0 off, 1 on with random offsets, 2 on without offsets
  uint8_t tcp_sack = 1;            // 0/1
  uint8_t tcp_window_scaling = 1;  // 0/1
  uint8_t tcp_ecn = 2;             // 0..5; any non-zero value lets a server accept ECN
  friend bool operator==(const TcpSysctls&, const TcpSysctls&) = default;
};

struct HostSecrets {
  // tcp_full_space() of a listener with default buffers: tcp_rmem[1] = 131072 scaled by
  // tcp_win_from_space() to half (tcp_adv_win_scale = 1 on older kernels, the default
  // scaling_ratio of 128/256 on >= 6.5). It sets the SYN-ACK's window (tcp_openreq_init_rwin()).
  static constexpr uint32_t kDefaultRcvSpace = 65536;

  CookieKeyPair syncookie{};   // syncookie_secret[2] (IPv4)
  CookieKeyPair syncookie6{};  // syncookie6_secret[2] (IPv6)
  TsOffsetMode ts_offset = TsOffsetMode::kPerConnection;
  SipKey ts_key{};  // net_secret (per-connection) or ts_secret (per-host)
  TcpSysctls sysctls{};
  uint16_t mss = 1460;    // MSS the host advertises over IPv4 (its route's advmss)
  uint16_t mss6 = 1440;   // same over IPv6
  uint8_t rcv_wscale = 7;  // window scale the host offers (tcp_select_initial_window())
  // The listener's receive space. Only listeners with SO_RCVBUF or a non-default tcp_rmem[1]
  // differ from the default; the agent may send the value it observes as "rcv_space".
  uint32_t rcv_space = kDefaultRcvSpace;
  HostClockSample clock{};
  // The key with which the host's agent stamps the TSval of the host's own outbound SYNs
  // (synwarden/outbound_stamp.h): the firewall forwards a SYN-ACK whose TSecr carries the stamp
  // without charging the SYN-ACK budget. Absent: the agent does not stamp (or is older).
  std::optional<SipKey> outbound_key;

  // True while any cookie or ts_off key is still all zero: the host's kernel fills them lazily on
  // first use, so cookies made with a zero key will stop validating once it does.
  bool has_uninitialised_keys() const noexcept;

  friend bool operator==(const HostSecrets&, const HostSecrets&) = default;
};

// A malformed secrets document. what() names the source and the offending key.
class SecretsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses the JSON document above. `origin` (a path or "agent 192.0.2.7") prefixes every error.
// Rejects missing, unknown, mistyped or out-of-range keys and a ts_offset key that does not
// match the mode. Throws SecretsError.
HostSecrets parse_secrets(std::string_view json_text, std::string_view origin);

// Reads and parses a file. Throws SecretsError (also for I/O failures).
HostSecrets load_secrets_file(const std::filesystem::path& path);

// The same for a file the daemon trusts with a host's keys: it must also be private to this
// user (synwarden/private_file.h: regular, not a symlink, owned by us, mode 0600 or 0400).
// Throws SecretsError naming the problem and the fix.
HostSecrets load_private_secrets_file(const std::filesystem::path& path);

// The JSON document for `secrets`, in the shape parse_secrets() accepts (lower-case hex;
// "rcv_space" only when it differs from the default). Compact, without a trailing newline.
std::string serialize_secrets(const HostSecrets& secrets);

// "per-connection" / "per-host".
std::string_view ts_offset_name(TsOffsetMode mode) noexcept;

}  // namespace synwarden
