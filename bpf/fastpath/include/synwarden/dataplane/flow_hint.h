// FlowHint: user space's side of the established-flow hint (map sw_flow_hint; the bitmap and
// why it never hides a live flow: synwarden_shared.h and docs/flow-hint.md).
//
// The XDP program skips its sw_flows lookup for a key whose hint bit is clear. So every insert
// into sw_flows must be followed by mark() (FlowTable::insert does it when given a hint), and
// bits only go away through rebuild(): clear the inactive generation, mark every key a walk of
// sw_flows returns, switch generations. A concurrent insert marks both generations after its
// insert, so it is either in the walk or marked after the clearing.
//
// mark() is lock-free (atomic OR on the memory-mapped map) and safe from any thread;
// rebuild() calls must not overlap each other (one keeper thread).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "synwarden/dataplane/result.h"
#include "synwarden_shared.h"

namespace synwarden::dataplane {

class FlowTable;

// Words per generation for a flow table of `flow_entries`: two bits per entry, rounded up to
// a power of two, at least 1024 words (8 KiB).
[[nodiscard]] std::uint32_t flow_hint_words_for(std::uint32_t flow_entries);

struct FlowHintStats {
  std::uint64_t state = SW_FLOW_HINT_OFF;  // SW_FLOW_HINT_OFF / _GEN0 / _GEN1
  std::uint64_t bits_set = 0;              // in the active generation
  std::uint64_t bits = 0;                  // per generation
};

class FlowHint {
 public:
  // Maps the hint array `map_fd` (1 + 2 * words u64 elements, BPF_F_MMAPABLE).
  static Result<FlowHint> map(int map_fd, std::uint32_t words);

  FlowHint(FlowHint&& other) noexcept;
  FlowHint& operator=(FlowHint&& other) noexcept;
  FlowHint(const FlowHint&) = delete;
  FlowHint& operator=(const FlowHint&) = delete;
  ~FlowHint();

  // After inserting `key` into sw_flows: marks it in both generations.
  void mark(const sw_flow_key& key) noexcept;
  // Whether the XDP program would look `key` up (state off, or its bit set).
  [[nodiscard]] bool maybe_known(const sw_flow_key& key) const noexcept;
  // Whether `key`'s bit is set in generation `gen` (0 or 1), active or not (tests).
  [[nodiscard]] bool marked_in(const sw_flow_key& key, std::uint32_t gen) const noexcept;
  // Fills the inactive generation from a walk of `flows` and makes it the active one (also the
  // first enabling). Returns the number of flows the walk saw.
  Result<std::uint64_t> rebuild(const FlowTable& flows);
  // Back to "no hint": the program looks every key up again.
  void disable() noexcept;
  [[nodiscard]] FlowHintStats stats() const noexcept;
  [[nodiscard]] std::uint32_t words() const noexcept { return words_; }

 private:
  FlowHint(std::uint64_t* base, std::size_t length, std::uint32_t words) noexcept
      : base_(base), length_(length), words_(words) {}
  [[nodiscard]] std::atomic_ref<std::uint64_t> word(std::uint32_t index) const noexcept {
    return std::atomic_ref<std::uint64_t>(base_[index]);
  }

  std::uint64_t* base_ = nullptr;  // mmap of the map's values
  std::size_t length_ = 0;
  std::uint32_t words_ = 0;
};

}  // namespace synwarden::dataplane
