// The HTTP side of the local API: a small HTTP/1.1 server of its own on the configured loopback
// address. Requests are parsed (http_request.h), converted to ApiRequest and handed to a
// Dispatch function, which in the daemon runs the router on the control thread (ControlQueue);
// no API work ever runs on an AF_XDP worker.
//
// Why not a thread-per-connection library server: the operator must always be able to run
// `synwardenctl protect` during an attack, so a few clients that trickle one byte per second (or
// simply connect and wait) must not hold the threads that serve requests. Here one I/O thread
// owns every connection (epoll, non-blocking sockets) and enforces deadlines on each: headers
// complete within `header_timeout`, the body within `body_timeout`, an idle keep-alive
// connection is closed after `idle_timeout`, a response must be taken within `write_timeout`.
// Only complete requests reach the dispatch threads, and those serve the operator's requests
// (status, protect, host changes, reload) before bulk reads (stats, metrics, host lists), so a
// burst of /stats cannot queue ahead of a protect change.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "api_types.h"
#include "config.h"

namespace synwarden::daemon {

struct ApiServerLimits {
  std::chrono::milliseconds header_timeout{2000};  // first byte of a request -> end of headers
  std::chrono::milliseconds body_timeout{5000};    // end of headers -> end of body
  std::chrono::milliseconds idle_timeout{5000};    // keep-alive connection without a request
  std::chrono::milliseconds write_timeout{5000};   // response written -> taken by the client
  // Open connections at most. At the limit a new connection takes the place of the one that
  // has waited longest for its headers to complete (a slow client), or is refused with 503 if
  // every connection has a complete request.
  uint32_t max_connections = 512;
  // Accept queue: holds a burst of the documented load (50 slow clients and 200 concurrent
  // requests) while the I/O thread accepts. The kernel caps it at net.core.somaxconn.
  int listen_backlog = 1024;
  // Threads calling Dispatch: one serves only operator requests, the others serve both kinds
  // (operator requests first). The control thread runs one request at a time anyway.
  uint32_t dispatch_threads = 2;
};

// What the server refused or closed, for logs, tests and metrics. Monotonic.
struct ApiServerCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused_at_limit = 0;  // 503 at max_connections
  uint64_t connections_evicted_at_limit = 0;  // slowest header reader closed for a new one
  uint64_t header_timeouts = 0;               // 408
  uint64_t body_timeouts = 0;                 // 408
  uint64_t idle_closed = 0;
  uint64_t write_timeouts = 0;
  uint64_t requests_refused = 0;  // malformed, 413, 414, 431, 501, 505
  uint64_t requests_dispatched = 0;
};

class ApiServer {
 public:
  using Dispatch = std::function<ApiResponse(const ApiRequest&)>;

  // Binds and listens on config.address:config.port at once, so the daemon fails at start-up
  // with the address and the reason if it cannot; port 0 picks a free port (tests). Requests
  // wait in the backlog until start(). Refuses a non-loopback address. Throws std::runtime_error.
  ApiServer(const ApiConfig& config, Dispatch dispatch, ApiServerLimits limits = {});
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  void start();  // serves on its own threads
  // Stops accepting, lets requests in flight finish (bounded by write_timeout), joins.
  // Idempotent.
  void stop();

  uint16_t port() const noexcept { return port_; }
  ApiServerCounters counters() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

// True for requests served after the operator's: GET /stats, /metrics, /hosts (bulk reads).
bool is_bulk_request(const ApiRequest& request) noexcept;

}  // namespace synwarden::daemon
