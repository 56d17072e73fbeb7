// RAII owner of the outbound-stamp tc programs (host_stamp.bpf.c, docs/outbound-stamp.md):
// loads them, adopts or creates the pinned key and SYN table, attaches to tc egress and ingress
// of the configured interfaces and detaches on destruction (egress first, so SYN-ACKs of SYNs
// already stamped are still restored while they arrive).
//
// Used by synwarden-agent in both modes and by the bpf-tier tests. Errors are StampProgramError
// saying what failed on what and what to do; nothing here runs per packet.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "stamp_shared.h"
#include "synwarden/siphash.h"

struct host_stamp_bpf;  // the generated skeleton

namespace synwarden {

class StampProgramError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StampProgramOptions {
  std::vector<std::string> interfaces;  // tc egress + ingress attach points
  // bpffs directory for the pinned key and SYN table (root-only); empty = no pinning (tests).
  std::string pin_dir = "/sys/fs/bpf/synwarden/agent";
  uint32_t syn_table_size = 65536;  // outbound SYNs remembered until their SYN-ACK (LRU)
};

using StampCounters = std::array<uint64_t, SW_SC_COUNT>;
const char* stamp_counter_name(size_t index) noexcept;

class StampProgram {
 public:
  // Loads the programs. The key comes from the pinned map if a previous agent left one (the
  // firewall may still hold it), else it is generated (libsodium randombytes) and pinned.
  explicit StampProgram(const StampProgramOptions& options);
  ~StampProgram();
  StampProgram(const StampProgram&) = delete;
  StampProgram& operator=(const StampProgram&) = delete;

  // Attaches to tc egress and ingress of every interface, replacing our own earlier filters.
  void attach();
  // Detaches (egress first, ingress 1.5 s later) and removes the pins and the pin directory
  // (and its parent) if they are then empty.
  void detach() noexcept;
  // Leaves the filters attached when this object goes away (agent restarts without a gap).
  void keep_attached_after_exit() noexcept { attached_ifindexes_.clear(); }

  const SipKey& key() const noexcept { return key_; }
  bool adopted_pinned_key() const noexcept { return adopted_key_; }
  StampCounters counters() const;
  int egress_fd() const noexcept;
  int ingress_fd() const noexcept;
  int syn_table_fd() const noexcept;

  // Ingress: after the agent's cookie program (priority 1), whose work is independent.
  static constexpr uint32_t kTcHandle = 0x5358;
  static constexpr uint32_t kTcPriority = 2;

 private:
  host_stamp_bpf* skel_ = nullptr;
  StampProgramOptions options_;
  SipKey key_{};
  bool adopted_key_ = false;
  std::vector<int> attached_ifindexes_;
};

// Counters of a running agent's stamp programs through their pinned map (`synwarden-agent stats`).
StampCounters read_pinned_stamp_counters(const std::string& pin_dir);

}  // namespace synwarden
