// RAII owner of the protected host's tc program (host_cookie.bpf.c): loads it from the embedded
// skeleton, reuses or creates the pinned key-state map, fills the protected-port set, attaches
// to tc ingress on the configured interfaces and detaches on destruction.
//
// Used by synwarden-agent in BPF mode, and by the tests that run the program on crafted frames.
// Start-up errors are exceptions (HostProgramError) whose message says what failed on what and
// what to do; nothing here runs per packet.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "host_shared.h"
#include "synwarden/cookie.h"
#include "synwarden/siphash.h"

struct host_cookie_bpf;   // the generated skeleton

namespace synwarden {

class HostProgramError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One generation of the agent's keys (struct sw_agent_keyset).
struct HostKeySet {
  CookieKeyPair cookie_v4{};
  CookieKeyPair cookie_v6{};
  SipKey ts_key{};
  uint64_t generation = 0;      // 0 = empty slot
  uint64_t created_ns = 0;      // CLOCK_MONOTONIC
  uint64_t valid_until_ns = 0;  // CLOCK_MONOTONIC; 0 = no limit
  friend bool operator==(const HostKeySet&, const HostKeySet&) = default;
};

// Everything the program reads per ACK (struct sw_agent_state).
struct HostKeyState {
  HostKeySet current;
  HostKeySet previous;
  uint8_t rcv_wscale = 7;
  uint8_t tcp_timestamps = 1;
  friend bool operator==(const HostKeyState&, const HostKeyState&) = default;
};

struct HostProgramOptions {
  std::vector<std::string> interfaces;   // tc ingress attach points
  std::vector<uint16_t> ports;           // protected listening ports (host order)
  // bpffs directory for the pinned state (root-only); empty = do not pin (tests).
  std::string pin_dir = "/sys/fs/bpf/synwarden/agent";
};

using HostCounters = std::array<uint64_t, SW_HC_COUNT>;
// Metric label of each counter ("assigned", "cookie_invalid", ...).
const char* host_counter_name(size_t index) noexcept;

class HostProgram {
 public:
  // Loads the program. With a pin_dir, mounts bpffs on /sys/fs/bpf if nothing is mounted there,
  // creates the directory (0700) and reuses a pinned state map of the same layout, so keys
  // survive an agent restart. Does not attach yet.
  explicit HostProgram(const HostProgramOptions& options);
  ~HostProgram();   // detaches from every interface it attached to
  HostProgram(const HostProgram&) = delete;
  HostProgram& operator=(const HostProgram&) = delete;

  // The key state found in the pinned map at load time, if any.
  std::optional<HostKeyState> read_state() const;
  // Replaces the whole state in one map update (readers see old or new, never a mix).
  void write_state(const HostKeyState& state);

  // Attaches to tc ingress of every configured interface, replacing a filter a previous agent
  // left there (same handle and priority).
  void attach();
  void detach() noexcept;
  // Leaves the filters in place when this object goes away: the program keeps running with its
  // pinned state until a new agent replaces it (restart without a gap in cookie acceptance).
  void keep_attached_after_exit() noexcept { attached_ifindexes_.clear(); }

  // Counters summed over CPUs.
  HostCounters counters() const;
  // The last hand-over record of each possible CPU (index = CPU). A caller that wants the
  // decision for one ACK compares `seq` before and after.
  std::vector<sw_host_decision> last_decisions() const;

  int program_fd() const noexcept;
  bool reused_pinned_state() const noexcept { return reused_pinned_state_; }

  // The tc filter identity the agent uses on every interface.
  static constexpr uint32_t kTcHandle = 0x5357;   // "SW"
  static constexpr uint32_t kTcPriority = 1;

 private:
  void pin_map_file(const char* name);

  host_cookie_bpf* skel_ = nullptr;
  HostProgramOptions options_;
  std::vector<int> attached_ifindexes_;
  bool reused_pinned_state_ = false;
};

// Reads the counters of a running agent's program through its pinned counter map (for
// `synwarden-agent stats`). Throws HostProgramError if nothing is pinned there.
HostCounters read_pinned_counters(const std::string& pin_dir);

}  // namespace synwarden
