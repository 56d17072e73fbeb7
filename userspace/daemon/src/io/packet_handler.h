// The per-frame decision of a worker, separated from the AF_XDP plumbing so it can be tested
// with crafted frames: parse (codec), then
//   SYN for a protected host  -> cookie SYN-ACK written in place (engine + codec), transmit
//   ACK, cookie valid          -> flow into the established map, MACs to the host, transmit
//   ACK, cookie invalid        -> drop, counted by reason
//   RST/FIN, bad flags, junk   -> drop, counted (the XDP program already drops most of these)
// plus the pass-mode, port-filter and fail-policy cases. No allocation, lock, syscall or log;
// the only call out is FlowSink::insert() for a valid ACK.
#pragma once

#include <cstdint>

#include "candidate_queue.h"
#include "counter_pairs.h"
#include "metrics_host_counters.h"
#include "snapshot.h"
#include "synwarden/codec.h"
#include "synwarden_shared.h"
#include "worker_counters.h"

namespace synwarden::daemon {

// Where valid cookie ACKs register their flow: the XDP program's established map in the
// daemon, a recorder in tests. insert() must be safe to call from several workers at once.
class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual bool insert(const sw_flow_key& key) noexcept = 0;
  // A flow inserted here whose handshake ACK may still be on its way to the host
  // (pending_flows.h): its segments must follow the ACK through the worker, not overtake it.
  virtual bool pending(const sw_flow_key& /*key*/) const noexcept { return false; }
};

enum class FrameAction : uint8_t { kTransmit, kDrop };

// The established-map key of a parsed frame, in its own (inbound) direction, exactly as the XDP
// program builds it in parse_l2()/read_ipv*_addresses() so both sides find the same entry.
sw_flow_key flow_key_of(const ParsedFrame& frame) noexcept;

struct HandlerSettings {
  SynAckFrameParams synack;           // src_mac is replaced by the snapshot's firewall MAC
  uint64_t synack_pps = 0;            // per worker; 0 = unlimited
  uint32_t synack_burst = 64;         // SYN-ACKs the bucket may send at once
  // This worker's per-host counters (slots from the snapshot); null: not counted per host.
  HostCounterArea* host_counters = nullptr;
  // Where this worker reports socket-confirmation candidates (candidate_queue.h); null: none.
  CandidateQueue* candidates = nullptr;
};

class PacketHandler {
 public:
  PacketHandler(const HandlerSettings& settings, WorkerCounters& counters, FlowSink& flows);

  // Once per batch: the snapshot every frame of the batch is judged with, and the firewall's
  // CLOCK_MONOTONIC in ns (the host clocks are extrapolated from it). `shed_syns`: the worker is
  // behind (its RX ring is filling up); drop this batch's SYNs unanswered (see worker.cpp).
  void begin_batch(const Snapshot& snapshot, uint64_t now_ns, bool shed_syns = false) noexcept;

  // Decides on the frame of `len` bytes at `frame`, rewriting it in place when it is to be
  // transmitted (then `len` is its new length). `capacity` is the buffer size from `frame`.
  FrameAction handle(uint8_t* frame, uint32_t& len, uint32_t capacity) noexcept;

 private:
  FrameAction on_syn(const HostEntry& host, uint8_t* frame, uint32_t& len, uint32_t capacity,
                     const ParsedFrame& p) noexcept;
  FrameAction on_ack(const HostEntry& host, uint8_t* frame, uint32_t len,
                     const ParsedFrame& p) noexcept;
  FrameAction forward(const HostEntry& host, uint8_t* frame, uint32_t len) noexcept;
  FrameAction without_keys(const HostEntry& host, uint8_t* frame, uint32_t len) noexcept;
  const ClockReading& reading_for(const HostEntry& host) noexcept;
  // An unknown ACK that failed the cookie check and recovery: a connection the firewall forgot
  // that carries no timestamp? Its host's agent can tell (docs/flow-recovery.md).
  void report_candidate(const HostEntry& host, const ParsedFrame& p) noexcept {
    if (settings_.candidates != nullptr && host.socket_confirm) {
      settings_.candidates->report(flow_key_of(p), now_ns_);
    }
  }
  bool take_synack_token() noexcept;
  // A decision both counter families record (counter_pairs.h): the worker's and the host's.
  void record(const HostEntry& host, Outcome o) noexcept {
    bump(worker_counter_of(counters_, o));
    if (host_counters_ != nullptr) host_counters_->bump(host.counter_slot, host_counter_of(o));
  }

  HandlerSettings settings_;
  WorkerCounters& counters_;
  FlowSink& flows_;
  HostCounterArea* host_counters_;
  const Snapshot* snapshot_ = nullptr;
  uint64_t now_ms_ = 0;
  uint64_t now_ns_ = 0;
  bool shed_syns_ = false;
  // Clock reading of the last host seen in this batch: a flood targets one host, so the
  // extrapolation (a few divisions) runs about once per batch instead of once per frame.
  const HostEntry* reading_host_ = nullptr;
  ClockReading reading_{};
  // SYN-ACK token bucket in nanoseconds of credit (same scheme as the XDP program's).
  uint64_t cost_ns_ = 0;
  uint64_t burst_ns_ = 0;
  uint64_t credit_ns_ = 0;
  uint64_t last_ns_ = 0;
};

}  // namespace synwarden::daemon
