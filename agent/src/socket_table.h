// The host's TCP socket table, asked one exact 4-tuple at a time through NETLINK_SOCK_DIAG
// (inet_diag): "is this an established connection on this host?" — the firewall's question for
// flows it dropped as unknown and cannot recover from a timestamp (channel_confirm.h).
//
// One request per tuple, all of a batch sent in one sendmsg(2) and answered in order by the
// kernel: no dump of the table, so the cost is a hash lookup per tuple whatever the number of
// sockets on the host (docs/flow-recovery.md has the numbers). Only the agent's network
// namespace is seen: run the agent in the namespace of the sockets it vouches for.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "synwarden/channel_confirm.h"
#include "synwarden/unique_fd.h"

namespace synwarden::agent {

class SocketTableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SocketTable {
 public:
  // Opens the netlink socket. Throws SocketTableError.
  SocketTable();

  // For each tuple (client = the peer, host = this host's address), whether a TCP socket in a
  // synchronized state (ESTABLISHED, or one of the closing states a live peer still sends to:
  // FIN_WAIT1/2, CLOSE_WAIT, CLOSING, LAST_ACK) has exactly that 4-tuple. A listener on the host
  // port, a TIME_WAIT or a half-open (SYN_RECV) socket is not "established". IPv4 tuples also
  // find dual-stack IPv6 sockets (v4-mapped). `established` must be as long as `tuples`
  // (≤ kConfirmMaxTuples). Returns false with `error` set if the kernel could not be asked.
  bool established(std::span<const ConfirmTuple> tuples, std::span<bool> established,
                   std::string& error);

 private:
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

}  // namespace synwarden::agent
