// Per-protected-host packet counters of the AF_XDP workers (plus, through ExternalCounts, the XDP
// cookie datapath's own per-host counters), for `synwarden_packets_total{host=…}`
// and `synwardenctl top`. Each worker writes only its own HostCounterArea (single writer, relaxed
// load + store through std::atomic_ref: a plain add, no lock prefix), one cache-line-aligned block per host
// slot, so two workers never share a cache line and a flood on one host never touches another
// host's line. The control thread reads the areas and sums them.
//
// Slots: the control plane gives each configured host a slot (HostCounters::acquire) and puts it
// in the worker snapshot (HostEntry::counter_slot). A slot freed by a removed host may be reused
// later; its counts at reuse time become the new host's baseline, so a host's counters start at
// zero and only ever grow while it exists (Prometheus counter semantics).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace synwarden::daemon {

// X(enum suffix, label, help). Two families: what reached the workers ("received"), and what they
// decided (the disjoint "outcome" reasons, which sum to the frames handled).
#define SW_HOST_COUNTERS(X)                                                                   \
  X(kSynReceived, "syn", "SYNs for the host that reached a worker")                          \
  X(kAckReceived, "ack", "ACKs for the host that reached a worker (cookie check)")           \
  X(kSynAck, "synack", "SYNs answered with a cookie SYN-ACK")                                \
  X(kAckValid, "ack_valid", "ACKs with a valid cookie: flow learnt, forwarded to the host")  \
  X(kAckInvalid, "ack_invalid", "ACKs dropped: wrong, expired or inconsistent cookie")      \
  X(kForwarded, "forwarded", "frames forwarded without a cookie (pass mode, fail open, "     \
                             "unprotected port)")                                            \
  X(kRateLimited, "rate_limited", "SYNs dropped unanswered: over limits.synack_pps_per_queue") \
  X(kDropped, "dropped", "frames dropped otherwise (fail closed, RST/FIN, bad flags, "       \
                         "bad checksum, SYN-ACK did not fit)")                               \
  X(kShed, "shed", "SYNs dropped unanswered while the worker's RX ring was backing up "      \
                   "(the worker is saturated; no limit is involved)")

enum class HostCounter : uint8_t {
#define SW_HOST_COUNTER_ENUM(name, label, help) name,
  SW_HOST_COUNTERS(SW_HOST_COUNTER_ENUM)
#undef SW_HOST_COUNTER_ENUM
      kCount
};
inline constexpr size_t kHostCounterCount = static_cast<size_t>(HostCounter::kCount);
const char* host_counter_label(HostCounter c) noexcept;
const char* host_counter_help(HostCounter c) noexcept;
// kSynReceived and kAckReceived count inputs; the others are outcomes.
inline constexpr bool host_counter_is_input(HostCounter c) noexcept {
  return c == HostCounter::kSynReceived || c == HostCounter::kAckReceived;
}

inline constexpr uint32_t kNoCounterSlot = 0xffffffffu;

using HostCounterValues = std::array<uint64_t, kHostCounterCount>;

struct alignas(64) HostCounterBlock {
  uint64_t value[kHostCounterCount];
};
static_assert(sizeof(HostCounterBlock) % 64 == 0 && sizeof(HostCounterBlock) <= 128,
              "whole cache lines per host per worker, at most two");

// One worker's blocks: an anonymous mapping, so slots never used cost no memory (the kernel
// hands out zero pages on first touch) even with limits.host_table_size in the millions.
class HostCounterArea {
 public:
  explicit HostCounterArea(uint32_t slots);  // throws std::system_error if mmap fails
  ~HostCounterArea();
  HostCounterArea(const HostCounterArea&) = delete;
  HostCounterArea& operator=(const HostCounterArea&) = delete;

  // Worker only. `slot` comes from the snapshot; out-of-range slots are ignored.
  void bump(uint32_t slot, HostCounter c) noexcept {
    if (slot >= slots_) return;
    std::atomic_ref<uint64_t> v(blocks_[slot].value[static_cast<size_t>(c)]);
    v.store(v.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Any thread.
  uint64_t read(uint32_t slot, HostCounter c) const noexcept;
  uint32_t slots() const noexcept { return slots_; }

 private:
  HostCounterBlock* blocks_;
  uint32_t slots_;
  size_t bytes_;
};

// All workers' areas plus the slot allocator. Control thread only, except area() handed to
// workers at start.
class HostCounters {
 public:
  // Counts of the same slot that another datapath keeps (the XDP program's sw_host_stats in
  // datapath "xdp"), added to the workers' so an operator reads one set of per-host numbers
  // whichever datapath runs. Must only ever grow per slot.
  using ExternalCounts = std::function<HostCounterValues(uint32_t slot)>;

  HostCounters(size_t workers, uint32_t slots, ExternalCounts external = {});

  HostCounterArea& area(size_t worker) { return *areas_.at(worker); }
  size_t workers() const noexcept { return areas_.size(); }

  // A free slot whose counters read zero from now on. Throws std::length_error when all
  // `slots` are taken (the config validator keeps hosts <= limits.host_table_size = slots).
  uint32_t acquire();
  void release(uint32_t slot);
  // The slot's counts since acquire(), summed over workers.
  HostCounterValues read(uint32_t slot) const;
  size_t in_use() const noexcept { return in_use_; }

 private:
  HostCounterValues raw_sum(uint32_t slot) const;

  std::vector<std::unique_ptr<HostCounterArea>> areas_;
  ExternalCounts external_;
  std::vector<HostCounterValues> baseline_;
  std::vector<uint32_t> free_;  // released slots, reused last-in first-out
  uint32_t next_unused_ = 0;
  uint32_t slots_;
  size_t in_use_ = 0;
};

}  // namespace synwarden::daemon
