// The free UMEM frames of one worker: a LIFO stack of frame addresses owned by that worker's
// thread alone (no atomics, no locks). LIFO hands back the most recently freed frame, whose
// cache lines are most likely still warm — the reason OVS (umem_pool in netdev-afxdp-pool.c) and
// the AF_XDP-forwarding example use a stack rather than a FIFO.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace synwarden::daemon {

class FramePool {
 public:
  // Holds every frame of a UMEM of `frame_count` frames of `frame_size` bytes, all free.
  // The only allocation; push/pop never allocate.
  FramePool(uint32_t frame_count, uint32_t frame_size)
      : capacity_(frame_count), addrs_(std::make_unique<uint64_t[]>(frame_count)) {
    for (uint32_t i = 0; i < frame_count; ++i) {
      // Lowest address on top, so start-up fills rings in address order (easier to debug).
      addrs_[frame_count - 1 - i] = static_cast<uint64_t>(i) * frame_size;
    }
    size_ = frame_count;
  }
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;
  FramePool(FramePool&&) noexcept = default;
  FramePool& operator=(FramePool&&) noexcept = default;

  uint32_t size() const noexcept { return size_; }
  uint32_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }

  // Returns a free frame address. Precondition: !empty().
  uint64_t pop() noexcept { return addrs_[--size_]; }

  // Gives a frame back. A push beyond capacity means a frame was freed twice — a bug that would
  // later hand one frame to two rings; it is refused and reported so the caller can count it.
  bool push(uint64_t addr) noexcept {
    if (size_ == capacity_) return false;
    addrs_[size_++] = addr;
    return true;
  }

 private:
  uint32_t capacity_ = 0;
  uint32_t size_ = 0;
  std::unique_ptr<uint64_t[]> addrs_;
};

}  // namespace synwarden::daemon
