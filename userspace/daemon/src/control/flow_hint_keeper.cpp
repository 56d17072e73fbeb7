#include "flow_hint_keeper.h"

#include <string>

#include "log.h"

namespace synwarden::daemon {

FlowHintKeeper::FlowHintKeeper(dataplane::FlowHint& hint, const dataplane::FlowTable& flows,
                               std::chrono::milliseconds interval)
    : hint_(hint), flows_(flows), interval_(interval),
      thread_([this](const std::stop_token& stop) { run(stop); }) {}

FlowHintKeeper::~FlowHintKeeper() {
  thread_.request_stop();
  cv_.notify_all();
}

std::uint64_t FlowHintKeeper::rebuilds() const noexcept {
  std::lock_guard lock(mu_);
  return rebuilds_;
}

void FlowHintKeeper::run(const std::stop_token& stop) {
  bool failing = false;
  while (!stop.stop_requested()) {
    const auto t0 = std::chrono::steady_clock::now();
    auto flows = hint_.rebuild(flows_);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count();
    if (!flows) {
      // The active generation stays as it was: still exact for every flow inserted since
      // (inserts mark both), only its stale bits are not dropped. Logged once per episode.
      if (!failing) log_warning("flow hint: rebuild failed, keeping the current one: " +
                                flows.error().message);
      failing = true;
    } else {
      if (failing || rebuilds() == 0) {
        const auto s = hint_.stats();
        log_info("flow hint " + std::string(failing ? "rebuilt again" : "enabled") + ": " +
                 std::to_string(*flows) + " flows, " + std::to_string(s.bits_set) + " of " +
                 std::to_string(s.bits) + " bits set, " + std::to_string(ms) + " ms");
      }
      failing = false;
      std::lock_guard lock(mu_);
      ++rebuilds_;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, interval_, [] { return false; });
  }
}

}  // namespace synwarden::daemon
