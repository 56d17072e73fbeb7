// Specification of the API server under hostile clients, over real loopback sockets: slow
// clients cannot hold the server, deadlines close them, oversized or negative declared bodies
// are refused at once, a Host header is required, a %00 in the path never reaches the control
// plane, a burst of connections fits the backlog, and the operator's requests are served ahead
// of a burst of bulk reads.
#include "api_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api_router.h"
#include "api_test_support.h"
#include "control_queue.h"
#include "metrics_api_server.h"
#include "synwarden/unique_fd.h"

namespace synwarden::daemon {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

UniqueFd connect_to(uint16_t port, bool nonblocking = false) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  if (rc != 0 && !(nonblocking && errno == EINPROGRESS)) ADD_FAILURE() << "connect: " << errno;
  return fd;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until the server closes or one whole response (headers + Content-Length) arrived.
std::string read_response(int fd, std::chrono::milliseconds timeout) {
  std::string in;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const auto header_end = in.find("\r\n\r\n");
    if (header_end != std::string::npos) {
      const auto at = in.find("Content-Length: ");
      const size_t length = at == std::string::npos ? 0 : std::stoul(in.substr(at + 16));
      if (in.size() >= header_end + 4 + length) return in;
    }
    pollfd p{fd, POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return in;
    in.append(buffer, static_cast<size_t>(n));
  }
  return in;
}

// True if the server closed the connection (EOF) within `timeout`.
bool closed_by_server(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char byte;
  return ::recv(fd, &byte, 1, MSG_DONTWAIT) == 0;
}

int status_of(const std::string& response) {
  return response.size() >= 12 ? std::stoi(response.substr(9, 3)) : 0;
}

struct Timed {
  int status;
  std::string response;
  std::chrono::milliseconds elapsed;
};

Timed timed_request(uint16_t port, const std::string& bytes,
                    std::chrono::milliseconds timeout = 3s) {
  const auto t0 = Clock::now();
  UniqueFd fd = connect_to(port);
  send_all(fd.get(), bytes);
  std::string response = read_response(fd.get(), timeout);
  return {status_of(response), response,
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0)};
}

const std::string kStatus = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// Clients that send a request one byte at a time, every `interval`, until stopped.
class Tricklers {
 public:
  Tricklers(uint16_t port, size_t count, std::chrono::milliseconds interval) {
    for (size_t i = 0; i < count; ++i) fds_.push_back(connect_to(port));
    thread_ = std::thread([this, interval] {
      const std::string request = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
      for (size_t at = 0; at < request.size() && !stop_.load(); ++at) {
        for (auto& fd : fds_) ::send(fd.get(), &request[at], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        std::this_thread::sleep_for(interval);
      }
    });
  }
  ~Tricklers() {
    stop_.store(true);
    thread_.join();
  }
  int fd(size_t i) const { return fds_[i].get(); }

 private:
  std::vector<UniqueFd> fds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The real router behind the real server, dispatched as in the daemon: through a ControlQueue
// to a control thread that runs one request at a time, in arrival order; a /stats costs
// `stats_cost` there.
class ApiServerHostile : public ::testing::Test {
 protected:
  ~ApiServerHostile() override {
    if (server_) server_->stop();
    stop_control_.store(true);
    if (control_thread_.joinable()) control_thread_.join();
  }

  void start(std::chrono::milliseconds stats_cost = 0ms, ApiServerLimits limits = {}) {
    control_thread_ = std::thread([this] {
      while (!stop_control_.load()) {
        pollfd p{queue_.fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) queue_.run_pending();
      }
      queue_.close();
    });
    ApiConfig config;
    config.port = 0;
    server_ = std::make_unique<ApiServer>(
        config,
        [this, stats_cost](const ApiRequest& r) {
          ApiResponse response = ApiResponse::json_error(503, "not run");
          queue_.call(
              [&] {
                if (r.path == "/stats") std::this_thread::sleep_for(stats_cost);
                response = router_.handle(r);
              },
              10s);
          return response;
        },
        limits);
    server_->start();
  }

  FakeApi api_;
  ApiRouter router_{api_, api_};
  ControlQueue queue_;
  std::atomic<bool> stop_control_{false};
  std::thread control_thread_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerHostile, ClientsTricklingOneBytePerSecondDoNotDelayStatus) {
  start();
  for (const size_t slow : {4u, 50u}) {
    Tricklers tricklers(server_->port(), slow, 1000ms);
    std::this_thread::sleep_for(300ms);  // every trickler has sent its first byte
    for (int i = 0; i < 5; ++i) {
      const Timed t = timed_request(server_->port(), kStatus);
      EXPECT_EQ(t.status, 200) << slow << " slow clients";
      EXPECT_LT(t.elapsed, 1000ms) << slow << " slow clients";
    }
  }
}

TEST_F(ApiServerHostile, TricklingConnectionsAreClosedAfterTheHeaderDeadline) {
  start();
  const auto t0 = Clock::now();
  Tricklers tricklers(server_->port(), 4, 1000ms);
  // The default header deadline is 2 s; the request would take 40 s at this pace.
  for (size_t i = 0; i < 4; ++i) {
    const std::string answer = read_response(tricklers.fd(i), 6s);
    EXPECT_EQ(status_of(answer), 408) << answer;
    EXPECT_THAT(answer, HasSubstr("Connection: close"));
    EXPECT_TRUE(closed_by_server(tricklers.fd(i), 1s));
  }
  EXPECT_LT(Clock::now() - t0, 4s);
  EXPECT_EQ(server_->counters().header_timeouts, 4u);
}

TEST_F(ApiServerHostile, AHugeOrNegativeContentLengthIsAnsweredAtOnce) {
  start();
  const Timed huge =
      timed_request(server_->port(),
                    "POST /hosts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: 10000000000\r\n\r\n{");
  EXPECT_EQ(huge.status, 413) << huge.response;
  EXPECT_LT(huge.elapsed, 500ms);
  const Timed negative =
      timed_request(server_->port(),
                    "POST /hosts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: -1\r\n\r\n{}");
  EXPECT_EQ(negative.status, 400) << negative.response;
  EXPECT_LT(negative.elapsed, 500ms);
  EXPECT_THAT(negative.response, HasSubstr("\"error\""));
  EXPECT_TRUE(api_.calls.empty());
}

TEST_F(ApiServerHostile, AnHttp11RequestWithoutHostIsRefused) {
  start();
  const Timed t = timed_request(server_->port(),
                                "POST /hosts/192.0.2.10/protect HTTP/1.1\r\n"
                                "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n"
                                R"({"protection":false})");
  EXPECT_EQ(t.status, 400) << t.response;
  EXPECT_THAT(t.response, HasSubstr("no Host header"));
  EXPECT_TRUE(api_.calls.empty());
}

TEST_F(ApiServerHostile, ANulEscapeInThePathNeverReachesTheControlPlane) {
  start();
  for (const char* request : {"POST /hosts/198.51.100.10%00/protect HTTP/1.1\r\n",
                              "DELETE /hosts/198.51.100.10%00 HTTP/1.1\r\n"}) {
    const Timed t =
        timed_request(server_->port(), std::string(request) +
                                           "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                           "Content-Length: 20\r\n\r\n"
                                           R"({"protection":false})");
    EXPECT_EQ(t.status, 400) << t.response;
  }
  EXPECT_TRUE(api_.calls.empty());
}

TEST_F(ApiServerHostile, ABurstOfTwoHundredConnectionsFitsTheBacklog) {
  ApiConfig config;
  config.port = 0;
  ApiServer server(config, [this](const ApiRequest& r) { return router_.handle(r); });
  // Not started: the kernel completes handshakes into the accept queue only while it has room;
  // beyond it the SYNs are dropped and retried after a second.
  std::vector<UniqueFd> fds;
  for (int i = 0; i < 200; ++i) fds.push_back(connect_to(server.port(), true));
  std::vector<pollfd> polls;
  for (const auto& fd : fds) polls.push_back({fd.get(), POLLOUT, 0});
  std::this_thread::sleep_for(200ms);
  ::poll(polls.data(), polls.size(), 0);
  size_t connected = 0;
  for (const auto& p : polls) connected += (p.revents & POLLOUT) ? 1 : 0;
  EXPECT_EQ(connected, 200u) << "connections still waiting for the handshake";
  server.start();
  for (const auto& fd : fds) {
    send_all(fd.get(), "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  }
  const auto t0 = Clock::now();
  size_t answered = 0;
  for (const auto& fd : fds) {
    ::fcntl(fd.get(), F_SETFL, 0);
    answered += status_of(read_response(fd.get(), 5s)) == 200 ? 1 : 0;
  }
  EXPECT_EQ(answered, 200u);
  EXPECT_LT(Clock::now() - t0, 3s);
}

TEST_F(ApiServerHostile, StatusAndProtectAreServedAheadOfABurstOfStats) {
  start(20ms);  // 100 queued /stats take 2 s of control-thread time
  std::vector<UniqueFd> burst;
  for (int i = 0; i < 100; ++i) {
    burst.push_back(connect_to(server_->port()));
    send_all(burst.back().get(), "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  }
  std::this_thread::sleep_for(50ms);  // the burst is queued
  const Timed status = timed_request(server_->port(), kStatus);
  EXPECT_EQ(status.status, 200);
  EXPECT_LT(status.elapsed, 500ms) << "waited behind the /stats burst";
  const Timed protect =
      timed_request(server_->port(),
                    "POST /hosts/192.0.2.10/protect HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n"
                    R"({"protection":false})");
  EXPECT_EQ(protect.status, 200);
  EXPECT_LT(protect.elapsed, 500ms) << "waited behind the /stats burst";
  for (const auto& fd : burst) EXPECT_EQ(status_of(read_response(fd.get(), 5s)), 200);
}

TEST_F(ApiServerHostile, AtTheConnectionLimitTheLongestWaitingConnectionGivesWay) {
  ApiServerLimits limits;
  limits.max_connections = 8;
  start(0ms, limits);
  std::vector<UniqueFd> silent;
  for (int i = 0; i < 8; ++i) silent.push_back(connect_to(server_->port()));
  std::this_thread::sleep_for(100ms);
  const Timed t = timed_request(server_->port(), kStatus);
  EXPECT_EQ(t.status, 200) << "the operator's connection got in";
  EXPECT_GE(server_->counters().connections_evicted_at_limit, 1u);
  EXPECT_TRUE(closed_by_server(silent[0].get(), 1s)) << "the oldest was closed";
}

TEST_F(ApiServerHostile, RefusalsAreCountedAndExportedToMetrics) {
  start();
  timed_request(server_->port(), "GET /hosts/%00 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  timed_request(server_->port(), kStatus);
  const ApiServerCounters c = server_->counters();
  EXPECT_EQ(c.requests_refused, 1u);
  EXPECT_EQ(c.requests_dispatched, 1u);
  EXPECT_EQ(c.connections_accepted, 2u);
  const std::string text = render_api_server_prometheus(c);
  EXPECT_THAT(text, HasSubstr("synwarden_api_requests_refused_total 1\n"));
  EXPECT_THAT(text, HasSubstr("synwarden_api_connections_total{event=\"accepted\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE synwarden_api_connections_closed_total counter\n"));
}

}  // namespace
}  // namespace synwarden::daemon
