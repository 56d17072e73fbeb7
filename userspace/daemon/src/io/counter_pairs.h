// The worker decisions that a per-host counter also records, and which one: the one place the
// per-worker counters (worker_counters.h) and the per-host counters (metrics_host_counters.h)
// are paired. The packet handler counts such a decision once, as an Outcome, and both counters
// move (PacketHandler::record), so the two families cannot drift apart by a forgotten line. A
// worker counter that no host counter mirrors (junk, an unknown host, a failed flow insert) is
// bumped on its own. Adding a decision: one row here, then record() it.
#pragma once

#include <atomic>
#include <cstdint>

#include "metrics_host_counters.h"
#include "worker_counters.h"

namespace synwarden::daemon {

// X(worker counter field, HostCounter).
#define SW_PAIRED_COUNTERS(X)                  \
  X(syn_received, kSynReceived)                \
  X(ack_received, kAckReceived)                \
  X(synack_built, kSynAck)                     \
  X(ack_valid, kAckValid)                      \
  X(ack_bad_cookie, kAckInvalid)               \
  X(ack_cookie_expired, kAckInvalid)           \
  X(ack_option_disabled, kAckInvalid)          \
  X(forwarded_pass_mode, kForwarded)           \
  X(forwarded_fail_open, kForwarded)           \
  X(forwarded_unprotected_port, kForwarded)    \
  X(forwarded_pending_flow, kForwarded)        \
  X(flow_recovered_timestamp, kForwarded)      \
  X(syn_rate_limited, kRateLimited)            \
  X(dropped_fail_closed, kDropped)             \
  X(dropped_rst_fin, kDropped)                 \
  X(dropped_bad_flags, kDropped)               \
  X(dropped_bad_checksum, kDropped)            \
  X(syn_build_failed, kDropped)                \
  X(syn_shed_backlog, kShed)

enum class Outcome : uint8_t {
#define SW_OUTCOME_ENUM(field, host) field,
  SW_PAIRED_COUNTERS(SW_OUTCOME_ENUM)
#undef SW_OUTCOME_ENUM
};

constexpr HostCounter host_counter_of(Outcome o) noexcept {
  switch (o) {
#define SW_OUTCOME_HOST(field, host) \
  case Outcome::field:               \
    return HostCounter::host;
    SW_PAIRED_COUNTERS(SW_OUTCOME_HOST)
#undef SW_OUTCOME_HOST
  }
  return HostCounter::kCount;
}

inline std::atomic<uint64_t>& worker_counter_of(WorkerCounters& c, Outcome o) noexcept {
  switch (o) {
#define SW_OUTCOME_WORKER(field, host) \
  case Outcome::field:                 \
    return c.field;
    SW_PAIRED_COUNTERS(SW_OUTCOME_WORKER)
#undef SW_OUTCOME_WORKER
  }
  return c.dropped_unparsable;  // not reached: every Outcome is a row
}

// Every host counter is fed by at least one worker decision: none can silently stay at zero.
constexpr bool every_host_counter_is_paired() noexcept {
  for (size_t h = 0; h < kHostCounterCount; ++h) {
    bool fed = false;
#define SW_OUTCOME_FEEDS(field, host) fed = fed || HostCounter::host == static_cast<HostCounter>(h);
    SW_PAIRED_COUNTERS(SW_OUTCOME_FEEDS)
#undef SW_OUTCOME_FEEDS
    if (!fed) return false;
  }
  return true;
}
static_assert(every_host_counter_is_paired(), "a host counter no worker decision moves");

}  // namespace synwarden::daemon
