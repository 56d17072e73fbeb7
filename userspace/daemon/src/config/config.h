// The daemon's JSON configuration (/etc/synwarden/synwarden.json): what the operator writes, as
// typed values. Parsing is strict: every key is known, every value is checked, and an error
// names the key path ("protected_hosts[1].mac") and what was expected there. The control plane
// (control_plane.h) re-parses the whole file on reload and every API change through the same
// parser, so nothing reaches the running daemon without passing these checks.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "agent_endpoint.h"
#include "config_lists.h"
#include "host_mode.h"
#include "synwarden/fail_policy.h"
#include "synwarden/ip_address.h"
#include "synwarden/mac_address.h"

namespace synwarden::daemon {

// Thrown for a configuration that cannot be used; what() names the file or key path.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "policy" of a host, as the operator writes it: the fail policy (fail_policy.h: what the workers
// and the XDP program do with the host's SYNs and ACKs while none of its secrets could be loaded),
// and what protection-on does with traffic that is not TCP handshake material (the XDP program
// applies the forward_* bits, carried in dataplane::HostPolicy; pass mode forwards everything).
struct HostPolicy {
  FailPolicy fail = kDefaultFailPolicy;
  bool forward_icmp = true;
  bool forward_udp = true;
  bool forward_other = false;          // other IP protocols (GRE, ESP, SCTP, ...)
  bool forward_tcp_fragments = false;  // fragmented TCP: an evasion technique, real TCP sets DF
  // An ACK of no known flow whose TSecr fits the host's clock and ts_off within this many
  // seconds is a live connection the firewall forgot (reboot, lost pins, ECMP move): learnt and
  // forwarded (docs/flow-recovery.md). 0 = off. A forged TSecr passes with odds ~window/2^32.
  uint32_t timestamp_recovery_s = 300;
  // Unknown ACKs that fail the cookie check and timestamp recovery are confirmed with the
  // host's agent (an established socket on the host: learnt, docs/flow-recovery.md). Unset:
  // on for a host with an agent; true for a host without one is an error.
  std::optional<bool> socket_confirm;

  friend bool operator==(const HostPolicy&, const HostPolicy&) = default;
};

struct ProtectedHostConfig {
  IpAddress address;
  MacAddress mac = {};                 // the host's NIC MAC on the firewall's L2 segment
  std::filesystem::path secrets_file;  // JSON secrets (core secrets loader), re-read periodically
  // Exactly one of secrets_file and agent is set: static secrets, or live ones polled from the
  // host's synwarden-agent (agent_secrets.h).
  std::optional<AgentEndpoint> agent;
  std::vector<uint16_t> ports;         // TCP ports answered with cookies; empty = every port
  // "mode" (host_mode.h); the older "protection": true|false is protect|pass.
  HostMode mode = HostMode::kProtect;
  HostPolicy policy;

  friend bool operator==(const ProtectedHostConfig&, const ProtectedHostConfig&) = default;
};

// The local HTTP API (api_server.h). It has no authentication, so it only ever listens on a
// loopback address: whoever can reach it is already on the firewall box.
inline constexpr uint16_t kDefaultApiPort = 9477;
struct ApiConfig {
  IpAddress address = loopback_v4();
  uint16_t port = kDefaultApiPort;
  uint32_t max_body_bytes = 64 * 1024;  // larger request bodies are refused with 413
  // true: changes made through the API are written back to the config file (atomically), so
  // they survive a restart; false: they are runtime-only and the next reload forgets them.
  bool persist_changes = true;

  static IpAddress loopback_v4() { return IpAddress::v4({127, 0, 0, 1}); }
  friend bool operator==(const ApiConfig&, const ApiConfig&) = default;
};

// AF_XDP attach preference. kAuto walks the ladder zero-copy -> driver copy -> generic.
enum class XskMode : uint8_t { kAuto, kZeroCopy, kDriverCopy, kGeneric };
const char* xsk_mode_name(XskMode mode) noexcept;

// Who answers SYNs and checks cookie ACKs: the AF_XDP workers (C++ engine), or the XDP program
// itself with the same hosts' data (bpf/fastpath/xdp_cookie.bpf.h). Fixed at start.
enum class Datapath : uint8_t { kAfxdp, kXdp };
const char* datapath_name(Datapath datapath) noexcept;

struct Limits {
  uint32_t frames_per_queue = 4096;   // UMEM frames per RX queue (power of two)
  uint32_t frame_size = 4096;         // bytes per UMEM frame: 2048 or 4096
  uint32_t ring_size = 2048;          // descriptors in each of fill/completion/RX/TX (power of two)
  uint32_t batch_size = 64;           // descriptors handled per loop iteration (1..256)
  uint64_t synack_pps_per_queue = 0;  // cookie SYN-ACKs per second per worker, 0 = unlimited
  // SYN-ACKs forwarded to the hosts' own outbound connections (XDP), per firewall; 0 = unlimited.
  // Not unlimited by default: anybody can send SYN-ACKs, and forwarding a spoofed SYN-ACK flood
  // whole would flood the hosts (and the path to them) that the firewall protects.
  uint64_t forwarded_synack_pps = 20000;
  uint32_t flow_table_size = 1u << 20;  // established-map entries (LRU), ~110 bytes each
  // Flows the hosts opened whose SYN-ACK carried their agent's stamp (docs/outbound-stamp.md):
  // out of a spoofed flood's reach, so sized for the hosts' concurrent outbound connections.
  uint32_t outbound_table_size = 1u << 17;
  // Flows of unstamped SYN-ACKs let through within forwarded_synack_pps (LRU).
  uint32_t outbound_unverified_table_size = 1u << 16;
  uint32_t host_table_size = 4096;      // protected-address slots in the XDP hosts map
  // Source-list prefixes per address family (global and per-host, allow and deny together).
  uint32_t list_prefixes = 1u << 20;
  // Source prefixes tracked by synack_budget (per-CPU LRU of token buckets).
  uint32_t synack_budget_table_size = 1u << 16;
  // The established-flow hint in front of the flow table (docs/flow-hint.md). false: the XDP
  // program looks up every SYN and ACK (for A/B measurement, or flows inserted by hand).
  bool flow_hint = true;
  // Socket-confirmation candidates reported per second by each datapath (the XDP program's
  // per-CPU buckets together; the workers' together): what a forged-ACK flood can make the
  // confirmer ask the agents about. 0 = socket confirmation off.
  uint32_t confirm_candidates_per_s = 2000;

  friend bool operator==(const Limits&, const Limits&) = default;
};

struct DaemonConfig {
  std::string interface;
  std::vector<uint32_t> queues;          // empty: every RX queue of the interface
  std::vector<uint32_t> worker_cpus;     // empty: CPU = queue id modulo the allowed CPUs
  // Where the XDP program's maps are pinned; empty: /sys/fs/bpf/synwarden/<interface>.
  std::filesystem::path bpffs_pin_dir;
  bool keep_dataplane_on_exit = true;    // leave XDP program and pinned maps when stopping
  // While no worker socket is bound (daemon stopped with keep_dataplane_on_exit, or starting):
  // false drops SYNs and unknown ACKs (clients retransmit), true forwards them unfiltered.
  bool fail_open_without_workers = false;
  XskMode xsk_mode = XskMode::kAuto;
  // xdp: cookies in the XDP program (1.8-2x the AF_XDP workers' SYN-ACKs per firewall core in
  // bench/RESULTS.md, no skb per SYN-ACK); the workers still take what XDP leaves to them.
  Datapath datapath = Datapath::kXdp;
  uint32_t secrets_reload_interval_ms = 1000;
  Limits limits;
  ApiConfig api;
  AutoModeConfig auto_mode;  // "auto": thresholds of hosts in mode auto
  std::vector<ProtectedHostConfig> protected_hosts;
  SourceLists lists;           // "lists" (config_lists.h)
  SynAckBudget synack_budget;  // "synack_budget"
};

// Parses an already-read JSON document. Throws ConfigError.
DaemonConfig parse_config(const nlohmann::json& document);
// Parses one element of "protected_hosts" (what POST /hosts receives); `path` prefixes errors.
ProtectedHostConfig parse_protected_host(const nlohmann::json& value, const std::string& path);
// The config-file form of a host (what GET /hosts returns and the API writes back): every key,
// defaults included, so the output can be posted again unchanged.
nlohmann::json protected_host_to_json(const ProtectedHostConfig& host);
// Reads and parses `path`. Throws ConfigError (unreadable file, JSON syntax, or a bad value).
DaemonConfig load_config(const std::filesystem::path& path);

}  // namespace synwarden::daemon
