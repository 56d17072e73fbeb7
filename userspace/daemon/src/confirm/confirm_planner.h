// What the confirmer asks, and when (docs/flow-recovery.md): the bookkeeping between the
// datapaths' candidate reports and the hosts' agents, without sockets or threads so that tests
// can drive it with a clock of their own.
//
//   offer()       a reported flow key: dropped unless its host is one the confirmer may ask;
//                 dropped when the same tuple was offered within dedup_ms (a stalled connection
//                 retransmits, and every retransmission is reported again); else queued for its
//                 host (at most max_queued_per_host; more are dropped, counted).
//   take_batch()  up to kConfirmMaxTuples of one host's queue, oldest first, at most
//                 requests_per_s_per_host times a second per host: the agent's reply budget is
//                 shared with its secrets polls (docs/flow-recovery.md gives the formula);
//                 after an unanswered request, not before backoff_ms (back_off()).
//
// Single-threaded (the confirmer thread's).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "synwarden/channel_confirm.h"
#include "synwarden/ip_address.h"
#include "synwarden_shared.h"

namespace synwarden::daemon {

struct ConfirmPlannerOptions {
  uint32_t dedup_ms = 5000;              // a tuple offered is not offered again for this long
  size_t max_remembered = 1u << 16;      // tuples remembered for dedup (the oldest go first)
  size_t max_queued_per_host = 1024;     // candidates waiting for one host's agent
  uint32_t requests_per_s_per_host = 5;  // confirmation requests to one agent per second
  // After an unanswered request, the host's agent is not asked again for this long: an agent
  // that refuses for its rate limit (shared with the secrets polls) is not pressed further.
  uint32_t backoff_ms = 2000;
};

// One queued candidate: the key and when it was offered (for the time-to-confirm figure).
struct ConfirmCandidate {
  sw_flow_key key{};
  uint64_t offered_ms = 0;
};

enum class OfferResult { kQueued, kDuplicate, kNotAsked, kOverflow };

class ConfirmPlanner {
 public:
  explicit ConfirmPlanner(ConfirmPlannerOptions options = {});

  // The hosts that may be asked, in the caller's numbering (index = host number). Queues of
  // hosts that remain keep their candidates; the dedup memory is kept.
  void set_hosts(const std::vector<IpAddress>& hosts);
  size_t host_count() const noexcept { return hosts_.size(); }

  OfferResult offer(const sw_flow_key& key, uint64_t now_ms);

  // Host `host`'s next batch (empty when its queue is empty or its request budget is spent
  // until later); taking a non-empty batch spends one request of the budget.
  std::vector<ConfirmCandidate> take_batch(size_t host, uint64_t now_ms);
  size_t queued(size_t host) const noexcept { return hosts_[host].queue.size(); }
  // Host `host`'s agent did not answer: no batch for it before now_ms + backoff_ms.
  void back_off(size_t host, uint64_t now_ms) noexcept {
    hosts_[host].next_ask_ms = std::max(hosts_[host].next_ask_ms, now_ms + options_.backoff_ms);
  }
  size_t remembered() const noexcept { return seen_.size(); }

 private:
  struct KeyBytes {
    std::array<uint8_t, sizeof(sw_flow_key)> b;
    bool operator==(const KeyBytes&) const = default;
  };
  struct KeyHash {
    size_t operator()(const KeyBytes& k) const noexcept;
  };
  struct HostQueue {
    IpAddress address;
    std::deque<ConfirmCandidate> queue;
    uint64_t next_ask_ms = 0;
  };

  void forget_before(uint64_t now_ms);
  int host_of(const sw_flow_key& key) const noexcept;

  ConfirmPlannerOptions options_;
  std::vector<HostQueue> hosts_;
  std::unordered_map<KeyBytes, uint64_t, KeyHash> seen_;  // tuple -> offered_ms
  std::deque<std::pair<KeyBytes, uint64_t>> seen_order_;  // offer order, for forgetting
};

// The agent's view of a flow key: client = the remote peer, host = the protected address,
// ports in host byte order. (The VLAN tags stay with the caller's key.)
ConfirmTuple confirm_tuple_of(const sw_flow_key& key) noexcept;

}  // namespace synwarden::daemon
