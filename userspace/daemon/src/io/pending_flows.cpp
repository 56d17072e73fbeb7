#include "pending_flows.h"

#include <bit>
#include <cstring>

namespace synwarden::daemon {

PendingFlows::PendingFlows(FlowSink& map, uint32_t frame_count, uint32_t frame_size,
                           uint32_t capacity)
    : map_(map),
      frame_count_(frame_count),
      frame_size_(frame_size == 0 ? 1 : frame_size),
      capacity_(capacity == 0 ? 1 : capacity),
      bucket_mask_(std::bit_ceil(capacity_ * 2) - 1),
      slots_(std::make_unique<Slot[]>(capacity_)),
      buckets_(std::make_unique<uint32_t[]>(bucket_mask_ + 1)),
      by_chunk_(std::make_unique<uint32_t[]>(frame_count)),
      free_(std::make_unique<uint32_t[]>(capacity_)),
      linger_(std::make_unique<uint32_t[]>(capacity_)) {
  for (uint32_t i = 0; i <= bucket_mask_; ++i) buckets_[i] = kNone;
  for (uint32_t i = 0; i < frame_count_; ++i) by_chunk_[i] = kNone;
  for (uint32_t i = 0; i < capacity_; ++i) {
    slots_[i].state = State::kFree;
    free_[i] = capacity_ - 1 - i;
  }
  free_count_ = capacity_;
}

uint32_t PendingFlows::bucket_of(const sw_flow_key& key) const noexcept {
  // The key's 11 words folded with a multiplicative mix; the key's padding is always zero.
  uint32_t words[sizeof(sw_flow_key) / 4];
  std::memcpy(words, &key, sizeof words);
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (uint32_t w : words) h = (h ^ w) * 0xFF51AFD7ED558CCDull;
  return static_cast<uint32_t>(h >> 32) & bucket_mask_;
}

bool PendingFlows::insert(const sw_flow_key& key) noexcept {
  const uint32_t chunk = chunk_index(frame_);
  if (free_count_ == 0 || chunk >= frame_count_ || by_chunk_[chunk] != kNone) {
    ++overflows_;
    return map_.insert(key);
  }
  const uint32_t slot = free_[--free_count_];
  Slot& s = slots_[slot];
  s.key = key;
  s.learnt_ns = 0;
  s.chunk_index = chunk;
  s.state = State::kInFlight;
  s.bucket = bucket_of(key);
  s.next = buckets_[s.bucket];
  buckets_[s.bucket] = slot;
  by_chunk_[chunk] = slot;
  ++live_;
  return true;
}

bool PendingFlows::pending(const sw_flow_key& key) const noexcept {
  if (live_ == 0) return false;
  for (uint32_t i = buckets_[bucket_of(key)]; i != kNone; i = slots_[i].next) {
    if (std::memcmp(&slots_[i].key, &key, sizeof key) == 0) return true;
  }
  return false;
}

void PendingFlows::unlink(uint32_t slot) noexcept {
  uint32_t* link = &buckets_[slots_[slot].bucket];
  while (*link != kNone && *link != slot) link = &slots_[*link].next;
  if (*link == slot) *link = slots_[slot].next;
}

void PendingFlows::release(uint32_t slot) noexcept {
  unlink(slot);
  slots_[slot].state = State::kFree;
  free_[free_count_++] = slot;
  --live_;
}

bool PendingFlows::completed(uint64_t chunk, uint64_t now_ns) noexcept {
  const uint32_t index = chunk_index(chunk);
  if (index >= frame_count_ || by_chunk_[index] == kNone) return true;
  const uint32_t slot = by_chunk_[index];
  by_chunk_[index] = kNone;
  const bool ok = map_.insert(slots_[slot].key);
  Slot& s = slots_[slot];
  s.state = State::kLearnt;
  s.learnt_ns = now_ns;
  // Completions arrive in time order, so the linger ring stays sorted by learnt_ns. It cannot be
  // full: it holds only learnt slots, and there are at most capacity_ slots.
  linger_[(linger_head_ + linger_count_) % capacity_] = slot;
  ++linger_count_;
  return ok;
}

void PendingFlows::abandoned(uint64_t chunk) noexcept {
  const uint32_t index = chunk_index(chunk);
  if (index >= frame_count_ || by_chunk_[index] == kNone) return;
  release(by_chunk_[index]);
  by_chunk_[index] = kNone;
}

void PendingFlows::expire(uint64_t now_ns) noexcept {
  while (linger_count_ != 0) {
    const uint32_t slot = linger_[linger_head_];
    if (now_ns - slots_[slot].learnt_ns < kLingerNs) return;
    release(slot);
    linger_head_ = (linger_head_ + 1) % capacity_;
    --linger_count_;
  }
}

}  // namespace synwarden::daemon
