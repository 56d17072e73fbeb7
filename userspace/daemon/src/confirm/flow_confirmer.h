// The confirmer thread (docs/flow-recovery.md, "socket confirmation"): every kRoundMs it drains
// the candidates the datapaths reported (the XDP program's ring buffer, each worker's
// CandidateQueue), de-duplicates and groups them per host (ConfirmPlanner), asks each host's
// agent through a ConfirmClient in batches of up to 64, and learns the flows the agent confirms
// into the established map (FlowTable::insert, which marks the flow hint too). The host's TCP
// then retransmits what was dropped meanwhile.
//
// Threads: the confirmer's own (start()/stop()); set_hosts() and counters() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "candidate_queue.h"
#include "config.h"
#include "metrics_confirm.h"
#include "confirm_planner.h"
#include "synwarden/channel_confirm_client.h"
#include "synwarden/dataplane/confirm_candidates.h"

namespace synwarden::daemon {

// A host the confirmer may ask: its address and its agent's channel (address, key file).
struct ConfirmHost {
  IpAddress address;
  std::string label;  // the address as text, for logs
  std::string agent;  // "192.0.2.10:7070"
  std::filesystem::path key_file;
  bool operator==(const ConfirmHost&) const = default;
};

struct ConfirmerOptions {
  ConfirmPlannerOptions planner;
  uint32_t round_ms = 50;           // drain and ask this often
  uint32_t reply_timeout_ms = 500;  // per request (ConfirmClientOptions)
};

// The hosts of `config` whose agent confirms sockets (an agent, policy.socket_confirm not false);
// none when limits.confirm_candidates_per_s is 0.
std::vector<ConfirmHost> confirm_hosts_of(const DaemonConfig& config);

class FlowConfirmer {
 public:
  // Learns a confirmed flow (the daemon: FlowTable::insert with origin confirmed); false if the
  // insert failed.
  using LearnFn = std::function<bool(const sw_flow_key&)>;

  // `ring`: the XDP program's candidates (null: none); `queues`: the workers'. Both must
  // outlive the confirmer.
  FlowConfirmer(ConfirmerOptions options, dataplane::CandidateRing* ring,
                std::vector<CandidateQueue*> queues, LearnFn learn);
  ~FlowConfirmer();
  FlowConfirmer(const FlowConfirmer&) = delete;
  FlowConfirmer& operator=(const FlowConfirmer&) = delete;

  // The hosts to ask from now on (after a reload); applied at the thread's next round.
  void set_hosts(std::vector<ConfirmHost> hosts);

  void start();
  void stop();

  // One round, for tests that drive the confirmer without its thread: applies set_hosts(),
  // drains, asks, reads answers (waiting up to `wait_ms` for one), gives up old requests.
  void run_round(uint64_t now_ms, int wait_ms);

  ConfirmerCounters counters() const;

 private:
  struct Agent;

  void apply_hosts();
  void drain(uint64_t now_ms);
  void ask(uint64_t now_ms);
  void on_answer(size_t host, std::span<const ConfirmTuple> tuples,
                 const std::vector<bool>& established);
  void loop();

  ConfirmerOptions options_;
  dataplane::CandidateRing* ring_;
  std::vector<CandidateQueue*> queues_;
  LearnFn learn_;
  ConfirmPlanner planner_;
  std::vector<std::unique_ptr<Agent>> agents_;  // planner's host numbering

  std::mutex hosts_mutex_;
  std::optional<std::vector<ConfirmHost>> next_hosts_;

  mutable std::mutex counters_mutex_;
  ConfirmerCounters counters_;
  uint64_t ring_errors_ = 0;

  std::atomic<bool> stop_{false};
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace synwarden::daemon
