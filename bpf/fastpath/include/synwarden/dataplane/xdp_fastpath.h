// XdpFastpath: owns synwarden's XDP program (bpf/fastpath/fastpath.bpf.c): loads it from the
// embedded skeleton, pins and adopts its maps, attaches it to one interface, and hands out
// typed views of its maps.
//
// Daemon start-up, in this order (so no frame ever meets a half-configured program):
//
//   auto fp = XdpFastpath::load({.pin_dir = default_pin_dir("eth0")});   // adopts pinned maps
//   fp->settings().write({.firewall_mac = mac, .synack_rate_pps = 20000});
//   for (auto& h : config.hosts) fp->hosts().upsert(h.addr, h.entry);
//   fp->attach(ifindex, {.detach_on_destroy = false});  // atomically replaces our old program
//   for (q : queues) fp->xsks().set(q, xsk_fd[q]);
//
// Restart safety: the XDP attachment is not tied to this process (netlink attach, not a bpf
// link), and the flow/host/settings/stats maps are pinned under pin_dir. A daemon that dies or
// restarts with detach_on_destroy = false leaves the old program forwarding established flows;
// the next load() adopts the same maps and attach() swaps programs without a gap. Only
// SYN/ACK steering pauses while no AF_XDP socket is bound (see LoadOptions::xsk_fail_open).
//
// One instance per pin_dir: load() takes an exclusive flock on the directory and fails if
// another process holds it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "synwarden/dataplane/confirm_candidates.h"
#include "synwarden/dataplane/flow_hint.h"
#include "synwarden/dataplane/host_cookies.h"
#include "synwarden/dataplane/mode_tables.h"
#include "synwarden/dataplane/result.h"
#include "synwarden/dataplane/source_lists.h"
#include "synwarden/dataplane/tables.h"
#include "synwarden/unique_fd.h"

struct fastpath_bpf;  // generated skeleton, private to the implementation

namespace synwarden::dataplane {

// The program's name in the kernel (bpftool prog show), used to recognise our own attachment.
inline constexpr const char* kProgramName = "sw_fastpath";

// "/sys/fs/bpf/synwarden/<ifname>": one pin directory per protected interface.
[[nodiscard]] std::string default_pin_dir(const std::string& ifname);

// Makes sure `dir` exists on a bpffs: mounts bpffs on /sys/fs/bpf if nothing is mounted there
// (Debian does not mount it by default), then creates `dir` (mode 0700) and its parents.
Result<void> ensure_bpffs_dir(const std::string& dir);

struct LoadOptions {
  // Where the maps are pinned and adopted from. Empty: no pinning (tests, verification).
  std::string pin_dir;
  std::uint32_t host_table_size = 4096;
  // ~110 bytes of kernel memory per entry (key, value, LRU bookkeeping).
  std::uint32_t flow_table_size = 1u << 20;
  // Flows the protected hosts opened themselves (learnt from SYN-ACKs), kept apart from the
  // established map so that spoofed SYN-ACKs cannot evict validated flows.
  // Only SYN-ACKs carrying the host agent's stamp (docs/outbound-stamp.md) enter it, so a
  // spoofed flood cannot churn it: size it for the hosts' concurrent outbound connections.
  std::uint32_t outbound_table_size = 1u << 17;
  // Flows of unstamped SYN-ACKs (within the SYN-ACK budget); a spoofed flood churns this one.
  std::uint32_t outbound_unverified_table_size = 1u << 16;
  // 4-tuples of SYNs an auto host forwarded in pass mode, whose first ACK is accepted after a
  // switch to protect (bpf/fastpath/mode.bpf.h); an LRU a flood before the switch churns.
  std::uint32_t pass_syn_table_size = 1u << 17;
  std::uint32_t max_queues = 64;  // XSKMAP slots: at least the NIC's RX queue count
  // No AF_XDP socket on a frame's queue (worker down or restarting): false drops the SYN or
  // ACK (fail closed; clients retransmit), true forwards it to the host unfiltered.
  bool xsk_fail_open = false;
  // Pass mode inserts the flow of every forwarded ACK, so turning protection on later does
  // not break connections that were already open.
  bool learn_in_pass_mode = true;
  // A pinned flow or host map whose key/value layout differs from this build's (an upgrade
  // changed it) is an error; true unpins and recreates it (its contents are then lost).
  // Counters and settings of another layout are always recreated (reported in warnings()).
  bool reset_incompatible_pins = false;
  // Source allow/deny prefixes per family trie (global and per-host lists together); LPM
  // tries take kernel memory only for stored prefixes (measured in bench/RESULTS.md).
  std::uint32_t list_prefixes = 1u << 20;
  // Source prefixes tracked by the per-source SYN-ACK budget (per-CPU LRU: least recently seen
  // prefixes are forgotten, i.e. start again with a full bucket).
  std::uint32_t syn_budget_table_size = 1u << 16;
  // Socket-confirmation candidates the program may report per second, all CPUs together (the
  // per-CPU bucket of confirm.bpf.h); 0 = none reported. Hosts opt in with SW_HC_CONFIRM.
  std::uint64_t candidates_per_s = 2000;
};

enum class AttachMode {
  native,             // driver XDP only
  generic,            // skb XDP only (slow, works on every device)
  native_or_generic,  // native, falling back to generic if the driver lacks XDP support
};

struct AttachOptions {
  AttachMode mode = AttachMode::native_or_generic;
  // An XDP program that is not synwarden's already on the interface is an error unless true.
  bool replace_foreign = false;
  // true: the destructor detaches (tests, clean shutdown). false: the program stays attached
  // after this object and the process are gone (daemon restarts without a forwarding gap).
  bool detach_on_destroy = true;
};

// The typed map views of one loaded program. Held behind a pointer by XdpFastpath so that
// references obtained from hosts() etc. stay valid when the XdpFastpath is moved.
struct FastpathTables {
  HostTable hosts;
  FlowTable flows;
  FlowTable outbound;
  FlowTable outbound_unverified;
  OutboundKeyTable outbound_keys;
  XskTable xsks;
  StatsTable stats;
  SettingsTable settings;
  HostCookieTable host_cookies;
  HostStatsTable host_stats;
  HostSynTable host_syns;
  FlowHint flow_hint;  // marked by `flows` on insert; rebuild_flow_hint() refreshes it
  SourceListTable lists;
  SynBudgetTable syn_budget;
  CandidateRing candidates;  // not pinned: the running daemon's confirmer reads it
};

class XdpFastpath {
 public:
  // Opens the embedded object, applies the options, adopts compatible pinned maps (creating
  // and pinning the missing ones) and loads the program into the kernel. Failure messages
  // include the tail of the verifier log when the verifier refused the program.
  static Result<XdpFastpath> load(const LoadOptions& options);

  XdpFastpath(XdpFastpath&& other) noexcept;
  XdpFastpath& operator=(XdpFastpath&& other) noexcept;
  XdpFastpath(const XdpFastpath&) = delete;
  XdpFastpath& operator=(const XdpFastpath&) = delete;
  ~XdpFastpath();

  // Attaches to `ifindex`. If synwarden's program (ours or an earlier instance's) is already
  // there, it is replaced atomically in the mode it runs in. Returns the mode obtained.
  Result<AttachMode> attach(int ifindex, const AttachOptions& options = {});
  // Detaches if our program is still the one attached; no-op when not attached.
  Result<void> detach();
  // Removes the pins (the maps live on while any program or fd uses them) and the pin
  // directory if it is then empty. For uninstall or a deliberate state reset.
  Result<void> unpin();

  [[nodiscard]] int program_fd() const noexcept;
  [[nodiscard]] std::uint32_t program_id() const noexcept { return prog_id_; }
  [[nodiscard]] int attached_ifindex() const noexcept { return ifindex_; }

  // Valid while this object (or the one it is moved into) lives.
  HostTable& hosts() noexcept { return tables_->hosts; }
  FlowTable& flows() noexcept { return tables_->flows; }
  FlowTable& outbound() noexcept { return tables_->outbound; }
  FlowTable& outbound_unverified() noexcept { return tables_->outbound_unverified; }
  OutboundKeyTable& outbound_keys() noexcept { return tables_->outbound_keys; }
  XskTable& xsks() noexcept { return tables_->xsks; }
  StatsTable& stats() noexcept { return tables_->stats; }
  SettingsTable& settings() noexcept { return tables_->settings; }
  HostCookieTable& host_cookies() noexcept { return tables_->host_cookies; }
  const HostStatsTable& host_stats() const noexcept { return tables_->host_stats; }
  HostSynTable& host_syns() noexcept { return tables_->host_syns; }
  SourceListTable& lists() noexcept { return tables_->lists; }
  SynBudgetTable& syn_budget() noexcept { return tables_->syn_budget; }
  CandidateRing& candidates() noexcept { return tables_->candidates; }
  // The established-flow hint in front of sw_flows (docs/flow-hint.md), this program's own (not
  // pinned). Off (the program looks up every key) until its first rebuild(), which must come
  // after attach(): the program replaced until then inserts flows without marking them here.
  FlowHint& flow_hint() noexcept { return tables_->flow_hint; }

  // Pinned maps that were adopted from an earlier run rather than created ("sw_flows", ...).
  [[nodiscard]] const std::vector<std::string>& adopted_maps() const noexcept { return adopted_; }
  // Non-fatal findings of load() worth logging (e.g. a map recreated on reset).
  [[nodiscard]] const std::vector<std::string>& warnings() const noexcept { return warnings_; }

 private:
  XdpFastpath() = default;
  void destroy() noexcept;

  fastpath_bpf* skel_ = nullptr;
  std::unique_ptr<FastpathTables> tables_;
  UniqueFd pin_lock_;  // flock'ed pin directory
  std::string pin_dir_;
  std::vector<std::string> adopted_;
  std::vector<std::string> warnings_;
  std::uint32_t prog_id_ = 0;
  int ifindex_ = 0;
  std::uint32_t attach_flags_ = 0;  // XDP_FLAGS_*_MODE we attached with
  bool detach_on_destroy_ = true;
};

}  // namespace synwarden::dataplane
