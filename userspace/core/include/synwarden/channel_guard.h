// Agent-side admission of authenticated channel requests: a replay window (each request is
// answered at most once, and only if it was sealed recently) and a token-bucket limit on the
// replies the agent sends. Both take the time as a parameter so tests drive them without
// sleeping. Single-threaded: owned by the agent's channel server thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>

#include "synwarden/channel.h"

namespace synwarden {

// Remembers the nonces of accepted requests for as long as their send time is inside the
// acceptance window, so a captured request replayed later is refused (kReplayed), and refuses
// requests sealed too long ago or in the future (kStale) — beyond the window a nonce would no
// longer be remembered. The window absorbs clock difference between firewall and host; with
// NTP on both, the default is generous.
class ChannelReplayWindow {
 public:
  // `max_age_ms`: accepted |agent clock - request send time|. `capacity`: most nonces kept;
  // when full, the oldest is dropped and requests not newer than it are refused from then on,
  // so a dropped nonce can never be replayed.
  explicit ChannelReplayWindow(uint64_t max_age_ms = 120'000, size_t capacity = 65'536);

  // kOk (and the nonce is remembered), kStale or kReplayed.
  ChannelResult admit(const ChannelRequest& request, uint64_t now_unix_ms);

  size_t remembered() const noexcept { return order_.size(); }

 private:
  struct Entry {
    ChannelNonce nonce;
    uint64_t sent_unix_ms;
  };
  struct NonceHash {
    size_t operator()(const ChannelNonce& n) const noexcept;
  };

  void expire(uint64_t now_unix_ms);

  uint64_t max_age_ms_;
  size_t capacity_;
  uint64_t floor_unix_ms_ = 0;   // requests sent at or before this were evicted early: refuse
  std::deque<Entry> order_;      // in arrival order
  std::unordered_set<ChannelNonce, NonceHash> seen_;
};

// Classic token bucket: `rate_per_s` tokens a second, at most `burst` saved up.
class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst) noexcept;
  // Takes one token if there is one at `now_ns` (any monotonic clock, nanoseconds).
  bool try_take(uint64_t now_ns) noexcept;

 private:
  double rate_per_ns_;
  double burst_;
  double tokens_;
  uint64_t last_ns_ = 0;
  bool started_ = false;
};

}  // namespace synwarden
