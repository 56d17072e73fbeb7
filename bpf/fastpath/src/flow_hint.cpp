#include "synwarden/dataplane/flow_hint.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <string>
#include <utility>

#include "synwarden/dataplane/tables.h"

namespace synwarden::dataplane {

std::uint32_t flow_hint_words_for(std::uint32_t flow_entries) {
  const std::uint64_t bits = 2ull * std::bit_ceil(std::max<std::uint64_t>(flow_entries, 1));
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(1024, bits / 64));
}

Result<FlowHint> FlowHint::map(int map_fd, std::uint32_t words) {
  if (words == 0 || !std::has_single_bit(words)) {
    return logic_error("flow hint: " + std::to_string(words) + " words per generation is not a "
                       "power of two");
  }
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t bytes = (1 + 2 * static_cast<std::size_t>(words)) * sizeof(std::uint64_t);
  const std::size_t length = (bytes + static_cast<std::size_t>(page) - 1) /
                             static_cast<std::size_t>(page) * static_cast<std::size_t>(page);
  void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (p == MAP_FAILED) {
    return os_error(errno, "memory-mapping BPF map sw_flow_hint (" + std::to_string(bytes) +
                               " bytes)");
  }
  return FlowHint(static_cast<std::uint64_t*>(p), length, words);
}

FlowHint::FlowHint(FlowHint&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      length_(std::exchange(other.length_, 0)),
      words_(std::exchange(other.words_, 0)) {}

FlowHint& FlowHint::operator=(FlowHint&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, length_);
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    words_ = std::exchange(other.words_, 0);
  }
  return *this;
}

FlowHint::~FlowHint() {
  if (base_ != nullptr) ::munmap(base_, length_);
}

void FlowHint::mark(const sw_flow_key& key) noexcept {
  const std::uint64_t h = sw_flow_hint_hash(&key);
  const std::uint64_t bit = sw_flow_hint_bit(h);
  for (std::uint32_t gen = 0; gen < 2; ++gen) {
    auto w = word(sw_flow_hint_word(h, gen, words_));
    if ((w.load(std::memory_order_relaxed) & bit) == 0) w.fetch_or(bit, std::memory_order_seq_cst);
  }
}

bool FlowHint::maybe_known(const sw_flow_key& key) const noexcept {
  const std::uint64_t state = word(0).load(std::memory_order_acquire);
  if (state == SW_FLOW_HINT_OFF) return true;
  return marked_in(key, state == SW_FLOW_HINT_GEN1 ? 1 : 0);
}

bool FlowHint::marked_in(const sw_flow_key& key, std::uint32_t gen) const noexcept {
  const std::uint64_t h = sw_flow_hint_hash(&key);
  return (word(sw_flow_hint_word(h, gen & 1u, words_)).load(std::memory_order_acquire) &
          sw_flow_hint_bit(h)) != 0;
}

Result<std::uint64_t> FlowHint::rebuild(const FlowTable& flows) {
  const std::uint64_t state = word(0).load(std::memory_order_acquire);
  // The generation to fill: the inactive one (generation 0 when the hint is off).
  const std::uint32_t fill = state == SW_FLOW_HINT_GEN0 ? 1 : 0;
  const std::uint32_t first = 1 + fill * words_;
  for (std::uint32_t i = 0; i < words_; ++i) word(first + i).store(0, std::memory_order_relaxed);
  // Clearing before the walk: a flow inserted after this point marks this generation itself,
  // one inserted before it is in the map when the walk starts.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  std::uint64_t seen = 0;
  auto walked = flows.walk_keys([&](const sw_flow_key* keys, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint64_t h = sw_flow_hint_hash(&keys[i]);
      word(sw_flow_hint_word(h, fill, words_)).fetch_or(sw_flow_hint_bit(h),
                                                        std::memory_order_relaxed);
    }
    seen += n;
  });
  if (!walked) return walked.error();
  word(0).store(fill == 1 ? SW_FLOW_HINT_GEN1 : SW_FLOW_HINT_GEN0, std::memory_order_seq_cst);
  return seen;
}

void FlowHint::disable() noexcept { word(0).store(SW_FLOW_HINT_OFF, std::memory_order_seq_cst); }

FlowHintStats FlowHint::stats() const noexcept {
  FlowHintStats s;
  s.state = word(0).load(std::memory_order_acquire);
  s.bits = static_cast<std::uint64_t>(words_) * 64;
  if (s.state == SW_FLOW_HINT_OFF) return s;
  const std::uint32_t first = 1 + (s.state == SW_FLOW_HINT_GEN1 ? words_ : 0);
  for (std::uint32_t i = 0; i < words_; ++i) {
    s.bits_set += static_cast<std::uint64_t>(std::popcount(word(first + i).load(std::memory_order_relaxed)));
  }
  return s;
}

}  // namespace synwarden::dataplane
