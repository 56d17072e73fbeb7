#include "synwarden/channel_guard.h"

#include <algorithm>
#include <cstring>

namespace synwarden {

size_t ChannelReplayWindow::NonceHash::operator()(const ChannelNonce& n) const noexcept {
  // Nonces are uniformly random (randombytes_buf on the sender), so any 8 of their bytes are
  // already a good hash; a forged nonce never reaches this set because requests are
  // authenticated first.
  size_t h;
  std::memcpy(&h, n.data(), sizeof h);
  return h;
}

ChannelReplayWindow::ChannelReplayWindow(uint64_t max_age_ms, size_t capacity)
    : max_age_ms_(max_age_ms), capacity_(std::max<size_t>(capacity, 1)) {}

void ChannelReplayWindow::expire(uint64_t now_unix_ms) {
  // Entries are in arrival order, not send order, so this stops at the first one still
  // inside the window; a few older ones may linger behind it until it goes, which only costs
  // memory, never correctness (they are refused as stale by time anyway).
  const uint64_t oldest_ok = now_unix_ms > max_age_ms_ ? now_unix_ms - max_age_ms_ : 0;
  while (!order_.empty() && order_.front().sent_unix_ms < oldest_ok) {
    floor_unix_ms_ = std::max(floor_unix_ms_, order_.front().sent_unix_ms);  // clock may step back
    seen_.erase(order_.front().nonce);
    order_.pop_front();
  }
}

ChannelResult ChannelReplayWindow::admit(const ChannelRequest& request, uint64_t now_unix_ms) {
  const uint64_t sent = request.sent_unix_ms;
  const uint64_t skew = sent > now_unix_ms ? sent - now_unix_ms : now_unix_ms - sent;
  if (skew > max_age_ms_ || sent <= floor_unix_ms_) return ChannelResult::kStale;
  expire(now_unix_ms);
  if (seen_.contains(request.nonce)) return ChannelResult::kReplayed;
  if (order_.size() >= capacity_) {
    floor_unix_ms_ = std::max(floor_unix_ms_, order_.front().sent_unix_ms);
    seen_.erase(order_.front().nonce);
    order_.pop_front();
    if (sent <= floor_unix_ms_) return ChannelResult::kStale;
  }
  order_.push_back({request.nonce, sent});
  seen_.insert(request.nonce);
  return ChannelResult::kOk;
}

TokenBucket::TokenBucket(double rate_per_s, double burst) noexcept
    : rate_per_ns_(rate_per_s / 1e9), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

bool TokenBucket::try_take(uint64_t now_ns) noexcept {
  if (started_ && now_ns > last_ns_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
  }
  if (!started_ || now_ns > last_ns_) last_ns_ = now_ns;
  started_ = true;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace synwarden
