// The HTTP side of the local API: cpp-httplib bound to the configured loopback address, with a
// body size limit (413 beyond it), JSON errors for what the library itself refuses, and a small
// thread pool. Requests are converted to ApiRequest and handed to a Dispatch function, which in
// the daemon runs the router on the control thread (ControlQueue); no API work ever runs on an
// AF_XDP worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "api_types.h"
#include "config.h"

namespace synwarden::daemon {

class ApiServer {
 public:
  using Dispatch = std::function<ApiResponse(const ApiRequest&)>;

  // Binds (and listens on) config.address:config.port at once, so the daemon fails at start-up
  // with the address and the reason if it cannot; port 0 picks a free port (tests). Requests
  // wait in the backlog until start(). Refuses a non-loopback address. Throws std::runtime_error.
  ApiServer(const ApiConfig& config, Dispatch dispatch);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  void start();  // serves on its own thread
  // Stops accepting, lets requests in flight finish, joins. Idempotent.
  void stop();

  uint16_t port() const noexcept { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace synwarden::daemon
