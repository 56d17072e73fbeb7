// UDP plumbing shared by the agent's channel server and the firewall's poller: an address
// parser with operator-friendly errors and a non-blocking, close-on-exec UDP socket.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

// The channel times requests, replies and rate limits on monotonic_ms()/monotonic_ns() and
// seals unix_time_ms(): its users get the clocks with it.
#include "synwarden/clock_now.h"

namespace synwarden {

class ChannelSocketError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An IPv4 or IPv6 address with a port.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  // "192.0.2.7:7070", "[2001:db8::7]:7070", "0.0.0.0:7070", "[::]:7070". Numeric only: the
  // channel must not depend on DNS being up during an attack. Port 0 ("any free port", for a
  // listener in tests) only with `allow_port_zero`. Throws ChannelSocketError.
  static SocketAddress parse(std::string_view text, bool allow_port_zero = false);
  static SocketAddress from(const sockaddr* sa, socklen_t len);

  int family() const noexcept { return storage.ss_family; }
  uint16_t port() const noexcept;
  // Same textual form parse() accepts.
  std::string to_string() const;
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Owns one UDP socket. Non-copyable, movable.
class UdpSocket {
 public:
  // A socket bound to `local` (the agent's listen address).
  static UdpSocket bind_to(const SocketAddress& local);
  // A socket connected to `peer`: the kernel then delivers only datagrams from `peer`, so a
  // spoofer elsewhere cannot even reach the poller's parser (the firewall side).
  static UdpSocket connect_to(const SocketAddress& peer);

  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  int fd() const noexcept { return fd_; }
  SocketAddress local_address() const;

  // One datagram into `buf`; returns its full length (which may exceed buf.size(): the datagram
  // was truncated, MSG_TRUNC), 0 with errno EAGAIN when nothing is waiting, -1 on error.
  // `from` is filled when non-null.
  ssize_t receive(std::span<uint8_t> buf, SocketAddress* from) noexcept;
  // Sends to `to`, or to the connected peer when `to` is null. Returns false with errno set.
  bool send(std::span<const uint8_t> data, const SocketAddress* to) noexcept;

 private:
  explicit UdpSocket(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace synwarden
