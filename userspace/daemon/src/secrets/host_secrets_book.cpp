#include "host_secrets_book.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "log.h"

namespace synwarden::daemon {

namespace {

// The parts of a secrets document that decide whether a cookie validates.
bool same_keys(const HostSecrets& a, const HostSecrets& b) noexcept {
  return a.syncookie == b.syncookie && a.syncookie6 == b.syncookie6 &&
         a.ts_offset == b.ts_offset && a.ts_key == b.ts_key;
}

// The parts that shape the SYN-ACK (options, MSS, window) but not cookie validity.
bool same_settings(const HostSecrets& a, const HostSecrets& b) noexcept {
  return a.sysctls == b.sysctls && a.mss == b.mss && a.mss6 == b.mss6 &&
         a.rcv_wscale == b.rcv_wscale && a.rcv_space == b.rcv_space;
}

uint64_t abs_diff(uint64_t a, uint64_t b) noexcept { return a > b ? a - b : b - a; }

// Whether a new clock sample should replace the model the workers extrapolate from.
bool needs_reanchor(const HostClock& model, const HostClockSample& sample,
                    uint64_t sample_local_ms) noexcept {
  if (sample_local_ms - model.local_ms() >= kReanchorMs) return true;
  if (sample.hz != model.sample().hz) return true;
  const uint64_t jiffies_off = abs_diff(model.jiffies_at(sample_local_ms), sample.jiffies);
  if (jiffies_off * 1000 / sample.hz > kClockStepMs) return true;
  return abs_diff(model.host_ms_at(sample_local_ms), sample.mono_ms) > kClockStepMs;
}

}  // namespace

std::string secrets_source_of(const ProtectedHostConfig& host) {
  return host.agent ? "agent " + host.agent->address : "file " + host.secrets_file.string();
}

HostSecretsBook::HostSecretsBook() : event_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (event_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd for the secrets book");
  }
}

HostSecretsBook::~HostSecretsBook() { ::close(event_fd_); }

void HostSecretsBook::mark_dirty_locked() {
  if (dirty_) return;
  dirty_ = true;
  const uint64_t one = 1;
  // Cannot fail short of a counter overflow; a failed write only delays the next publication
  // to the control thread's periodic pass.
  [[maybe_unused]] const ssize_t n = ::write(event_fd_, &one, sizeof one);
}

bool HostSecretsBook::take_changes() {
  std::lock_guard lock(mutex_);
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(event_fd_, &count, sizeof count);
  const bool changed = dirty_;
  dirty_ = false;
  return changed;
}

void HostSecretsBook::set_hosts(const std::vector<ProtectedHostConfig>& hosts, uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  std::map<IpAddress, Record> next;
  for (const auto& host : hosts) {
    Record record;
    const std::string source = secrets_source_of(host);
    if (auto old = hosts_.find(host.address); old != hosts_.end() && old->second.source == source) {
      record = std::move(old->second);
      // A new poller for an agent has to confirm the carried keys within the hold time, as the
      // old one would have.
      if (host.agent && record.current) record.confirm_by_ms = now_ms + host.agent->hold_ms;
    }
    record.source = source;
    record.kind = host.agent ? "agent" : "file";
    record.location = host.agent ? host.agent->address : host.secrets_file.string();
    record.fail_policy = host.policy.fail;
    record.hold_ms = host.agent ? host.agent->hold_ms : 0;
    next.emplace(host.address, std::move(record));
  }
  hosts_ = std::move(next);
  mark_dirty_locked();
}

void HostSecretsBook::offer(const IpAddress& host, const HostSecrets& secrets,
                            uint64_t sample_local_ms) {
  std::lock_guard lock(mutex_);
  const auto it = hosts_.find(host);
  if (it == hosts_.end()) return;
  Record& r = it->second;
  const bool was_failing = fail_policy_applies(r.state);
  r.last_update_ms = sample_local_ms;
  r.confirm_by_ms.reset();
  r.state = SecretsState::kFresh;
  r.last_error.clear();
  bool changed = was_failing;
  if (!r.current) {
    r.current.emplace(HostKeys{secrets, HostClock(secrets.clock, sample_local_ms)});
    changed = true;
  } else if (!same_keys(r.current->secrets, secrets)) {
    r.previous = std::move(r.current);
    r.previous_until_ms = sample_local_ms + kPreviousKeysMs;
    r.current.emplace(HostKeys{secrets, HostClock(secrets.clock, sample_local_ms)});
    ++r.key_changes;
    log_info("host " + host.to_string() + ": cookie keys changed (" + r.source +
             "); ACKs are checked with the previous keys too for " +
             std::to_string(kPreviousKeysMs / 1000) + " s");
    changed = true;
  } else if (!same_settings(r.current->secrets, secrets) ||
             needs_reanchor(r.current->clock, secrets.clock, sample_local_ms)) {
    r.current.emplace(HostKeys{secrets, HostClock(secrets.clock, sample_local_ms)});
    changed = true;
  }
  if (changed) mark_dirty_locked();
}

void HostSecretsBook::set_state(const IpAddress& host, SecretsState state,
                                const std::string& why) {
  std::lock_guard lock(mutex_);
  const auto it = hosts_.find(host);
  if (it == hosts_.end() || it->second.state == state) return;
  Record& r = it->second;
  const bool switches_policy = fail_policy_applies(r.state) != fail_policy_applies(state);
  r.state = state;
  r.last_error = state == SecretsState::kFresh ? std::string() : why;
  if (switches_policy) mark_dirty_locked();
}

void HostSecretsBook::tick(uint64_t now_ms) {
  std::lock_guard lock(mutex_);
  for (auto& [address, r] : hosts_) {
    if (!r.confirm_by_ms || now_ms < *r.confirm_by_ms) continue;
    r.confirm_by_ms.reset();
    if (fail_policy_applies(r.state)) continue;
    r.state = SecretsState::kExpired;
    r.last_error = "not confirmed by " + r.location + " since the reload";
    log_error("host " + address.to_string() + ": " + r.source + " has not confirmed its secrets "
              "since the reload; fail policy " +
              (r.fail_policy == FailPolicy::kOpen ? "open: SYNs are forwarded unprotected"
                                                  : "closed: SYNs are dropped"));
    mark_dirty_locked();
  }
}

void HostSecretsBook::fill_worker_keys(HostEntry& entry, uint64_t now_ms) const {
  std::lock_guard lock(mutex_);
  entry.keys.reset();
  entry.previous_keys.reset();
  entry.previous_until_ms = 0;
  const auto it = hosts_.find(entry.address);
  if (it == hosts_.end() || fail_policy_applies(it->second.state)) return;
  const Record& r = it->second;
  entry.keys = r.current;
  if (r.previous && now_ms < r.previous_until_ms) {
    entry.previous_keys = r.previous;
    entry.previous_until_ms = r.previous_until_ms;
  }
}

std::optional<SecretsFreshness> HostSecretsBook::freshness(const IpAddress& host,
                                                           uint64_t now_ms) const {
  std::lock_guard lock(mutex_);
  const auto it = hosts_.find(host);
  if (it == hosts_.end()) return std::nullopt;
  const Record& r = it->second;
  SecretsFreshness f;
  f.source = r.kind;
  f.location = r.location;
  f.state = secrets_state_name(r.state);
  if (r.last_update_ms) {
    f.last_update_age_ms = now_ms > *r.last_update_ms ? now_ms - *r.last_update_ms : 0;
  }
  f.last_error = r.last_error;
  return f;
}

bool HostSecretsBook::previous_keys_active(const IpAddress& host, uint64_t now_ms) const {
  std::lock_guard lock(mutex_);
  const auto it = hosts_.find(host);
  return it != hosts_.end() && !fail_policy_applies(it->second.state) &&
         it->second.previous && now_ms < it->second.previous_until_ms;
}

}  // namespace synwarden::daemon
