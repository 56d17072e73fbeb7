// Hands immutable snapshots (host secrets, clock models) from the control thread to the workers
// without locks or reference counts on the hot path: quiescent-state-based reclamation (QSBR),
// the scheme of Linux's RCU and DPDK's rte_rcu_qsbr, which AF_XDP/DPDK DDoS filters use for
// per-worker config hand-off (gatekeeper sends config to its lcores the same way: the worker
// only ever reads what the control plane published, never shared mutable state).
//
// Why not std::atomic<std::shared_ptr<const T>>: in libstdc++ 12 it is not lock-free (a
// spin-lock bit guards the control block), and every load increments and decrements one shared
// reference count, so N workers loading per batch bounce one cache line between cores. Here a
// worker's per-batch cost is one load of the current pointer, one load of the generation and one
// store to its own cache line; the control thread does the waiting and the freeing.
//
// Protocol:
// - Writer (control thread): publish() swaps in a new snapshot and retires the old one with the
//   new generation number; reclaim() frees retired snapshots once every online reader has
//   announced a generation at least that new (or is offline).
// - Reader (one worker): quiescent() at the top of each batch returns the current snapshot; the
//   pointer stays valid until that reader's next quiescent() or offline(). A reader about to
//   block (poll) calls offline() so it never holds reclamation back while idle.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace synwarden::daemon {

template <typename T>
class SnapshotStore {
  struct Slot;  // declared before Reader names it: clang requires it, g++ tolerates the order

 public:
  class Reader;

  SnapshotStore(std::unique_ptr<const T> initial, size_t reader_count)
      : slots_(std::make_unique<Slot[]>(reader_count)), reader_count_(reader_count) {
    if (!initial) throw std::invalid_argument("SnapshotStore needs an initial snapshot");
    current_.store(initial.release(), std::memory_order_seq_cst);
  }
  ~SnapshotStore() {
    // Readers are joined before the store dies; nothing can hold a pointer any more.
    delete current_.load(std::memory_order_relaxed);
  }
  SnapshotStore(const SnapshotStore&) = delete;
  SnapshotStore& operator=(const SnapshotStore&) = delete;

  Reader reader(size_t index) {
    if (index >= reader_count_) throw std::out_of_range("SnapshotStore reader index");
    return Reader(*this, slots_[index]);
  }

  // Writer side. Thread-safe against other writers (a mutex: control threads only).
  void publish(std::unique_ptr<const T> next) {
    std::lock_guard lock(writer_mutex_);
    const T* old = current_.exchange(next.release(), std::memory_order_seq_cst);
    // The generation moves after the pointer: a reader that has seen the new generation loads
    // the new pointer (both seq_cst), so it can no longer hold `old`.
    const uint64_t gen = generation_.fetch_add(1, std::memory_order_seq_cst) + 1;
    retired_.push_back(Retired{gen, std::unique_ptr<const T>(old)});
  }

  // Frees every retired snapshot that no reader can still hold. Returns how many remain.
  size_t reclaim() {
    std::lock_guard lock(writer_mutex_);
    uint64_t oldest_seen = std::numeric_limits<uint64_t>::max();
    for (size_t i = 0; i < reader_count_; ++i) {
      const uint64_t seen = slots_[i].seen.load(std::memory_order_acquire);
      if (seen < oldest_seen) oldest_seen = seen;
    }
    std::erase_if(retired_, [&](const Retired& r) { return r.generation <= oldest_seen; });
    return retired_.size();
  }

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  class Reader {
   public:
    // Announces that this reader holds no snapshot from before, and returns the current one.
    const T* quiescent() noexcept {
      slot_->seen.store(store_->generation_.load(std::memory_order_seq_cst),
                        std::memory_order_seq_cst);
      return store_->current_.load(std::memory_order_seq_cst);
    }
    // Announces that this reader holds no snapshot until its next quiescent().
    void offline() noexcept { slot_->seen.store(kOffline, std::memory_order_release); }

   private:
    friend class SnapshotStore;
    Reader(SnapshotStore& store, typename SnapshotStore::Slot& slot)
        : store_(&store), slot_(&slot) {}
    SnapshotStore* store_;
    typename SnapshotStore::Slot* slot_;
  };

 private:
  static constexpr uint64_t kOffline = std::numeric_limits<uint64_t>::max();

  // One cache line per reader: announcing a generation never invalidates another worker's line.
  struct alignas(64) Slot {
    std::atomic<uint64_t> seen{kOffline};
  };
  struct Retired {
    uint64_t generation;
    std::unique_ptr<const T> snapshot;
  };

  alignas(64) std::atomic<const T*> current_{nullptr};
  std::atomic<uint64_t> generation_{0};
  std::unique_ptr<Slot[]> slots_;
  size_t reader_count_;
  std::mutex writer_mutex_;
  std::vector<Retired> retired_;
};

}  // namespace synwarden::daemon
