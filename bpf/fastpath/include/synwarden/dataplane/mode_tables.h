// sw_host_syns: SYNs per auto-mode host counted by the XDP program (bpf/fastpath/mode.bpf.h), per
// CPU. The daemon's auto-mode controller creates a host's entry when the host goes to auto
// (no entry, no count), reads the sum every poll and removes it when the host leaves auto.
// Control-plane use only: every call is a syscall.
#pragma once

#include <cstdint>
#include <utility>

#include "synwarden/dataplane/result.h"
#include "synwarden/dataplane/types.h"
#include "synwarden/unique_fd.h"

namespace synwarden::dataplane {

class HostSynTable {
 public:
  HostSynTable(UniqueFd fd, unsigned possible_cpus) : fd_(std::move(fd)), cpus_(possible_cpus) {}

  // Starts counting `addr`'s SYNs (an existing count is kept: the counter is monotonic).
  Result<void> track(const IpAddress& addr);
  // Stops counting; an address that is not tracked is not an error.
  Result<void> untrack(const IpAddress& addr);
  // SYNs counted since track(), summed over CPUs. ENOENT if not tracked.
  Result<std::uint64_t> read(const IpAddress& addr) const;

  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  unsigned cpus_;
};

}  // namespace synwarden::dataplane
