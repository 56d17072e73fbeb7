#include "flow_confirmer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

#include "log.h"
#include "synwarden/clock_now.h"

namespace synwarden::daemon {
namespace {

}  // namespace

std::vector<ConfirmHost> confirm_hosts_of(const DaemonConfig& config) {
  std::vector<ConfirmHost> out;
  if (config.limits.confirm_candidates_per_s == 0) return out;
  for (const ProtectedHostConfig& h : config.protected_hosts) {
    if (!h.agent || !h.policy.socket_confirm.value_or(true)) continue;
    ConfirmHost c;
    c.address = h.address;
    c.label = h.address.to_string();
    c.agent = h.agent->address;
    c.key_file = h.agent->key_file;
    out.push_back(std::move(c));
  }
  return out;
}

struct FlowConfirmer::Agent {
  ConfirmHost host;
  std::unique_ptr<ConfirmClient> client;
  std::vector<ConfirmCandidate> outstanding;  // the request in flight, in tuple order
};

FlowConfirmer::FlowConfirmer(ConfirmerOptions options, dataplane::CandidateRing* ring,
                             std::vector<CandidateQueue*> queues, LearnFn learn)
    : options_(options),
      ring_(ring),
      queues_(std::move(queues)),
      learn_(std::move(learn)),
      planner_(options.planner) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd for the confirmer thread");
  }
}

FlowConfirmer::~FlowConfirmer() {
  stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void FlowConfirmer::set_hosts(std::vector<ConfirmHost> hosts) {
  std::lock_guard lock(hosts_mutex_);
  next_hosts_ = std::move(hosts);
}

void FlowConfirmer::start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { loop(); });
}

void FlowConfirmer::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(stop_fd_, &one, sizeof one);
  thread_.join();
}

void FlowConfirmer::apply_hosts() {
  std::optional<std::vector<ConfirmHost>> hosts;
  {
    std::lock_guard lock(hosts_mutex_);
    hosts.swap(next_hosts_);
  }
  if (!hosts) return;
  // Rare (start, reload): every client is made again; a request in flight is given up.
  std::vector<std::unique_ptr<Agent>> next;
  for (ConfirmHost& h : *hosts) {
    const size_t index = next.size();
    try {
      auto agent = std::make_unique<Agent>();
      agent->client = std::make_unique<ConfirmClient>(
          ConfirmClientOptions{h.agent, options_.reply_timeout_ms},
          ChannelKey::load_file(h.key_file.string()),
          [this, index](std::span<const ConfirmTuple> tuples, const std::vector<bool>& est) {
            on_answer(index, tuples, est);
          });
      agent->host = std::move(h);
      next.push_back(std::move(agent));
    } catch (const std::exception& e) {
      log_warning("socket confirmation for " + h.label + " is off: " + e.what() +
                  "; fix the agent address or key file and reload");
    }
  }
  agents_ = std::move(next);
  std::vector<IpAddress> addresses;
  for (const auto& a : agents_) addresses.push_back(a->host.address);
  planner_.set_hosts(addresses);
}

void FlowConfirmer::drain(uint64_t now_ms) {
  uint64_t duplicate = 0, overflow = 0;
  auto offer = [&](const sw_flow_key& key) {
    switch (planner_.offer(key, now_ms)) {
      case OfferResult::kDuplicate: ++duplicate; break;
      case OfferResult::kOverflow: ++overflow; break;
      case OfferResult::kQueued:
      case OfferResult::kNotAsked: break;
    }
  };
  if (ring_ != nullptr) {
    const std::function<void(const sw_flow_key&)> fn = offer;
    if (auto r = ring_->drain(fn); !r.ok() && ring_errors_++ == 0) {
      log_warning("socket confirmation: " + r.error().message);
    }
  }
  for (CandidateQueue* q : queues_) q->drain(offer);
  std::lock_guard lock(counters_mutex_);
  counters_.candidates_duplicate += duplicate;
  counters_.candidates_overflow += overflow;
}

void FlowConfirmer::ask(uint64_t now_ms) {
  const uint64_t unix_ms = unix_time_ms();
  for (size_t i = 0; i < agents_.size(); ++i) {
    Agent& a = *agents_[i];
    a.client->tick(now_ms);
    if (!a.client->busy() && !a.outstanding.empty()) {
      planner_.back_off(i, now_ms);
      std::lock_guard lock(counters_mutex_);
      counters_.timed_out += a.outstanding.size();
      a.outstanding.clear();
    }
    if (a.client->busy()) continue;
    std::vector<ConfirmCandidate> batch = planner_.take_batch(i, now_ms);
    if (batch.empty()) continue;
    std::vector<ConfirmTuple> tuples;
    tuples.reserve(batch.size());
    for (const auto& c : batch) tuples.push_back(confirm_tuple_of(c.key));
    if (!a.client->ask(tuples, now_ms, unix_ms)) continue;  // send error: counted by the client
    a.outstanding = std::move(batch);
    std::lock_guard lock(counters_mutex_);
    ++counters_.requests;
    counters_.asked += tuples.size();
  }
}

void FlowConfirmer::on_answer(size_t host, std::span<const ConfirmTuple> tuples,
                              const std::vector<bool>& established) {
  if (host >= agents_.size()) return;
  Agent& a = *agents_[host];
  const uint64_t now_ms = monotonic_ms();
  uint64_t confirmed = 0, refused = 0, failed = 0, last = 0, max = 0;
  for (size_t i = 0; i < tuples.size() && i < a.outstanding.size(); ++i) {
    if (!established[i]) {
      ++refused;
      continue;
    }
    ++confirmed;
    if (!learn_(a.outstanding[i].key)) ++failed;
    last = now_ms - a.outstanding[i].offered_ms;
    max = std::max(max, last);
  }
  a.outstanding.clear();
  std::lock_guard lock(counters_mutex_);
  counters_.confirmed += confirmed;
  counters_.refused += refused;
  counters_.insert_failed += failed;
  if (confirmed != 0) counters_.last_confirm_ms = last;
  counters_.max_confirm_ms = std::max(counters_.max_confirm_ms, max);
}

void FlowConfirmer::run_round(uint64_t now_ms, int wait_ms) {
  apply_hosts();
  drain(now_ms);
  ask(now_ms);
  std::vector<pollfd> fds;
  for (const auto& a : agents_) fds.push_back({a->client->fd(), POLLIN, 0});
  fds.push_back({stop_fd_, POLLIN, 0});
  if (::poll(fds.data(), fds.size(), wait_ms) <= 0) return;
  const uint64_t after = monotonic_ms();
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (fds[i].revents != 0) agents_[i]->client->on_readable(after);
  }
}

void FlowConfirmer::loop() {
  uint64_t next_round = monotonic_ms();
  while (!stop_.load(std::memory_order_relaxed)) {
    const uint64_t now = monotonic_ms();
    if (now >= next_round) next_round = now + options_.round_ms;
    // Answers are read as they come (poll); a new round starts every round_ms.
    run_round(now, static_cast<int>(next_round - std::min(next_round, monotonic_ms())));
  }
}

ConfirmerCounters FlowConfirmer::counters() const {
  ConfirmerCounters out;
  {
    std::lock_guard lock(counters_mutex_);
    out = counters_;
  }
  for (const CandidateQueue* q : queues_) {
    const CandidateQueueCounters c = q->counters();
    out.candidates_reported += c.reported;
    out.candidates_capped += c.capped;
    out.candidates_lost += c.lost;
  }
  if (ring_ != nullptr) {
    if (auto c = ring_->counters(); c.ok()) {
      out.candidates_reported += c->reported;
      out.candidates_capped += c->capped;
      out.candidates_lost += c->lost;
    }
  }
  return out;
}

}  // namespace synwarden::daemon
