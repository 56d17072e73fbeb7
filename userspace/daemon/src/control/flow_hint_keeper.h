// FlowHintKeeper: the thread that keeps the XDP program's established-flow hint exact
// (docs/flow-hint.md). It enables the hint with a first rebuild as soon as it starts (the
// daemon starts it after attaching the program) and rebuilds it every `interval`, so bits of
// flows that left sw_flows (LRU evictions) stop costing lookups. Never on the packet path.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "synwarden/dataplane/flow_hint.h"
#include "synwarden/dataplane/tables.h"

namespace synwarden::daemon {

class FlowHintKeeper {
 public:
  static constexpr std::chrono::seconds kInterval{30};

  FlowHintKeeper(dataplane::FlowHint& hint, const dataplane::FlowTable& flows,
                 std::chrono::milliseconds interval = kInterval);
  FlowHintKeeper(const FlowHintKeeper&) = delete;
  FlowHintKeeper& operator=(const FlowHintKeeper&) = delete;
  ~FlowHintKeeper();  // stops and joins

  [[nodiscard]] std::uint64_t rebuilds() const noexcept;

 private:
  void run(const std::stop_token& stop);

  dataplane::FlowHint& hint_;
  const dataplane::FlowTable& flows_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::uint64_t rebuilds_ = 0;
  std::jthread thread_;  // last: started once everything above exists
};

}  // namespace synwarden::daemon
