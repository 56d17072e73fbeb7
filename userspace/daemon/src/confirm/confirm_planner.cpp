#include "confirm_planner.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "synwarden/dataplane/types.h"

namespace synwarden::daemon {

size_t ConfirmPlanner::KeyHash::operator()(const KeyBytes& k) const noexcept {
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(k.b.data()), k.b.size()));
}

ConfirmPlanner::ConfirmPlanner(ConfirmPlannerOptions options) : options_(options) {
  if (options_.requests_per_s_per_host == 0) options_.requests_per_s_per_host = 1;
}

void ConfirmPlanner::set_hosts(const std::vector<IpAddress>& hosts) {
  std::vector<HostQueue> next(hosts.size());
  for (size_t i = 0; i < hosts.size(); ++i) {
    next[i].address = hosts[i];
    for (auto& old : hosts_) {
      if (old.address == hosts[i]) {
        next[i].queue = std::move(old.queue);
        next[i].next_ask_ms = old.next_ask_ms;
        break;
      }
    }
  }
  hosts_ = std::move(next);
}

int ConfirmPlanner::host_of(const sw_flow_key& key) const noexcept {
  const IpAddress host = dataplane::address_of_words(key.family, key.daddr);
  for (size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].address == host) return static_cast<int>(i);
  }
  return -1;
}

void ConfirmPlanner::forget_before(uint64_t now_ms) {
  while (!seen_order_.empty() &&
         (now_ms - seen_order_.front().second >= options_.dedup_ms ||
          seen_order_.size() > options_.max_remembered)) {
    auto it = seen_.find(seen_order_.front().first);
    // Only the entry of this offer: a tuple offered again later has a newer time.
    if (it != seen_.end() && it->second == seen_order_.front().second) seen_.erase(it);
    seen_order_.pop_front();
  }
}

OfferResult ConfirmPlanner::offer(const sw_flow_key& key, uint64_t now_ms) {
  const int host = host_of(key);
  if (host < 0) return OfferResult::kNotAsked;
  forget_before(now_ms);
  KeyBytes k;
  std::memcpy(k.b.data(), &key, sizeof key);
  if (seen_.contains(k)) return OfferResult::kDuplicate;
  HostQueue& q = hosts_[static_cast<size_t>(host)];
  if (q.queue.size() >= options_.max_queued_per_host) return OfferResult::kOverflow;
  q.queue.push_back({key, now_ms});
  seen_[k] = now_ms;
  seen_order_.emplace_back(k, now_ms);
  forget_before(now_ms);  // keeps at most max_remembered
  return OfferResult::kQueued;
}

std::vector<ConfirmCandidate> ConfirmPlanner::take_batch(size_t host, uint64_t now_ms) {
  std::vector<ConfirmCandidate> batch;
  HostQueue& q = hosts_[host];
  if (q.queue.empty() || now_ms < q.next_ask_ms) return batch;
  const size_t n = std::min(q.queue.size(), kConfirmMaxTuples);
  batch.assign(q.queue.begin(), q.queue.begin() + static_cast<std::ptrdiff_t>(n));
  q.queue.erase(q.queue.begin(), q.queue.begin() + static_cast<std::ptrdiff_t>(n));
  q.next_ask_ms = now_ms + (1000 + options_.requests_per_s_per_host - 1) /
                               options_.requests_per_s_per_host;
  return batch;
}

ConfirmTuple confirm_tuple_of(const sw_flow_key& key) noexcept {
  ConfirmTuple t;
  t.family = key.family == SW_FAMILY_IPV6 ? 6 : 4;
  const size_t len = t.family == 6 ? 16 : 4;
  std::memcpy(t.client_addr.data(), key.saddr, len);
  std::memcpy(t.host_addr.data(), key.daddr, len);
  t.client_port = ntohs(key.sport);
  t.host_port = ntohs(key.dport);
  return t;
}

}  // namespace synwarden::daemon
