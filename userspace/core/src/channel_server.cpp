#include "synwarden/channel_server.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <exception>
#include <utility>
#include <vector>

namespace synwarden {
namespace {

// Bounds the work one handle_pending() call does, so a flood of garbage cannot starve the
// agent's other duties (key rotation, signals); the rest is read on the next wake-up.
constexpr size_t kMaxDatagramsPerCall = 256;

}  // namespace

ChannelServer::ChannelServer(const ChannelServerOptions& options, ChannelKey key, PayloadFn payload,
                             RejectFn on_reject)
    : key_(std::move(key)),
      payload_(std::move(payload)),
      on_reject_(std::move(on_reject)),
      socket_(UdpSocket::bind_to(SocketAddress::parse(options.listen, /*allow_port_zero=*/true))),
      replay_(options.max_request_age_ms),
      limiter_(options.replies_per_s, options.reply_burst) {}

void ChannelServer::reject(ChannelResult r, const SocketAddress& from) {
  counters_.count(r);
  if (on_reject_) on_reject_(r, from);
}

size_t ChannelServer::handle_pending(uint64_t now_ns, uint64_t now_unix_ms) {
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  size_t handled = 0;
  while (handled < kMaxDatagramsPerCall) {
    SocketAddress from;
    const ssize_t n = socket_.receive(buf, &from);
    if (n <= 0) break;   // nothing waiting (or a transient error: poll will tell us again)
    ++handled;
    const size_t full = static_cast<size_t>(n);
    handle_one(std::span<const uint8_t>(buf.data(), std::min(full, buf.size())), full, from, now_ns,
               now_unix_ms);
  }
  return handled;
}

ChannelResult ChannelServer::admit(ChannelResult opened, const ChannelRequest& request,
                                   uint64_t now_ns, uint64_t now_unix_ms) {
  ChannelResult r = opened;
  if (r == ChannelResult::kOk) r = replay_.admit(request, now_unix_ms);
  // The rate limit applies only to requests that would be answered: an attacker without the
  // key cannot use up the legitimate pollers' budget.
  if (r == ChannelResult::kOk && !limiter_.try_take(now_ns)) r = ChannelResult::kRateLimited;
  return r;
}

void ChannelServer::send_reply(std::span<const uint8_t> reply, const SocketAddress& to) {
  counters_.count(ChannelResult::kOk);
  if (socket_.send(reply, &to)) {
    replies_sent_.fetch_add(1, std::memory_order_relaxed);
  } else {
    send_errors_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ChannelServer::handle_one(std::span<const uint8_t> datagram, size_t full_length,
                               const SocketAddress& from, uint64_t now_ns, uint64_t now_unix_ms) {
  if (full_length > kChannelMaxMessageBytes) {
    reject(ChannelResult::kOversized, from);
    return;
  }
  if (confirm_ && channel_datagram_has_type(datagram, ChannelMessageType::kConfirmRequest)) {
    handle_confirm(datagram, from, now_ns, now_unix_ms);
    return;
  }
  ChannelRequest request;
  const ChannelResult r = admit(open_channel_request(key_, datagram, request), request, now_ns,
                                now_unix_ms);
  if (r != ChannelResult::kOk) {
    reject(r, from);
    return;
  }

  std::string payload;
  try {
    payload = payload_();
  } catch (const std::exception&) {
    payload_errors_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::array<uint8_t, kChannelMaxMessageBytes> reply;
  const size_t len = seal_channel_reply(
      key_, request.nonce,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()),
      reply);
  sodium_memzero(payload.data(), payload.size());
  if (len == 0) {
    payload_errors_.fetch_add(1, std::memory_order_relaxed);   // payload too large to send
    return;
  }
  send_reply(std::span<const uint8_t>(reply.data(), len), from);
}

void ChannelServer::handle_confirm(std::span<const uint8_t> datagram, const SocketAddress& from,
                                   uint64_t now_ns, uint64_t now_unix_ms) {
  ConfirmRequest request;
  const ChannelResult r = admit(open_confirm_request(key_, datagram, request), request.header,
                                now_ns, now_unix_ms);
  if (r != ChannelResult::kOk) {
    reject(r, from);
    return;
  }
  std::array<bool, kConfirmMaxTuples> established{};
  const std::span<bool> answer(established.data(), request.tuples.size());
  bool looked_up = false;
  try {
    looked_up = confirm_(request.tuples, answer);
  } catch (const std::exception&) {
    looked_up = false;
  }
  if (!looked_up) {
    confirm_errors_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::vector<uint8_t> payload = encode_confirm_answer(answer);
  std::array<uint8_t, kChannelMaxMessageBytes> reply;
  const size_t len = seal_channel_reply(key_, request.header.nonce, payload, reply,
                                        ChannelMessageType::kConfirmReply);
  tuples_asked_.fetch_add(request.tuples.size(), std::memory_order_relaxed);
  tuples_established_.fetch_add(
      static_cast<uint64_t>(std::count(answer.begin(), answer.end(), true)),
      std::memory_order_relaxed);
  confirm_replies_.fetch_add(1, std::memory_order_relaxed);
  send_reply(std::span<const uint8_t>(reply.data(), len), from);
}

}  // namespace synwarden
