// Handshake ordering: a valid cookie ACK's flow enters the established map only once the ACK
// itself has left the firewall.
//
// Why: the worker sends the ACK through its AF_XDP TX ring, while the XDP program forwards a
// flow's later segments with XDP_TX as soon as the flow is in the map. Inserting the flow before
// the ACK is out lets the client's first data segment (sent right after its ACK) overtake the ACK
// on its way to the host; the host then ignores the data and the client pays a retransmission
// timeout (200 ms or more) on every such connection.
//
// How: the handler's FlowSink::insert() lands here and is tied to the TX frame that carries the
// ACK. When the kernel completes that frame (in copy mode the skb has been consumed by the
// driver, in zero-copy mode the NIC has sent it), the flow goes into the real map. Meanwhile the
// flow is "pending": segments of it that reach the worker are forwarded through the same TX ring,
// behind the ACK (pending() answers that), and so are segments that were already on their way to
// the worker when the map learnt the flow (a learnt entry stays visible for kLingerNs).
//
// Worker-thread only (no locks); fixed capacity, no allocation after construction.
#pragma once

#include <cstdint>
#include <memory>

#include "packet_handler.h"

namespace synwarden::daemon {

class PendingFlows final : public FlowSink {
 public:
  // `frame_count` UMEM frames of `frame_size` bytes (addresses are chunk-aligned multiples of it);
  // `capacity` flows pending or lingering at once. `map`: where flows go once their ACK is out.
  PendingFlows(FlowSink& map, uint32_t frame_count, uint32_t frame_size, uint32_t capacity);
  PendingFlows(const PendingFlows&) = delete;
  PendingFlows& operator=(const PendingFlows&) = delete;

  // The frame the handler is about to judge (its chunk address): insert() ties its flow to it.
  void set_frame(uint64_t chunk) noexcept { frame_ = chunk; }

  // FlowSink: remembers the flow for the current frame. Full table: inserts into the map at once
  // (the old behaviour) and counts it.
  bool insert(const sw_flow_key& key) noexcept override;
  // A flow whose ACK is queued or was sent within the last kLingerNs.
  bool pending(const sw_flow_key& key) const noexcept override;

  // The kernel completed the TX of `chunk`: its flow (if any) goes into the map now.
  // Returns false if that insert failed.
  bool completed(uint64_t chunk, uint64_t now_ns) noexcept;
  // `chunk` will not be sent (TX ring full): forget its flow, the host never saw the ACK.
  void abandoned(uint64_t chunk) noexcept;
  // Frees lingering entries older than kLingerNs. Once per batch.
  void expire(uint64_t now_ns) noexcept;

  uint32_t size() const noexcept { return live_; }
  uint64_t overflows() const noexcept { return overflows_; }

  // How long a learnt flow stays visible here: covers segments that XDP redirected to the worker
  // before the map had the flow (they sit in the RX ring for at most a few batches).
  static constexpr uint64_t kLingerNs = 20'000'000;

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  enum class State : uint8_t { kFree, kInFlight, kLearnt };
  struct Slot {
    sw_flow_key key;
    uint64_t learnt_ns;
    uint32_t chunk_index;  // frame carrying the ACK while in flight
    uint32_t next;         // hash chain
    uint32_t bucket;
    State state;
  };

  uint32_t bucket_of(const sw_flow_key& key) const noexcept;
  void unlink(uint32_t slot) noexcept;
  void release(uint32_t slot) noexcept;
  uint32_t chunk_index(uint64_t chunk) const noexcept {
    return static_cast<uint32_t>(chunk / frame_size_);
  }

  FlowSink& map_;
  uint32_t frame_count_;
  uint32_t frame_size_;
  uint32_t capacity_;
  uint32_t bucket_mask_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<uint32_t[]> buckets_;      // head slot of each hash chain
  std::unique_ptr<uint32_t[]> by_chunk_;     // in-flight slot of each UMEM frame
  std::unique_ptr<uint32_t[]> free_;         // free slot stack
  std::unique_ptr<uint32_t[]> linger_;       // learnt slots, oldest first (ring)
  uint32_t free_count_ = 0;
  uint32_t linger_head_ = 0;
  uint32_t linger_count_ = 0;
  uint32_t live_ = 0;
  uint64_t overflows_ = 0;
  uint64_t frame_ = 0;
};

}  // namespace synwarden::daemon
