#include "metrics_host_counters.h"

#include <sys/mman.h>

#include <cerrno>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace synwarden::daemon {

namespace {

struct HostCounterInfo {
  const char* label;
  const char* help;
};
constexpr HostCounterInfo kHostCounterInfo[] = {
#define SW_HOST_COUNTER_INFO(name, label, help) {label, help},
    SW_HOST_COUNTERS(SW_HOST_COUNTER_INFO)
#undef SW_HOST_COUNTER_INFO
};
static_assert(std::size(kHostCounterInfo) == kHostCounterCount);

}  // namespace

const char* host_counter_label(HostCounter c) noexcept {
  return c < HostCounter::kCount ? kHostCounterInfo[static_cast<size_t>(c)].label : "?";
}

const char* host_counter_help(HostCounter c) noexcept {
  return c < HostCounter::kCount ? kHostCounterInfo[static_cast<size_t>(c)].help : "?";
}

HostCounterArea::HostCounterArea(uint32_t slots)
    : blocks_(nullptr), slots_(slots), bytes_(size_t{slots} * sizeof(HostCounterBlock)) {
  if (slots == 0) throw std::invalid_argument("HostCounterArea needs at least one slot");
  void* mem = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(),
                            "mapping " + std::to_string(bytes_) + " bytes of per-host counters");
  }
  blocks_ = static_cast<HostCounterBlock*>(mem);
}

HostCounterArea::~HostCounterArea() { ::munmap(blocks_, bytes_); }

uint64_t HostCounterArea::read(uint32_t slot, HostCounter c) const noexcept {
  if (slot >= slots_) return 0;
  std::atomic_ref<uint64_t> v(blocks_[slot].value[static_cast<size_t>(c)]);
  return v.load(std::memory_order_relaxed);
}

HostCounters::HostCounters(size_t workers, uint32_t slots, ExternalCounts external)
    : external_(std::move(external)), baseline_(slots), slots_(slots) {
  for (size_t i = 0; i < workers; ++i) areas_.push_back(std::make_unique<HostCounterArea>(slots));
}

HostCounterValues HostCounters::raw_sum(uint32_t slot) const {
  HostCounterValues sum = external_ ? external_(slot) : HostCounterValues{};
  for (const auto& area : areas_) {
    for (size_t c = 0; c < kHostCounterCount; ++c) {
      sum[c] += area->read(slot, static_cast<HostCounter>(c));
    }
  }
  return sum;
}

uint32_t HostCounters::acquire() {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else if (next_unused_ < slots_) {
    slot = next_unused_++;
  } else {
    throw std::length_error("all " + std::to_string(slots_) +
                            " per-host counter slots are in use (limits.host_table_size)");
  }
  baseline_[slot] = raw_sum(slot);
  ++in_use_;
  return slot;
}

void HostCounters::release(uint32_t slot) {
  if (slot >= slots_) return;
  free_.push_back(slot);
  --in_use_;
}

HostCounterValues HostCounters::read(uint32_t slot) const {
  HostCounterValues values{};
  if (slot >= slots_) return values;
  const HostCounterValues raw = raw_sum(slot);
  for (size_t c = 0; c < kHostCounterCount; ++c) values[c] = raw[c] - baseline_[slot][c];
  return values;
}

}  // namespace synwarden::daemon
