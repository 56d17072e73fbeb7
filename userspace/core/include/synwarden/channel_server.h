// Agent side of the secret channel: answers authenticated, fresh, not-yet-seen requests with a
// sealed reply carrying the payload the agent builds at that moment (its secrets document with a
// current clock sample). Everything else is counted by reason and dropped without an answer.
//
// Single-threaded: the agent's loop polls fd() and calls handle_pending(). Counters may be read
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "synwarden/channel.h"
#include "synwarden/channel_confirm.h"
#include "synwarden/channel_guard.h"
#include "synwarden/channel_key.h"
#include "synwarden/channel_socket.h"

namespace synwarden {

struct ChannelServerOptions {
  std::string listen = "0.0.0.0:7070";
  uint64_t max_request_age_ms = 120'000;  // accepted |agent clock - request send time|
  // Replies a second the agent sends at most, and the burst above that. One firewall polls
  // each host once a second; a few firewalls (HA pairs, a standby) stay far below this.
  double replies_per_s = 20;
  double reply_burst = 40;
};

class ChannelServer {
 public:
  // Builds the reply payload (the serialised secrets) at reply time. May throw; the request is
  // then left unanswered and counted in payload_errors(). The returned string is wiped after
  // sealing.
  using PayloadFn = std::function<std::string()>;
  // Told about every rejected datagram (reason and source only; never any content), so the
  // agent can log at a rate of its choosing.
  using RejectFn = std::function<void(ChannelResult, const SocketAddress& from)>;

  // Answers a socket-confirmation request (channel_confirm.h): fills `established` (one flag
  // per tuple, already sized) from the host's socket table. Returns false when the lookup
  // itself failed; the request is then left unanswered and counted in confirm_errors().
  using ConfirmFn =
      std::function<bool(std::span<const ConfirmTuple> tuples, std::span<bool> established)>;

  // Binds the listen address. Throws ChannelSocketError.
  ChannelServer(const ChannelServerOptions& options, ChannelKey key, PayloadFn payload,
                RejectFn on_reject = {});

  // Serve confirmation requests. Without it they are refused as kWrongType, like any other
  // message this server does not serve. A confirmation request goes through the same framing,
  // key, replay and rate-limit checks (one token per request, whatever its tuple count) and is
  // counted under the same ChannelResult reasons.
  void serve_confirm(ConfirmFn confirm) { confirm_ = std::move(confirm); }

  int fd() const noexcept { return socket_.fd(); }
  SocketAddress local_address() const { return socket_.local_address(); }

  // Handles every datagram waiting on the socket. `now_ns`: CLOCK_MONOTONIC (rate limit);
  // `now_unix_ms`: wall clock (request freshness). Returns how many datagrams were read.
  size_t handle_pending(uint64_t now_ns, uint64_t now_unix_ms);

  const ChannelCounters& counters() const noexcept { return counters_; }
  uint64_t replies_sent() const noexcept { return replies_sent_.load(std::memory_order_relaxed); }
  uint64_t payload_errors() const noexcept { return payload_errors_.load(std::memory_order_relaxed); }
  uint64_t send_errors() const noexcept { return send_errors_.load(std::memory_order_relaxed); }
  // Socket confirmation: requests answered, tuples in them, tuples found established, and
  // requests left unanswered because the lookup failed.
  uint64_t confirm_replies() const noexcept {
    return confirm_replies_.load(std::memory_order_relaxed);
  }
  uint64_t confirm_tuples_asked() const noexcept {
    return tuples_asked_.load(std::memory_order_relaxed);
  }
  uint64_t confirm_tuples_established() const noexcept {
    return tuples_established_.load(std::memory_order_relaxed);
  }
  uint64_t confirm_errors() const noexcept {
    return confirm_errors_.load(std::memory_order_relaxed);
  }

 private:
  void handle_one(std::span<const uint8_t> datagram, size_t full_length, const SocketAddress& from,
                  uint64_t now_ns, uint64_t now_unix_ms);
  void handle_confirm(std::span<const uint8_t> datagram, const SocketAddress& from,
                      uint64_t now_ns, uint64_t now_unix_ms);
  ChannelResult admit(ChannelResult opened, const ChannelRequest& request, uint64_t now_ns,
                      uint64_t now_unix_ms);
  void send_reply(std::span<const uint8_t> reply, const SocketAddress& to);
  void reject(ChannelResult r, const SocketAddress& from);

  ChannelKey key_;
  PayloadFn payload_;
  RejectFn on_reject_;
  ConfirmFn confirm_;
  UdpSocket socket_;
  ChannelReplayWindow replay_;
  TokenBucket limiter_;
  ChannelCounters counters_;
  std::atomic<uint64_t> replies_sent_{0};
  std::atomic<uint64_t> payload_errors_{0};
  std::atomic<uint64_t> send_errors_{0};
  std::atomic<uint64_t> confirm_replies_{0};
  std::atomic<uint64_t> tuples_asked_{0};
  std::atomic<uint64_t> tuples_established_{0};
  std::atomic<uint64_t> confirm_errors_{0};
};

}  // namespace synwarden
