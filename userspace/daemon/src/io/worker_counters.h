// Per-worker packet counters. Each worker writes only its own block, which is cache-line aligned
// so two workers never share a line; the control thread reads them for reports. A counter is a
// std::atomic written with relaxed load+store by its single writer: a plain add on x86-64 and
// arm64 (no lock prefix), yet a well-defined concurrent read for the reporter.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace synwarden::daemon {

// X(field, help). Append-only, so report consumers can rely on names.
#define SW_WORKER_COUNTERS(X)                                                                 \
  X(rx_packets, "frames taken from the RX ring")                                            \
  X(rx_batches, "non-empty RX batches")                                                      \
  X(syn_received, "SYNs for a protected host")                                               \
  X(synack_built, "cookie SYN-ACKs written in place (then queued for TX)")                   \
  X(syn_rate_limited, "SYNs dropped by synack_pps_per_queue")                                \
  X(syn_build_failed, "SYNs whose SYN-ACK did not fit the frame")                           \
  X(ack_received, "ACKs (with or without payload) checked against a cookie")                \
  X(ack_valid, "ACKs with a valid cookie: flow inserted and forwarded")                     \
  X(ack_bad_cookie, "ACKs dropped: not a cookie for this tuple and ISN")                    \
  X(ack_cookie_expired, "ACKs dropped: cookie count outside the host's 2-minute window")    \
  X(ack_option_disabled, "ACKs dropped: timestamp echo names an option the host disabled")  \
  X(flow_insert_failed, "valid ACKs forwarded although the established-map insert failed")  \
  X(forwarded_unprotected_port, "SYNs/ACKs to a port outside the host's \"ports\"")         \
  X(forwarded_pass_mode, "frames for a host whose protection is off (pass mode)")           \
  X(forwarded_fail_open, "frames forwarded because the host has no secrets (fail_open)")    \
  X(dropped_fail_closed, "frames dropped because the host has no secrets (fail_closed)")    \
  X(dropped_rst_fin, "RST/FIN of no known flow")                                            \
  X(dropped_bad_flags, "impossible or handshake-less TCP flag combinations")                \
  X(dropped_unknown_host, "frames for an address not in the current snapshot")              \
  X(dropped_unparsable, "frames the codec rejected or that are not TCP")                    \
  X(dropped_bad_checksum, "SYNs with a wrong IPv4 header or TCP checksum")                  \
  X(tx_sent, "frames submitted to the TX ring")                                             \
  X(tx_ring_full, "frames dropped because the TX ring had no room")                         \
  X(tx_kicks, "sendto() wake-ups of the TX path (need-wakeup)")                             \
  X(tx_kick_errors, "sendto() wake-ups that failed with an unexpected errno")               \
  X(fill_kicks, "recvfrom()/poll() wake-ups of the fill ring (need-wakeup)")                \
  X(completions, "TX frames the kernel completed and gave back")                            \
  X(frame_double_free, "frame addresses returned twice (a bug; frame dropped)")             \
  X(idle_polls, "poll() calls while the RX ring was empty")                                  \
  X(ack_valid_previous_keys, "valid ACKs that matched only the host's previous keys (key change)") \
  X(syn_shed_backlog, "SYNs dropped unanswered while the RX ring was over half full (ACKs first)") \
  X(forwarded_pending_flow, "segments of a flow whose cookie ACK was still leaving: sent behind it") \
  X(pending_flow_overflow, "valid ACKs whose flow was learnt at once: pending-flow table full") \
  X(flow_recovered_timestamp, "ACKs of forgotten flows whose TSecr fit the host's clock: learnt") \
  X(recovery_out_of_window, "failed-cookie ACKs whose TSecr did not fit the host's clock either")

struct alignas(64) WorkerCounters {
#define SW_DECLARE_COUNTER(name, help) std::atomic<uint64_t> name{0};
  SW_WORKER_COUNTERS(SW_DECLARE_COUNTER)
#undef SW_DECLARE_COUNTER
  std::atomic<uint64_t> snapshot_generation{0};  // last snapshot generation the worker used
};

// Single-writer increment (see the file comment).
inline void bump(std::atomic<uint64_t>& counter, uint64_t by = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

}  // namespace synwarden::daemon
