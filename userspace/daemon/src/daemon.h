// The synwarden daemon: start-up (interface, secrets, XDP program, AF_XDP sockets, workers), the
// control thread (signals, periodic secrets reload, snapshot publication, reports) and the
// ordered shutdown. Workers only ever read what this thread publishes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "attach_ladder.h"
#include "config.h"
#include "net_interface.h"
#include "secrets_files.h"
#include "snapshot_store.h"
#include "synwarden/dataplane/xdp_fastpath.h"
#include "worker.h"

namespace synwarden::daemon {

// Blocks the signals the daemon handles (SIGINT, SIGTERM, SIGHUP, SIGUSR1) in the calling
// thread, and so in every thread it creates afterwards; the control thread then takes them
// from a signalfd. Call first thing in main().
void block_daemon_signals();

// The queues to serve: the configured list, or every RX queue of the interface.
std::vector<uint32_t> resolve_queues(const DaemonConfig& config, const NetInterface& nic);
// One CPU per queue: the configured list, or queue id modulo the CPUs this process may use.
std::vector<int> resolve_cpus(const DaemonConfig& config, const std::vector<uint32_t>& queues);

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts everything, serves until SIGTERM/SIGINT, shuts down. Returns the exit status.
  // Throws std::runtime_error (with what failed and what to do) if start-up fails; whatever
  // was set up is torn down by the destructor.
  int run();

 private:
  void start();
  void load_dataplane();
  void start_workers();
  void control_loop();
  void reload_secrets();
  void print_stats(const char* event);
  void shutdown();

  DaemonConfig config_;
  NetInterface nic_;
  std::vector<uint32_t> queues_;
  std::vector<int> cpus_;
  SecretsFiles secrets_;
  uint64_t snapshot_version_ = 1;
  std::unique_ptr<SnapshotStore<Snapshot>> store_;
  std::optional<dataplane::XdpFastpath> fastpath_;
  std::unique_ptr<FlowSink> established_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<XskRung> rungs_;
  int stop_fd_ = -1;
  int signal_fd_ = -1;
  bool stopped_ = false;
};

}  // namespace synwarden::daemon
