// Socket-confirmation candidates from one AF_XDP worker to the confirmer thread
// (docs/flow-recovery.md): the flow key of an unknown ACK the worker dropped after the cookie
// check and timestamp recovery failed, for a host whose agent confirms sockets.
//
// One queue per worker: a single-producer single-consumer ring of fixed capacity (no allocation
// after construction, no lock, no syscall), in front of it the worker's token bucket that caps
// how many candidates it reports per second, so a forged-ACK flood costs the confirmer (and the
// host's agent) at most that. The XDP datapath reports through its own BPF ring buffer
// (bpf/fastpath/confirm.bpf.h) with the same per-CPU bucket scheme.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "synwarden_shared.h"

namespace synwarden::daemon {

struct CandidateQueueCounters {
  uint64_t reported = 0;  // pushed into the ring
  uint64_t capped = 0;    // over the bucket: not reported
  uint64_t lost = 0;      // within the bucket, ring full (the confirmer is behind)
};

class alignas(64) CandidateQueue {
 public:
  // 1024 keys: half a second of a worker at the default cap, drained every 50 ms.
  static constexpr size_t kCapacity = 1024;

  // `per_second` candidates (0 = none), with a quarter second of them as burst.
  explicit CandidateQueue(uint64_t per_second = 0) noexcept { set_rate(per_second); }
  CandidateQueue(const CandidateQueue&) = delete;
  CandidateQueue& operator=(const CandidateQueue&) = delete;

  // Before the producer starts.
  void set_rate(uint64_t per_second) noexcept {
    cost_ns_ = per_second == 0 ? 0 : (1'000'000'000ull + per_second - 1) / per_second;
    burst_ns_ = cost_ns_ > 250'000'000ull ? cost_ns_ : 250'000'000ull;
  }

  // Producer (the worker, per frame): takes a token at firewall time `now_ns`, then a slot.
  // Returns true when the key was queued.
  bool report(const sw_flow_key& key, uint64_t now_ns) noexcept {
    if (cost_ns_ == 0) return false;
    uint64_t credit = burst_ns_;
    if (last_ns_ != 0) {
      credit = credit_ns_ + (now_ns - last_ns_);
      if (credit > burst_ns_) credit = burst_ns_;
    }
    last_ns_ = now_ns;
    if (credit < cost_ns_) {
      credit_ns_ = credit;
      bump(capped_);
      return false;
    }
    credit_ns_ = credit - cost_ns_;
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == kCapacity) {
      bump(lost_);
      return false;
    }
    slots_[tail % kCapacity] = key;
    tail_.store(tail + 1, std::memory_order_release);
    bump(reported_);
    return true;
  }

  // Consumer (the confirmer): hands every queued key to fn; returns how many.
  template <typename Fn>
  size_t drain(Fn&& fn) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    for (uint64_t i = head; i != tail; ++i) fn(slots_[i % kCapacity]);
    head_.store(tail, std::memory_order_release);
    return static_cast<size_t>(tail - head);
  }

  // Any thread.
  CandidateQueueCounters counters() const noexcept {
    return {reported_.load(std::memory_order_relaxed), capped_.load(std::memory_order_relaxed),
            lost_.load(std::memory_order_relaxed)};
  }

 private:
  // Single writer: relaxed load + store, as WorkerCounters.
  static void bump(std::atomic<uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // Producer's line.
  uint64_t cost_ns_ = 0;
  uint64_t burst_ns_ = 0;
  uint64_t credit_ns_ = 0;
  uint64_t last_ns_ = 0;
  std::atomic<uint64_t> reported_{0}, capped_{0}, lost_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  alignas(64) std::atomic<uint64_t> head_{0};  // consumer's line
  alignas(64) std::array<sw_flow_key, kCapacity> slots_{};
};

}  // namespace synwarden::daemon
