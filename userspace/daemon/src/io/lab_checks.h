// Set-ups that fail silently and that an operator's first lab (veth pairs in namespaces) walks
// into; the daemon says what is wrong instead of dropping traffic without a word.
//
// - XDP_TX out of a veth lands in its peer's XDP ring, and the kernel schedules the peer to drain
//   it only when the peer runs an XDP program (veth_xdp_flush()). With GRO alone the handshake
//   may complete and every later frame the firewall forwards wait for unrelated traffic: a
//   black hole. veth_peer_warning() checks the peer where this namespace can see it.
// - A veth whose sender keeps TX checksum offload on hands over frames whose TCP checksum is only
//   a partial sum: every SYN fails the firewall's checksum check (dropped_bad_checksum), as the
//   host's kernel would drop a SYN with a wrong checksum. ChecksumWatch notices when such drops
//   dominate and says why they may happen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace synwarden::daemon {

// A warning about interface `name` (ifindex `ifindex`) if it is a veth whose peer has no XDP
// program (or whose peer lives in another namespace, where it cannot be checked); nullopt when
// there is nothing to say.
std::optional<std::string> veth_peer_warning(const std::string& name, int ifindex);

class ChecksumWatch {
 public:
  static constexpr uint64_t kIntervalMs = 5'000;
  static constexpr uint64_t kRepeatMs = 60'000;  // at most one warning a minute
  static constexpr uint64_t kMinimumBad = 100;   // per interval, so stray corrupt frames stay quiet

  // Totals since start of SYNs the workers received and of those dropped for a bad checksum, read
  // at `now_ms`. Returns a warning when, over the last interval, most SYNs had bad checksums.
  std::optional<std::string> observe(uint64_t now_ms, uint64_t syns, uint64_t bad_checksum);
  // When observe() next wants to be called.
  uint64_t next_ms() const noexcept { return last_ms_ + kIntervalMs; }

 private:
  uint64_t last_ms_ = 0;
  uint64_t last_syns_ = 0;
  uint64_t last_bad_ = 0;
  uint64_t warned_ms_ = 0;
  bool primed_ = false;
  bool warned_ = false;
};

}  // namespace synwarden::daemon
