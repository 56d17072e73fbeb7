// Firewall side of socket confirmation (channel_confirm.h): asks one protected host's agent
// which of a batch of 4-tuples are established sockets, one request outstanding at a time, and
// hands the answer to the caller, who learns the confirmed flows. Its own connected UDP socket
// (the kernel delivers only the agent's datagrams to it), beside the host's SecretPoller.
//
// Single-threaded and time-driven like SecretPoller: the caller calls ask(), tick() and
// on_readable(); nothing here sleeps. Counters may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "synwarden/channel.h"
#include "synwarden/channel_confirm.h"
#include "synwarden/channel_key.h"
#include "synwarden/channel_socket.h"

namespace synwarden {

struct ConfirmClientOptions {
  std::string agent;                // "192.0.2.7:7070" or "[2001:db8::7]:7070"
  uint32_t reply_timeout_ms = 500;  // an unanswered request is given up after this
};

struct ConfirmClientStats {
  uint64_t requests_sent = 0;
  uint64_t replies = 0;            // valid answers received
  uint64_t timeouts = 0;           // requests given up (agent silent, rate-limited, or lost)
  uint64_t send_errors = 0;
  uint64_t tuples_asked = 0;       // tuples in answered requests
  uint64_t tuples_confirmed = 0;   // ... that the agent reported established
  uint64_t tuples_refused = 0;     // ... that it did not (no such socket on the host)
};

class ConfirmClient {
 public:
  // The answer to one request: the tuples asked, in order, and one flag per tuple.
  using AnswerFn = std::function<void(std::span<const ConfirmTuple> tuples,
                                      const std::vector<bool>& established)>;

  // Throws ChannelSocketError for a bad agent address.
  ConfirmClient(ConfirmClientOptions options, ChannelKey key, AnswerFn on_answer);

  int fd() const noexcept { return socket_.fd(); }
  bool busy() const noexcept { return outstanding_; }

  // Sends one request for `tuples` (1..kConfirmMaxTuples) unless one is outstanding. Returns
  // false (nothing sent) when busy, when the batch is empty or too large, or when the send
  // failed (counted). `now_ms`: CLOCK_MONOTONIC ms; `now_unix_ms`: wall clock, sealed in.
  bool ask(std::span<const ConfirmTuple> tuples, uint64_t now_ms, uint64_t now_unix_ms);

  // Gives up the outstanding request once it is older than the reply timeout.
  void tick(uint64_t now_ms);

  // Reads every datagram waiting on the socket; a valid answer to the outstanding request goes
  // to AnswerFn, everything else is counted in channel_counters() by reason.
  void on_readable(uint64_t now_ms);

  const ChannelCounters& channel_counters() const noexcept { return channel_counters_; }
  ConfirmClientStats stats() const noexcept;

 private:
  ConfirmClientOptions options_;
  ChannelKey key_;
  AnswerFn on_answer_;
  UdpSocket socket_;

  bool outstanding_ = false;
  ChannelNonce expected_{};
  uint64_t sent_ms_ = 0;
  std::vector<ConfirmTuple> asked_;

  ChannelCounters channel_counters_;
  std::atomic<uint64_t> requests_sent_{0}, replies_{0}, timeouts_{0}, send_errors_{0},
      tuples_asked_{0}, tuples_confirmed_{0}, tuples_refused_{0};
};

}  // namespace synwarden
