#include "api_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "log.h"

namespace synwarden::daemon {

namespace {

// Two request threads: the control thread serialises the work anyway; two let a slow request
// (a /metrics scrape walking a large flow table) not hold up a protect toggle's HTTP parsing.
constexpr size_t kRequestThreads = 2;
// Bounds how long stop() waits for an idle keep-alive connection to notice the shutdown.
constexpr time_t kKeepAliveSeconds = 1;

// httplib's default also sets SO_REUSEPORT, which would let a second daemon bind the same port
// and silently receive half the requests. SO_REUSEADDR alone lets a restarted daemon bind while
// old connections sit in TIME_WAIT.
void socket_options(int fd) {
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

// Why binding failed: httplib only says that it did.
std::string bind_error(const IpAddress& address, uint16_t port) {
  const bool v4 = address.family == IpAddress::Family::kIpv4;
  const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  socket_options(fd);
  int rc;
  if (v4) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    std::memcpy(&sa.sin_addr, address.bytes.data(), 4);
    rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, address.bytes.data(), 16);
    rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  }
  const std::string why = rc == 0 ? "unknown reason" : std::strerror(errno);
  ::close(fd);
  return why;
}

const char* default_error_text(int status) {
  switch (status) {
    case 400: return "malformed HTTP request";
    case 404: return "no such resource";
    case 413: return "request body too large (api.max_body_bytes)";
    case 414: return "request URI too long";
    default: return "request refused";
  }
}

}  // namespace

struct ApiServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> thread_done{false};
  bool stopped = false;
};

ApiServer::ApiServer(const ApiConfig& config, Dispatch dispatch) : impl_(std::make_unique<Impl>()) {
  if (!config.address.is_loopback()) {
    throw std::runtime_error("the API may only listen on a loopback address, not " +
                             config.address.to_string());
  }
  httplib::Server& s = impl_->server;
  s.new_task_queue = [] { return new httplib::ThreadPool(kRequestThreads); };
  s.set_socket_options(socket_options);
  s.set_payload_max_length(config.max_body_bytes);
  s.set_keep_alive_timeout(kKeepAliveSeconds);
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  const auto handler = [dispatch = std::move(dispatch)](const httplib::Request& req,
                                                        httplib::Response& res) {
    ApiRequest request;
    request.method = req.method;
    request.path = req.path;
    request.body = req.body;
    request.content_type = req.get_header_value("Content-Type");
    request.host = req.get_header_value("Host");
    const ApiResponse response = dispatch(request);
    res.status = response.status;
    if (!response.allow.empty()) res.set_header("Allow", response.allow);
    res.set_content(response.body, response.content_type);
  };
  s.Get(".*", handler);
  s.Post(".*", handler);
  s.Delete(".*", handler);
  s.Put(".*", handler);
  s.Patch(".*", handler);
  // The library's own refusals (413 over the body limit, unparsable requests) get the same
  // JSON error shape as the router's; responses that already have a body are left alone.
  const httplib::Server::HandlerWithResponse on_error = [](const httplib::Request&,
                                                           httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    res.set_content(ApiResponse::json_error(res.status, default_error_text(res.status)).body,
                    "application/json");
    return httplib::Server::HandlerResponse::Handled;
  };
  s.set_error_handler(on_error);

  const std::string host = config.address.to_string();
  if (config.port == 0) {
    const int port = s.bind_to_any_port(host);
    if (port <= 0) {
      throw std::runtime_error("cannot bind the API to " + host + " (any port): " +
                               bind_error(config.address, 0));
    }
    port_ = static_cast<uint16_t>(port);
  } else {
    if (!s.bind_to_port(host, config.port)) {
      throw std::runtime_error("cannot bind the API to " + host + " port " +
                               std::to_string(config.port) + ": " +
                               bind_error(config.address, config.port) +
                               " (another synwarden or program uses it? set api.port)");
    }
    port_ = config.port;
  }
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
  if (impl_->stopped || impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] {
    if (!impl_->server.listen_after_bind()) log_error("the API server stopped unexpectedly");
    impl_->thread_done.store(true);
  });
  pthread_setname_np(impl_->thread.native_handle(), "sw-api");
}

void ApiServer::stop() {
  if (!impl_ || impl_->stopped) return;
  // httplib's stop() does nothing until the accept loop has marked itself running (and only
  // closing the listening socket ends that loop), so a server is always started before it is
  // stopped, and stop() waits for the loop to be up.
  start();
  impl_->stopped = true;
  while (!impl_->server.is_running() && !impl_->thread_done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace synwarden::daemon
