#include "api_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http_request.h"
#include "log.h"
#include "synwarden/unique_fd.h"

namespace synwarden::daemon {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kListenId = 0;
constexpr uint64_t kWakeId = 1;
// How long the I/O thread sleeps at most: the granularity of every deadline.
constexpr int kTickMs = 20;
// After an error response the connection is half-closed and read until the client closes it,
// so unread request bytes do not turn the close into a reset that destroys the response.
constexpr auto kDrainTime = std::chrono::milliseconds(1000);

struct Counters {
  std::atomic<uint64_t> accepted{0}, refused_at_limit{0}, evicted_at_limit{0}, header_timeouts{0},
      body_timeouts{0}, idle_closed{0}, write_timeouts{0}, requests_refused{0}, dispatched{0};
};

enum class Phase { kReading, kDispatching, kWriting, kDraining };

struct Connection {
  Connection(UniqueFd socket, size_t max_body) : fd(std::move(socket)), parser(max_body) {}
  UniqueFd fd;
  HttpRequestParser parser;
  Phase phase = Phase::kReading;
  Clock::time_point deadline;
  Clock::time_point waiting_since;  // when the current request's headers began to be awaited
  bool idle = false;                // keep-alive, between requests, no byte of the next yet
  bool in_body = false;
  std::string out;
  size_t out_done = 0;
  bool close_after_write = false;
  bool dead = false;  // closed; erased after the current event batch (callers hold references)
};

struct Job {
  uint64_t id;
  ApiRequest request;
  bool keep_alive;
};

struct Done {
  uint64_t id;
  std::string bytes;
  bool close;
};

void add_sockaddr(const IpAddress& address, uint16_t port, sockaddr_storage& storage,
                  socklen_t& length) {
  std::memset(&storage, 0, sizeof storage);
  if (address.family() == IpAddress::Family::kIpv4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&storage);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    std::memcpy(&sa->sin_addr, address.bytes().data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    std::memcpy(&sa->sin6_addr, address.bytes().data(), 16);
    length = sizeof(sockaddr_in6);
  }
}

uint16_t bound_port(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET)
    return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
}

std::string error_bytes(int status, const std::string& message) {
  return http_response_bytes(ApiResponse::json_error(status, message), true);
}

}  // namespace

bool is_bulk_request(const ApiRequest& request) noexcept {
  if (request.method != "GET") return false;
  const std::string& p = request.path;
  return p == "/stats" || p == "/metrics" || p == "/hosts" || p == "/hosts/";
}

struct ApiServer::Impl {
  ApiServerLimits limits;
  Dispatch dispatch;
  size_t max_body = 0;
  UniqueFd listen_fd;
  UniqueFd epoll_fd;
  UniqueFd wake_fd;
  Counters counters;

  // I/O thread state.
  std::thread io_thread;
  std::unordered_map<uint64_t, Connection> connections;
  uint64_t next_id = 2;
  bool accept_paused = false;
  Clock::time_point accept_resume;
  std::atomic<bool> stop_requested{false};

  // Dispatch queues: operator requests before bulk reads.
  std::vector<std::thread> dispatchers;
  std::mutex jobs_mutex;
  std::condition_variable jobs_cv;
  std::deque<Job> operator_jobs;
  std::deque<Job> bulk_jobs;
  bool dispatch_stopping = false;

  std::mutex done_mutex;
  std::vector<Done> done;

  bool started = false;
  bool stopped = false;

  void wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd.get(), &one, sizeof one);
  }

  void watch(uint64_t id, int fd, uint32_t events, int op) const {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = id;
    ::epoll_ctl(epoll_fd.get(), op, fd, &ev);
  }

  void close_connection(uint64_t id) {
    Connection& c = connections.at(id);
    c.dead = true;
    c.fd.reset();  // closing the socket also removes it from the epoll set
  }

  void io_loop();
  void accept_all(Clock::time_point now);
  bool make_room();
  void on_readable(uint64_t id, Connection& c, Clock::time_point now);
  void advance(uint64_t id, Connection& c, Clock::time_point now);
  void respond(uint64_t id, Connection& c, std::string bytes, bool close, Clock::time_point now);
  void flush(uint64_t id, Connection& c, Clock::time_point now);
  void collect_done(Clock::time_point now);
  void expire(Clock::time_point now);
  void dispatch_loop(bool operator_only);
};

void ApiServer::Impl::io_loop() {
  std::vector<epoll_event> events(64);
  std::optional<Clock::time_point> stop_deadline;
  while (true) {
    const auto now = Clock::now();
    if (stop_requested.load() && !stop_deadline) {
      stop_deadline = now + limits.write_timeout;
      listen_fd.reset();
    }
    if (stop_deadline) {
      // Stop accepting and reading; requests already complete are still answered.
      for (auto it = connections.begin(); it != connections.end();) {
        const Phase p = it->second.phase;
        it =
            (p == Phase::kReading || p == Phase::kDraining) ? connections.erase(it) : std::next(it);
      }
    }
    if (stop_deadline && (connections.empty() || now >= *stop_deadline)) break;
    const int n =
        ::epoll_wait(epoll_fd.get(), events.data(), static_cast<int>(events.size()), kTickMs);
    const auto after = Clock::now();
    for (int i = 0; i < n; ++i) {
      const uint64_t id = events[static_cast<size_t>(i)].data.u64;
      const uint32_t ev = events[static_cast<size_t>(i)].events;
      if (id == kListenId) {
        if (listen_fd.valid()) accept_all(after);
        continue;
      }
      if (id == kWakeId) {
        uint64_t value = 0;
        [[maybe_unused]] const ssize_t r = ::read(wake_fd.get(), &value, sizeof value);
        continue;
      }
      const auto it = connections.find(id);
      if (it == connections.end() || it->second.dead) continue;
      Connection& c = it->second;
      if (c.phase == Phase::kDispatching && (ev & (EPOLLERR | EPOLLHUP))) {
        close_connection(id);  // gone while its request is served: the answer is dropped
      } else if (c.phase == Phase::kWriting && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        flush(id, c, after);
      } else if ((c.phase == Phase::kReading || c.phase == Phase::kDraining) &&
                 (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        on_readable(id, c, after);
      }
    }
    collect_done(after);
    expire(after);
    std::erase_if(connections, [](const auto& entry) { return entry.second.dead; });
  }
  connections.clear();
}

// At the limit, the connection that has waited longest for its request to arrive gives way:
// a client that cannot send a few hundred bytes of request is the slow one, and the operator's
// new connection is the one with a request to serve.
bool ApiServer::Impl::make_room() {
  auto victim = connections.end();
  for (auto it = connections.begin(); it != connections.end(); ++it) {
    const Connection& c = it->second;
    if (c.dead || (c.phase != Phase::kReading && c.phase != Phase::kDraining)) continue;
    // Ties (connections accepted in one batch) go to the one accepted first.
    if (victim == connections.end() || c.waiting_since < victim->second.waiting_since ||
        (c.waiting_since == victim->second.waiting_since && it->first < victim->first)) {
      victim = it;
    }
  }
  if (victim == connections.end()) return false;
  connections.erase(victim);
  counters.evicted_at_limit.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ApiServer::Impl::accept_all(Clock::time_point now) {
  while (true) {
    const int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop polling the listener for a while instead of spinning on it;
        // the connection waits in the backlog.
        log_warning(std::string("API: cannot accept a connection: ") + std::strerror(errno) +
                    " (raise the daemon's file limit, LimitNOFILE)");
        watch(kListenId, listen_fd.get(), 0, EPOLL_CTL_MOD);
        accept_paused = true;
        accept_resume = now + std::chrono::milliseconds(100);
      }
      return;
    }
    UniqueFd socket(fd);
    counters.accepted.fetch_add(1, std::memory_order_relaxed);
    if (connections.size() >= limits.max_connections && !make_room()) {
      counters.refused_at_limit.fetch_add(1, std::memory_order_relaxed);
      const std::string bytes = error_bytes(503, "too many API connections (limit " +
                                                     std::to_string(limits.max_connections) +
                                                     ", each with a request in progress); retry");
      [[maybe_unused]] const ssize_t sent =
          ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    // Responses are one write each: no reason to let Nagle hold the tail of one.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const uint64_t id = next_id++;
    auto [it, inserted] = connections.try_emplace(id, std::move(socket), max_body);
    Connection& c = it->second;
    c.waiting_since = now;
    c.deadline = now + limits.header_timeout;
    watch(id, fd, EPOLLIN, EPOLL_CTL_ADD);
  }
}

void ApiServer::Impl::on_readable(uint64_t id, Connection& c, Clock::time_point now) {
  char buffer[16384];
  // Bounded per wake-up so one fast client cannot starve the others.
  for (int round = 0; round < 4; ++round) {
    const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_connection(id);  // the client went away (or reset): nothing to answer
      return;
    }
    if (n < 0) break;
    if (c.phase == Phase::kDraining) continue;  // discarded until the client closes
    if (c.idle) {
      c.idle = false;
      c.waiting_since = now;
      c.deadline = now + limits.header_timeout;
    }
    c.parser.feed(std::string_view(buffer, static_cast<size_t>(n)));
    advance(id, c, now);
    if (c.dead || c.phase != Phase::kReading) return;
    if (static_cast<size_t>(n) < sizeof buffer) break;
  }
}

// Acts on the parser's state after new bytes (or a finished response, for pipelined bytes).
void ApiServer::Impl::advance(uint64_t id, Connection& c, Clock::time_point now) {
  switch (c.parser.state()) {
    case HttpRequestParser::State::kHeaders:
      return;
    case HttpRequestParser::State::kBody:
      if (!c.in_body) {
        c.in_body = true;
        c.deadline = now + limits.body_timeout;
        if (c.parser.expects_continue()) {
          static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
          [[maybe_unused]] const ssize_t sent =
              ::send(c.fd.get(), kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
      }
      return;
    case HttpRequestParser::State::kError:
      counters.requests_refused.fetch_add(1, std::memory_order_relaxed);
      respond(id, c, error_bytes(c.parser.error_status(), c.parser.error_message()), true, now);
      return;
    case HttpRequestParser::State::kDone: {
      c.phase = Phase::kDispatching;
      watch(id, c.fd.get(), 0, EPOLL_CTL_MOD);  // no reading while the request is served
      Job job{id, c.parser.request(), c.parser.keep_alive()};
      const bool bulk = is_bulk_request(job.request);
      {
        std::lock_guard lock(jobs_mutex);
        (bulk ? bulk_jobs : operator_jobs).push_back(std::move(job));
      }
      counters.dispatched.fetch_add(1, std::memory_order_relaxed);
      jobs_cv.notify_all();
      return;
    }
  }
}

void ApiServer::Impl::respond(uint64_t id, Connection& c, std::string bytes, bool close,
                              Clock::time_point now) {
  c.out = std::move(bytes);
  c.out_done = 0;
  c.close_after_write = close;
  c.phase = Phase::kWriting;
  c.deadline = now + limits.write_timeout;
  flush(id, c, now);
}

void ApiServer::Impl::flush(uint64_t id, Connection& c, Clock::time_point now) {
  while (c.out_done < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_done, c.out.size() - c.out_done,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      watch(id, c.fd.get(), EPOLLOUT, EPOLL_CTL_MOD);
      return;
    }
    if (n < 0) {
      close_connection(id);
      return;
    }
    c.out_done += static_cast<size_t>(n);
  }
  c.out.clear();
  if (c.close_after_write) {
    ::shutdown(c.fd.get(), SHUT_WR);
    c.phase = Phase::kDraining;
    c.deadline = now + kDrainTime;
    watch(id, c.fd.get(), EPOLLIN, EPOLL_CTL_MOD);
    return;
  }
  c.phase = Phase::kReading;
  c.in_body = false;
  c.waiting_since = now;
  watch(id, c.fd.get(), EPOLLIN, EPOLL_CTL_MOD);
  c.parser.next();
  c.idle = !c.parser.started();
  c.deadline = now + (c.idle ? limits.idle_timeout : limits.header_timeout);
  advance(id, c, now);  // a pipelined request may be complete already
}

void ApiServer::Impl::collect_done(Clock::time_point now) {
  std::vector<Done> ready;
  {
    std::lock_guard lock(done_mutex);
    ready.swap(done);
  }
  for (Done& d : ready) {
    const auto it = connections.find(d.id);
    if (it == connections.end() || it->second.dead) continue;
    respond(d.id, it->second, std::move(d.bytes), d.close, now);
  }
}

void ApiServer::Impl::expire(Clock::time_point now) {
  if (accept_paused && now >= accept_resume && listen_fd.valid()) {
    accept_paused = false;
    watch(kListenId, listen_fd.get(), EPOLLIN, EPOLL_CTL_MOD);
  }
  std::vector<uint64_t> late;
  for (const auto& [id, c] : connections) {
    if (!c.dead && c.phase != Phase::kDispatching && now >= c.deadline) late.push_back(id);
  }
  for (const uint64_t id : late) {
    Connection& c = connections.at(id);
    switch (c.phase) {
      case Phase::kReading:
        if (c.idle) {
          counters.idle_closed.fetch_add(1, std::memory_order_relaxed);
          close_connection(id);
        } else if (c.in_body) {
          counters.body_timeouts.fetch_add(1, std::memory_order_relaxed);
          respond(id, c,
                  error_bytes(408, "the request body did not arrive within " +
                                       std::to_string(limits.body_timeout.count()) + " ms"),
                  true, now);
        } else {
          counters.header_timeouts.fetch_add(1, std::memory_order_relaxed);
          respond(id, c,
                  error_bytes(408, "the request headers did not arrive within " +
                                       std::to_string(limits.header_timeout.count()) + " ms"),
                  true, now);
        }
        break;
      case Phase::kWriting:
        counters.write_timeouts.fetch_add(1, std::memory_order_relaxed);
        close_connection(id);
        break;
      case Phase::kDraining:
        close_connection(id);
        break;
      case Phase::kDispatching:
        break;
    }
  }
}

void ApiServer::Impl::dispatch_loop(bool operator_only) {
  while (true) {
    Job job;
    {
      std::unique_lock lock(jobs_mutex);
      jobs_cv.wait(lock, [&] {
        return dispatch_stopping || !operator_jobs.empty() ||
               (!operator_only && !bulk_jobs.empty());
      });
      if (!operator_jobs.empty()) {
        job = std::move(operator_jobs.front());
        operator_jobs.pop_front();
      } else if (!operator_only && !bulk_jobs.empty()) {
        job = std::move(bulk_jobs.front());
        bulk_jobs.pop_front();
      } else {
        return;  // stopping, nothing left for this thread
      }
    }
    ApiResponse response;
    try {
      response = dispatch(job.request);
    } catch (const std::exception& e) {
      response = ApiResponse::json_error(500, std::string("internal error: ") + e.what());
    } catch (...) {
      response = ApiResponse::json_error(500, "internal error");
    }
    {
      std::lock_guard lock(done_mutex);
      done.push_back({job.id, http_response_bytes(response, !job.keep_alive), !job.keep_alive});
    }
    wake();
  }
}

ApiServer::ApiServer(const ApiConfig& config, Dispatch dispatch, ApiServerLimits limits)
    : impl_(std::make_unique<Impl>()) {
  if (!config.address.is_loopback()) {
    throw std::runtime_error("the API may only listen on a loopback address, not " +
                             config.address.to_string());
  }
  if (limits.max_connections == 0 || limits.dispatch_threads == 0) {
    throw std::invalid_argument(
        "ApiServerLimits: max_connections and dispatch_threads must be > 0");
  }
  Impl& s = *impl_;
  s.limits = limits;
  s.dispatch = std::move(dispatch);
  s.max_body = config.max_body_bytes;
  const std::string where =
      config.address.to_string() +
      (config.port == 0 ? " (any port)" : " port " + std::to_string(config.port));
  const auto fail = [&](const char* step) {
    return std::runtime_error(
        std::string("cannot ") + step + " the API on " + where + ": " + std::strerror(errno) +
        (config.port == 0 ? "" : " (another synwarden or program uses it? set api.port)"));
  };
  const int family = config.address.family() == IpAddress::Family::kIpv4 ? AF_INET : AF_INET6;
  s.listen_fd.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s.listen_fd.valid()) throw fail("create a socket for");
  // SO_REUSEADDR lets a restarted daemon bind while old connections sit in TIME_WAIT; never
  // SO_REUSEPORT, which would let a second daemon bind the same port and take half the requests.
  const int one = 1;
  ::setsockopt(s.listen_fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage address{};
  socklen_t length = 0;
  add_sockaddr(config.address, config.port, address, length);
  if (::bind(s.listen_fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    throw fail("bind");
  }
  if (::listen(s.listen_fd.get(), limits.listen_backlog) != 0) throw fail("listen for");
  port_ = bound_port(s.listen_fd.get());
  s.epoll_fd.reset(::epoll_create1(EPOLL_CLOEXEC));
  s.wake_fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!s.epoll_fd.valid() || !s.wake_fd.valid()) throw fail("create the epoll set for");
  s.watch(kListenId, s.listen_fd.get(), EPOLLIN, EPOLL_CTL_ADD);
  s.watch(kWakeId, s.wake_fd.get(), EPOLLIN, EPOLL_CTL_ADD);
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
  Impl& s = *impl_;
  if (s.stopped || s.started) return;
  s.started = true;
  for (uint32_t i = 0; i < s.limits.dispatch_threads; ++i) {
    const bool operator_only = s.limits.dispatch_threads > 1 && i == 0;
    s.dispatchers.emplace_back([&s, operator_only] { s.dispatch_loop(operator_only); });
    pthread_setname_np(s.dispatchers.back().native_handle(), "sw-api-call");
  }
  s.io_thread = std::thread([&s] { s.io_loop(); });
  pthread_setname_np(s.io_thread.native_handle(), "sw-api");
}

void ApiServer::stop() {
  if (!impl_ || impl_->stopped) return;
  Impl& s = *impl_;
  s.stopped = true;
  if (!s.started) return;
  s.stop_requested.store(true);
  s.wake();
  s.io_thread.join();
  {
    std::lock_guard lock(s.jobs_mutex);
    s.dispatch_stopping = true;
    s.operator_jobs.clear();  // nobody is left to answer
    s.bulk_jobs.clear();
  }
  s.jobs_cv.notify_all();
  for (auto& t : s.dispatchers) t.join();
}

ApiServerCounters ApiServer::counters() const {
  const Counters& c = impl_->counters;
  ApiServerCounters out;
  out.connections_accepted = c.accepted.load();
  out.connections_refused_at_limit = c.refused_at_limit.load();
  out.connections_evicted_at_limit = c.evicted_at_limit.load();
  out.header_timeouts = c.header_timeouts.load();
  out.body_timeouts = c.body_timeouts.load();
  out.idle_closed = c.idle_closed.load();
  out.write_timeouts = c.write_timeouts.load();
  out.requests_refused = c.requests_refused.load();
  out.requests_dispatched = c.dispatched.load();
  return out;
}

}  // namespace synwarden::daemon
