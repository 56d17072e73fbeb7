#include "synwarden/channel_confirm_client.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <utility>

namespace synwarden {
namespace {

// Bounds one on_readable() call, as the agent's server does: a flood reaching this socket (only
// the agent's address can, it is connected) cannot starve the caller's loop.
constexpr size_t kMaxDatagramsPerCall = 64;

}  // namespace

ConfirmClient::ConfirmClient(ConfirmClientOptions options, ChannelKey key, AnswerFn on_answer)
    : options_(std::move(options)),
      key_(std::move(key)),
      on_answer_(std::move(on_answer)),
      socket_(UdpSocket::connect_to(SocketAddress::parse(options_.agent))) {
  // Random while nothing is outstanding, so no reply matches by accident.
  randombytes_buf(expected_.data(), expected_.size());
}

bool ConfirmClient::ask(std::span<const ConfirmTuple> tuples, uint64_t now_ms,
                        uint64_t now_unix_ms) {
  if (outstanding_ || tuples.empty() || tuples.size() > kConfirmMaxTuples) return false;
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  const size_t len = seal_confirm_request(key_, now_unix_ms, tuples, expected_, buf);
  if (len == 0) return false;
  if (!socket_.send(std::span<const uint8_t>(buf.data(), len), nullptr)) {
    send_errors_.fetch_add(1, std::memory_order_relaxed);
    randombytes_buf(expected_.data(), expected_.size());
    return false;
  }
  asked_.assign(tuples.begin(), tuples.end());
  outstanding_ = true;
  sent_ms_ = now_ms;
  requests_sent_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ConfirmClient::tick(uint64_t now_ms) {
  if (!outstanding_ || now_ms - sent_ms_ < options_.reply_timeout_ms) return;
  outstanding_ = false;
  asked_.clear();
  randombytes_buf(expected_.data(), expected_.size());
  timeouts_.fetch_add(1, std::memory_order_relaxed);
}

void ConfirmClient::on_readable(uint64_t now_ms) {
  tick(now_ms);   // an answer later than the timeout is counted as a replay below
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  for (size_t i = 0; i < kMaxDatagramsPerCall; ++i) {
    const ssize_t n = socket_.receive(buf, nullptr);
    if (n <= 0) break;
    if (static_cast<size_t>(n) > buf.size()) {
      channel_counters_.count(ChannelResult::kOversized);
      continue;
    }
    std::vector<bool> established;
    const ChannelResult r =
        open_confirm_reply(key_, std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)),
                           expected_, asked_.size(), established);
    channel_counters_.count(r);
    if (r != ChannelResult::kOk || !outstanding_) continue;
    const auto confirmed =
        static_cast<uint64_t>(std::count(established.begin(), established.end(), true));
    replies_.fetch_add(1, std::memory_order_relaxed);
    tuples_asked_.fetch_add(asked_.size(), std::memory_order_relaxed);
    tuples_confirmed_.fetch_add(confirmed, std::memory_order_relaxed);
    tuples_refused_.fetch_add(asked_.size() - confirmed, std::memory_order_relaxed);
    const std::vector<ConfirmTuple> asked = std::move(asked_);
    asked_.clear();
    outstanding_ = false;
    randombytes_buf(expected_.data(), expected_.size());
    if (on_answer_) on_answer_(asked, established);
  }
}

ConfirmClientStats ConfirmClient::stats() const noexcept {
  ConfirmClientStats s;
  s.requests_sent = requests_sent_.load(std::memory_order_relaxed);
  s.replies = replies_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.send_errors = send_errors_.load(std::memory_order_relaxed);
  s.tuples_asked = tuples_asked_.load(std::memory_order_relaxed);
  s.tuples_confirmed = tuples_confirmed_.load(std::memory_order_relaxed);
  s.tuples_refused = tuples_refused_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace synwarden
