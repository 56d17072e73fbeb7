// The agent's socket-table lookup (agent/src/socket_table.h) against real TCP sockets of the
// kernel, in a network namespace of its own: a connection accepted by a listener is reported
// established by its exact 4-tuple (IPv4, IPv6, and IPv4 on a dual-stack IPv6 listener); a tuple
// that only shares the listener's port, a closed connection's TIME_WAIT entry and made-up tuples
// are not.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent_test_net.h"
#include "socket_table.h"
#include "synwarden/channel_confirm_client.h"
#include "synwarden/channel_server.h"
#include "synwarden/unique_fd.h"

namespace synwarden::agent {
namespace {

using test::InNetns;
using test::Netns;
using test::shell_ok;

constexpr const char* kHost4 = "192.0.2.10";
constexpr const char* kClient4 = "198.51.100.7";
constexpr const char* kHost6 = "2001:db8::10";
constexpr const char* kClient6 = "2001:db8:1::7";

sockaddr_storage address(int family, const char* text, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, text, &a->sin_addr), 1);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// A listener on host:0 (any port).
UniqueFd listen_on(int family, const char* host) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid());
  socklen_t len = 0;
  const sockaddr_storage a = address(family, host, 0, len);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), len), 0)
      << std::strerror(errno);
  EXPECT_EQ(::listen(fd.get(), 16), 0);
  return fd;
}

// A client bound to `client`, connected to host:port.
UniqueFd connect_from(int family, const char* client, const char* host, uint16_t port) {
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid());
  socklen_t len = 0;
  const sockaddr_storage from = address(family, client, 0, len);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from), len), 0);
  const sockaddr_storage to = address(family, host, port, len);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), len), 0)
      << std::strerror(errno);
  return fd;
}

ConfirmTuple tuple(uint8_t family, const char* client, uint16_t cport, const char* host,
                   uint16_t hport) {
  ConfirmTuple t;
  t.family = family;
  const int af = family == 4 ? AF_INET : AF_INET6;
  EXPECT_EQ(inet_pton(af, client, t.client_addr.data()), 1);
  EXPECT_EQ(inet_pton(af, host, t.host_addr.data()), 1);
  t.client_port = cport;
  t.host_port = hport;
  return t;
}

// One live connection: a listener (family `lfamily`, on `listen_addr`), a client from `client`
// connected to it at `host`, the accepted socket, and both ports.
struct Connection {
  UniqueFd listener, client, accepted;
  uint16_t port = 0, cport = 0;
};

Connection open_connection(int lfamily, const char* listen_addr, int family, const char* client,
                           const char* host) {
  Connection c;
  c.listener = listen_on(lfamily, listen_addr);
  c.port = local_port(c.listener.get());
  c.client = connect_from(family, client, host, c.port);
  c.accepted = UniqueFd(::accept4(c.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(c.accepted.valid());
  c.cport = local_port(c.client.get());
  return c;
}

std::vector<bool> ask(SocketTable& table, const std::vector<ConfirmTuple>& tuples) {
  std::array<bool, kConfirmMaxTuples> out{};
  std::string error;
  EXPECT_TRUE(table.established(tuples, std::span(out.data(), tuples.size()), error)) << error;
  return std::vector<bool>(out.begin(), out.begin() + static_cast<long>(tuples.size()));
}

class SocketTableInNetns : public ::testing::Test {
 protected:
  SocketTableInNetns() : ns_("swdiag" + std::to_string(::getpid())) {}
  void SetUp() override {
    shell_ok(ns_.exec() + "ip link set lo up");
    shell_ok(ns_.exec() + "ip addr add " + kHost4 + "/32 dev lo");
    shell_ok(ns_.exec() + "ip addr add " + kClient4 + "/32 dev lo");
    shell_ok(ns_.exec() + "ip addr add " + kHost6 + "/128 dev lo nodad");
    shell_ok(ns_.exec() + "ip addr add " + kClient6 + "/128 dev lo nodad");
  }
  Netns ns_;
};

TEST_F(SocketTableInNetns, AnAcceptedIpv4ConnectionIsEstablishedAndAMadeUpTupleIsNot) {
  InNetns in(ns_);
  SocketTable table;
  const Connection c = open_connection(AF_INET, kHost4, AF_INET, kClient4, kHost4);
  const uint16_t port = c.port, cport = c.cport;
  EXPECT_EQ(ask(table, {tuple(4, kClient4, cport, kHost4, port),
                        // same host port (the listener's), another client port: not a socket,
                        // although the kernel's lookup falls back to the listener for it
                        tuple(4, kClient4, static_cast<uint16_t>(cport + 1), kHost4, port),
                        tuple(4, "203.0.113.9", cport, kHost4, port),
                        tuple(4, kClient4, cport, kHost4, static_cast<uint16_t>(port + 1))}),
            (std::vector<bool>{true, false, false, false}));
}

TEST_F(SocketTableInNetns, AnAcceptedIpv6ConnectionIsEstablished) {
  InNetns in(ns_);
  SocketTable table;
  const Connection c = open_connection(AF_INET6, kHost6, AF_INET6, kClient6, kHost6);
  const uint16_t port = c.port, cport = c.cport;
  EXPECT_EQ(ask(table, {tuple(6, kClient6, cport, kHost6, port),
                        tuple(6, kClient6, static_cast<uint16_t>(cport ^ 0x5a5a), kHost6, port)}),
            (std::vector<bool>{true, false}));
}

TEST_F(SocketTableInNetns, AnIpv4ConnectionOnADualStackListenerIsFoundByItsIpv4Tuple) {
  InNetns in(ns_);
  SocketTable table;
  const Connection c = open_connection(AF_INET6, "::", AF_INET, kClient4, kHost4);
  const uint16_t port = c.port, cport = c.cport;
  EXPECT_EQ(ask(table, {tuple(4, kClient4, cport, kHost4, port),
                        tuple(4, kClient4, static_cast<uint16_t>(cport + 7), kHost4, port)}),
            (std::vector<bool>{true, false}));
}

TEST_F(SocketTableInNetns, AClosedConnectionIsNoLongerEstablished) {
  InNetns in(ns_);
  SocketTable table;
  Connection c = open_connection(AF_INET, kHost4, AF_INET, kClient4, kHost4);
  const ConfirmTuple t = tuple(4, kClient4, c.cport, kHost4, c.port);
  ASSERT_EQ(ask(table, {t}), (std::vector<bool>{true}));
  // The host closes first: its side goes through FIN_WAIT to TIME_WAIT once the client closes.
  c.accepted = UniqueFd();
  c.client = UniqueFd();
  for (int i = 0; i < 100 && ask(table, {t})[0]; ++i) ::usleep(10'000);
  EXPECT_EQ(ask(table, {t}), (std::vector<bool>{false}));
}

TEST_F(SocketTableInNetns, AFullBatchReportsExactlyTheLiveConnections) {
  InNetns in(ns_);
  SocketTable table;
  const UniqueFd listener = listen_on(AF_INET, kHost4);
  const uint16_t port = local_port(listener.get());
  std::vector<UniqueFd> clients, accepted;
  std::vector<ConfirmTuple> batch;
  std::vector<bool> expect;
  for (size_t i = 0; i < kConfirmMaxTuples; ++i) {
    if (i % 3 == 0) {
      clients.push_back(connect_from(AF_INET, kClient4, kHost4, port));
      accepted.emplace_back(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      batch.push_back(tuple(4, kClient4, local_port(clients.back().get()), kHost4, port));
      expect.push_back(true);
    } else {
      batch.push_back(tuple(4, "203.0.113.50", static_cast<uint16_t>(20000 + i), kHost4, port));
      expect.push_back(false);
    }
  }
  EXPECT_EQ(ask(table, batch), expect);
  // The table answers batch after batch on the same netlink socket.
  EXPECT_EQ(ask(table, batch), expect);
}

// What one answered request costs the agent: a full batch of exact lookups among many live
// sockets (the cost does not grow with the table: each lookup is one hash-bucket walk). Printed
// for docs/flow-recovery.md; the bound only catches a lookup that degraded into a table dump.
TEST_F(SocketTableInNetns, AFullBatchCostsWellUnderAMillisecond) {
  InNetns in(ns_);
  SocketTable table;
  const UniqueFd listener = listen_on(AF_INET, kHost4);
  const uint16_t port = local_port(listener.get());
  constexpr size_t kConnections = 300;
  std::vector<UniqueFd> clients, accepted;
  std::vector<ConfirmTuple> batch;
  for (size_t i = 0; i < kConnections; ++i) {
    clients.push_back(connect_from(AF_INET, kClient4, kHost4, port));
    accepted.emplace_back(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (batch.size() < kConfirmMaxTuples / 2) {
      batch.push_back(tuple(4, kClient4, local_port(clients.back().get()), kHost4, port));
    }
  }
  while (batch.size() < kConfirmMaxTuples) {
    batch.push_back(tuple(4, "203.0.113.50", static_cast<uint16_t>(1000 + batch.size()), kHost4,
                          port));
  }
  constexpr int kRounds = 200;
  std::array<bool, kConfirmMaxTuples> out{};
  std::string error;
  size_t confirmed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < kRounds; ++r) {
    ASSERT_TRUE(table.established(batch, out, error)) << error;
    confirmed += static_cast<size_t>(std::count(out.begin(), out.end(), true));
  }
  const double us_per_batch =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRounds;
  EXPECT_EQ(confirmed, size_t{kRounds} * (kConfirmMaxTuples / 2));
  std::printf("socket confirmation cost: %.1f us per batch of %zu lookups (%.2f us per tuple) "
              "with %zu established sockets\n",
              us_per_batch, kConfirmMaxTuples, us_per_batch / kConfirmMaxTuples, kConnections);
  EXPECT_LT(us_per_batch, 1000.0);
}

// The whole confirmation path but the firewall's dataplane: the firewall's ConfirmClient asks
// over the sealed channel, the agent's server answers from the kernel's socket table.
TEST_F(SocketTableInNetns, TheFirewallLearnsFromTheChannelWhichTupleIsALiveConnection) {
  InNetns in(ns_);
  std::array<uint8_t, kChannelKeyBytes> key_bytes;
  key_bytes.fill(0x5c);
  ChannelServerOptions server_options;
  server_options.listen = std::string(kHost4) + ":0";
  ChannelServer server(server_options, ChannelKey::from_bytes(key_bytes),
                       [] { return std::string("{}"); });
  SocketTable table;
  server.serve_confirm([&table](std::span<const ConfirmTuple> tuples, std::span<bool> out) {
    std::string error;
    return table.established(tuples, out, error);
  });
  std::vector<bool> answer;
  ConfirmClientOptions client_options;
  client_options.agent = server.local_address().to_string();
  ConfirmClient client(client_options, ChannelKey::from_bytes(key_bytes),
                       [&answer](std::span<const ConfirmTuple>, const std::vector<bool>& e) {
                         answer = e;
                       });

  const Connection c = open_connection(AF_INET, kHost4, AF_INET, kClient4, kHost4);
  const std::vector<ConfirmTuple> batch = {tuple(4, "203.0.113.77", 31337, kHost4, c.port),
                                           tuple(4, kClient4, c.cport, kHost4, c.port)};
  ASSERT_TRUE(client.ask(batch, monotonic_ms(), unix_time_ms()));
  pollfd p{server.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  server.handle_pending(monotonic_ns(), unix_time_ms());
  pollfd q{client.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&q, 1, 2000), 1);
  client.on_readable(monotonic_ms());
  EXPECT_EQ(answer, (std::vector<bool>{false, true}));
  EXPECT_EQ(server.confirm_tuples_established(), 1u);
  EXPECT_EQ(client.stats().tuples_confirmed, 1u);
}

TEST(SocketTable, RefusesABatchLargerThanTheProtocolAllows) {
  SocketTable table;
  std::vector<ConfirmTuple> batch(kConfirmMaxTuples + 1);
  std::array<bool, kConfirmMaxTuples + 1> out{};
  std::string error;
  EXPECT_FALSE(table.established(batch, out, error));
  EXPECT_NE(error.find("refused"), std::string::npos) << error;
}

}  // namespace
}  // namespace synwarden::agent
