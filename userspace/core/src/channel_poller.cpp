#include "synwarden/channel_poller.h"

#include <poll.h>
#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace synwarden {
namespace {

std::string seconds_text(uint64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// The secrets parser quotes offending JSON values after ", got " in a few messages; a value there
// could be key material from a misbehaving agent, so logs keep only the part before it.
std::string without_values(std::string message) {
  const size_t at = message.find(", got ");
  if (at != std::string::npos) message.resize(at);
  return message;
}

std::string policy_effect(FailPolicy p, const std::string& host) {
  return p == FailPolicy::kOpen
             ? "fail policy open: SYNs to " + host + " are forwarded to it unprotected"
             : "fail policy closed: SYNs to " + host + " are dropped";
}

}  // namespace

const char* secrets_state_name(SecretsState s) noexcept {
  switch (s) {
    case SecretsState::kNoSecrets: return "no_secrets";
    case SecretsState::kFresh: return "fresh";
    case SecretsState::kHolding: return "holding";
    case SecretsState::kExpired: return "expired";
  }
  return "unknown";
}

SecretPoller::SecretPoller(SecretPollerOptions options, ChannelKey key, SecretsFn on_secrets,
                           StateFn on_state)
    : options_(std::move(options)),
      key_(std::move(key)),
      on_secrets_(std::move(on_secrets)),
      on_state_(std::move(on_state)),
      agent_(SocketAddress::parse(options_.agent)),
      socket_(UdpSocket::connect_to(agent_)),
      origin_("agent " + agent_.to_string()) {
  options_.interval_ms = std::max<uint32_t>(options_.interval_ms, 1);
  forget_outstanding();
}

SecretPollerStats SecretPoller::stats() const noexcept {
  SecretPollerStats s;
  s.requests_sent = requests_sent_.load(std::memory_order_relaxed);
  s.replies_accepted = replies_accepted_.load(std::memory_order_relaxed);
  s.timeouts = timeouts_.load(std::memory_order_relaxed);
  s.payload_rejected = payload_rejected_.load(std::memory_order_relaxed);
  s.send_errors = send_errors_.load(std::memory_order_relaxed);
  s.state_changes = state_changes_.load(std::memory_order_relaxed);
  return s;
}

void SecretPoller::forget_outstanding() noexcept {
  outstanding_ = false;
  // A reply can only match the outstanding request; with none, expect a nonce nobody has, so a
  // late or duplicated reply is counted as replayed instead of being accepted twice.
  randombytes_buf(expected_.data(), expected_.size());
}

void SecretPoller::set_state(SecretsState to, const std::string& why) {
  const SecretsState from = state_.exchange(to, std::memory_order_relaxed);
  if (from == to) return;
  state_changes_.fetch_add(1, std::memory_order_relaxed);
  if (on_state_) on_state_(from, to, why);
}

void SecretPoller::poll_failed(uint64_t now_ms, const std::string& why) {
  if (state() == SecretsState::kFresh && last_good_ms_) {
    set_state(SecretsState::kHolding,
              why + "; keeping the last good secrets of " + options_.host + " (age " +
                  seconds_text(now_ms - *last_good_ms_) + ", held up to " +
                  seconds_text(options_.hold_ms) + ")");
  }
}

void SecretPoller::update_age(uint64_t now_ms) {
  if (!last_good_ms_ || state() == SecretsState::kExpired) return;
  const uint64_t age = now_ms - *last_good_ms_;
  if (age > options_.hold_ms) {
    set_state(SecretsState::kExpired, "no valid secrets from " + origin_ + " for " +
                                          seconds_text(age) + "; " +
                                          policy_effect(options_.fail_policy, options_.host));
  }
}

uint64_t SecretPoller::tick(uint64_t now_ms, uint64_t now_unix_ms) {
  if (next_send_ms_ == 0 && on_state_) {
    on_state_(SecretsState::kNoSecrets, SecretsState::kNoSecrets,
              "waiting for the first secrets from " + origin_ + "; until then " +
                  policy_effect(options_.fail_policy, options_.host));
  }
  if (outstanding_ && now_ms >= sent_ms_ + options_.reply_timeout_ms) {
    forget_outstanding();
    timeouts_.fetch_add(1, std::memory_order_relaxed);
    poll_failed(now_ms, origin_ + " gave no valid reply within " +
                            std::to_string(options_.reply_timeout_ms) + " ms");
  }
  update_age(now_ms);

  if (now_ms >= next_send_ms_) {
    if (outstanding_) {   // reply timeout >= interval: the previous request is abandoned
      timeouts_.fetch_add(1, std::memory_order_relaxed);
      poll_failed(now_ms, origin_ + " gave no valid reply before the next poll");
    }
    std::array<uint8_t, kChannelRequestBytes> request;
    const size_t len = seal_channel_request(key_, now_unix_ms, expected_, request);
    if (socket_.send(std::span<const uint8_t>(request.data(), len), nullptr)) {
      requests_sent_.fetch_add(1, std::memory_order_relaxed);
      outstanding_ = true;
      sent_ms_ = now_ms;
    } else {
      const int err = errno;
      forget_outstanding();
      send_errors_.fetch_add(1, std::memory_order_relaxed);
      poll_failed(now_ms, "cannot send to " + origin_ + ": " + std::strerror(err));
    }
    // Keep a steady cadence, but never try to catch up on polls missed while stalled.
    const bool behind = next_send_ms_ == 0 || now_ms - next_send_ms_ >= options_.interval_ms;
    next_send_ms_ = (behind ? now_ms : next_send_ms_) + options_.interval_ms;
  }

  uint64_t next = next_send_ms_;
  if (outstanding_) next = std::min(next, sent_ms_ + options_.reply_timeout_ms);
  if (last_good_ms_ && state() != SecretsState::kExpired) {
    next = std::min(next, *last_good_ms_ + options_.hold_ms + 1);
  }
  return next;
}

void SecretPoller::accept_reply(const std::string& payload, uint64_t now_ms) {
  HostSecrets secrets;
  try {
    secrets = parse_secrets(payload, origin_);
  } catch (const SecretsError& e) {
    payload_rejected_.fetch_add(1, std::memory_order_relaxed);
    poll_failed(now_ms, "refused the secrets document of " + origin_ + ": " +
                            without_values(e.what()));
    return;
  }
  if (secrets.has_uninitialised_keys()) {
    // The host's kernel fills its keys lazily; cookies made with a zero key would stop
    // validating the moment it does.
    payload_rejected_.fetch_add(1, std::memory_order_relaxed);
    poll_failed(now_ms, origin_ + " reported all-zero keys (not initialised on the host yet)");
    return;
  }
  last_good_ms_ = now_ms;
  replies_accepted_.fetch_add(1, std::memory_order_relaxed);
  on_secrets_(secrets, now_ms);
  sodium_memzero(&secrets, sizeof secrets);
  set_state(SecretsState::kFresh, "valid secrets from " + origin_ + " for " + options_.host);
}

void SecretPoller::on_readable(uint64_t now_ms) {
  std::array<uint8_t, kChannelMaxMessageBytes> buf;
  std::string payload;
  for (;;) {
    const ssize_t n = socket_.receive(buf, nullptr);
    if (n <= 0) return;   // nothing left (ICMP errors of a connected socket also land here)
    const auto len = static_cast<size_t>(n);
    if (len > buf.size()) {
      channel_counters_.count(ChannelResult::kOversized);
      continue;
    }
    const ChannelResult r = open_channel_reply(key_, std::span<const uint8_t>(buf.data(), len),
                                               expected_, payload);
    channel_counters_.count(r);
    if (r != ChannelResult::kOk) continue;   // the real reply may still come: wait for timeout
    forget_outstanding();
    accept_reply(payload, now_ms);
    sodium_memzero(payload.data(), payload.size());
  }
}

SecretPollerLoop::SecretPollerLoop() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_fd_ < 0) {
    throw std::runtime_error(std::string("secret poller: eventfd failed: ") + std::strerror(errno));
  }
}

SecretPollerLoop::~SecretPollerLoop() {
  stop();
  ::close(wake_fd_);
}

SecretPoller& SecretPollerLoop::add(std::unique_ptr<SecretPoller> poller) {
  if (thread_.joinable()) throw std::logic_error("SecretPollerLoop::add after start()");
  pollers_.push_back(std::move(poller));
  return *pollers_.back();
}

void SecretPollerLoop::start() {
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

void SecretPollerLoop::stop() noexcept {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
}

void SecretPollerLoop::run(std::stop_token stop) {
  std::vector<pollfd> fds(pollers_.size() + 1);
  fds[0] = {wake_fd_, POLLIN, 0};
  for (size_t i = 0; i < pollers_.size(); ++i) fds[i + 1] = {pollers_[i]->fd(), POLLIN, 0};

  while (!stop.stop_requested()) {
    const uint64_t now = monotonic_ms();
    const uint64_t unix_now = unix_time_ms();
    uint64_t next = now + 1000;
    for (auto& p : pollers_) next = std::min(next, p->tick(now, unix_now));
    const int timeout = next > now ? static_cast<int>(next - now) : 0;
    const int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready <= 0) continue;   // timeout (tick again) or EINTR
    if (fds[0].revents != 0) continue;   // woken by stop(): the loop condition ends it
    const uint64_t at = monotonic_ms();
    for (size_t i = 0; i < pollers_.size(); ++i) {
      if (fds[i + 1].revents != 0) pollers_[i]->on_readable(at);
    }
  }
}

}  // namespace synwarden
