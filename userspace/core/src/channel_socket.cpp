#include "synwarden/channel_socket.h"

#include "synwarden/address_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <utility>

namespace synwarden {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

uint16_t parse_port(std::string_view text, std::string_view whole, bool allow_zero) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      (value == 0 && !allow_zero) || value > 65535) {
    throw ChannelSocketError("address '" + std::string(whole) + "': port '" + std::string(text) +
                             "' is not a number from 1 to 65535");
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

SocketAddress SocketAddress::parse(std::string_view text, bool allow_port_zero) {
  SocketAddress out;
  const auto fail = [&](const char* why) {
    return ChannelSocketError("address '" + std::string(text) + "': " + why +
                              " (expected 192.0.2.7:7070 or [2001:db8::7]:7070)");
  };
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw fail("IPv6 address must be in brackets followed by :port");
    }
    const auto host = parse_ipv6_text(text.substr(1, close - 1));
    if (!host) throw fail("not an IPv6 address");
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, host->data(), host->size());
    sin6->sin6_port = htons(parse_port(text.substr(close + 2), text, allow_port_zero));
    out.length = sizeof(sockaddr_in6);
    return out;
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) throw fail("missing :port");
  const std::string_view host_text = text.substr(0, colon);
  if (host_text.find(':') != std::string_view::npos) throw fail("IPv6 address must be in brackets");
  const auto host = parse_ipv4_text(host_text);
  if (!host) throw fail("not an IPv4 address");
  auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
  sin->sin_family = AF_INET;
  std::memcpy(&sin->sin_addr, host->data(), host->size());
  sin->sin_port = htons(parse_port(text.substr(colon + 1), text, allow_port_zero));
  out.length = sizeof(sockaddr_in);
  return out;
}

SocketAddress SocketAddress::from(const sockaddr* sa, socklen_t len) {
  SocketAddress out;
  if (len > sizeof out.storage) len = sizeof out.storage;
  std::memcpy(&out.storage, sa, len);
  out.length = len;
  return out;
}

uint16_t SocketAddress::port() const noexcept {
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

std::string SocketAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(port());
  }
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port());
  }
  return "(unknown address family " + std::to_string(storage.ss_family) + ")";
}

UdpSocket UdpSocket::bind_to(const SocketAddress& local) {
  const int fd = ::socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ChannelSocketError("cannot create UDP socket: " + errno_text(errno));
  UdpSocket sock(fd);
  if (local.family() == AF_INET6) {
    // "[::]:port" then serves IPv4 pollers too (as v4-mapped addresses).
    int off = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (::bind(fd, local.get(), local.length) != 0) {
    const int err = errno;
    throw ChannelSocketError("cannot listen on " + local.to_string() + ": " + errno_text(err) +
                             (err == EADDRINUSE ? " (another agent already running?)"
                              : err == EADDRNOTAVAIL ? " (no interface has this address)"
                                                     : ""));
  }
  return sock;
}

UdpSocket UdpSocket::connect_to(const SocketAddress& peer) {
  const int fd = ::socket(peer.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ChannelSocketError("cannot create UDP socket: " + errno_text(errno));
  UdpSocket sock(fd);
  if (::connect(fd, peer.get(), peer.length) != 0) {
    throw ChannelSocketError("cannot address agent " + peer.to_string() + ": " + errno_text(errno));
  }
  return sock;
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

SocketAddress UdpSocket::local_address() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    throw ChannelSocketError("getsockname: " + errno_text(errno));
  }
  return SocketAddress::from(reinterpret_cast<sockaddr*>(&ss), len);
}

ssize_t UdpSocket::receive(std::span<uint8_t> buf, SocketAddress* from) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), MSG_TRUNC,
                               reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  if (from != nullptr) {
    from->storage = ss;
    from->length = len;
  }
  return n;
}

bool UdpSocket::send(std::span<const uint8_t> data, const SocketAddress* to) noexcept {
  const ssize_t n = to != nullptr
                        ? ::sendto(fd_, data.data(), data.size(), 0, to->get(), to->length)
                        : ::send(fd_, data.data(), data.size(), 0);
  return n == static_cast<ssize_t>(data.size());
}

}  // namespace synwarden
