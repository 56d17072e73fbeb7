// One AF_XDP worker: the thread that owns one RX queue's socket, UMEM and frame pool, and runs
// the receive -> decide -> transmit loop (the shape of xdp-project/bpf-examples
// AF_XDP-forwarding and OVS netdev-afxdp: batches, need-wakeup, in-place rewrite and TX of the
// received frame, completion recycling into a LIFO pool).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "frame_pool.h"
#include "packet_handler.h"
#include "pending_flows.h"
#include "snapshot.h"
#include "snapshot_store.h"
#include "worker_counters.h"
#include "xsk_port.h"

namespace synwarden::daemon {

struct WorkerSettings {
  uint32_t index = 0;        // worker number (snapshot reader slot)
  int cpu = -1;              // CPU to pin the thread to, -1 = no pinning
  uint32_t batch_size = 64;  // descriptors per RX peek
  HandlerSettings handler;
};

class Worker {
 public:
  // Takes the socket and its memory; primes the fill ring so the kernel can deliver frames as
  // soon as the socket is in the XSKMAP. `stop_fd` is an eventfd that becomes readable when the
  // daemon stops, so an idle worker wakes at once.
  Worker(const WorkerSettings& settings, std::unique_ptr<UmemArea> area,
         std::unique_ptr<XskPort> port, SnapshotStore<Snapshot>::Reader reader, FlowSink& flows,
         int stop_fd);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the thread, pinned to settings.cpu. Throws std::system_error if pinning fails.
  void start();
  // Asks the loop to end (it notices within one batch or idle poll); join() waits for it.
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  void join();

  const WorkerCounters& counters() const noexcept { return counters_; }
  const XskPort& port() const noexcept { return *port_; }
  uint32_t queue() const noexcept { return port_->queue(); }
  int cpu() const noexcept { return settings_.cpu; }

  static constexpr uint32_t kMaxBatch = 256;

 private:
  void run() noexcept;
  void recycle_completions() noexcept;
  void refill_fill_ring() noexcept;
  void transmit(uint32_t count) noexcept;
  void kick_tx() noexcept;
  void idle() noexcept;
  // True while the RX ring holds more than half its size after the current batch.
  bool behind() noexcept;
  void release_frame(uint64_t addr) noexcept;
  uint64_t chunk_of(uint64_t addr) const noexcept { return addr & ~chunk_mask_; }

  WorkerSettings settings_;
  WorkerCounters counters_;
  std::unique_ptr<UmemArea> area_;
  std::unique_ptr<XskPort> port_;
  SnapshotStore<Snapshot>::Reader reader_;
  // Valid ACKs' flows wait here until their ACK has left (pending_flows.h); the handler's sink.
  PendingFlows pending_;
  PacketHandler handler_;
  FramePool pool_;
  uint64_t chunk_mask_;
  uint32_t frame_size_;
  uint32_t outstanding_tx_ = 0;  // submitted to TX, not yet completed
  int stop_fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  // Frames of the current batch to transmit (address, length); fixed size, no allocation.
  uint64_t tx_addr_[kMaxBatch];
  uint32_t tx_len_[kMaxBatch];
};

}  // namespace synwarden::daemon
