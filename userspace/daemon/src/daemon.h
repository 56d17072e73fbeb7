// The synwarden daemon: start-up (interface, XDP program, config/secrets, AF_XDP sockets, workers,
// local API), the control thread (signals, API requests via ControlQueue, config reloads,
// periodic secrets reload, snapshot publication, reports) and the ordered shutdown. Workers only
// ever read what this thread publishes; API threads only hand it work.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "api_router.h"
#include "api_server.h"
#include "attach_ladder.h"
#include "config.h"
#include "control_config_file.h"
#include "control_dataplane.h"
#include "control_plane.h"
#include "daemon_reports.h"
#include "control_queue.h"
#include "lab_checks.h"
#include "metrics_host_counters.h"
#include "net_interface.h"
#include "snapshot_store.h"
#include "synwarden/dataplane/xdp_fastpath.h"
#include "flow_confirmer.h"
#include "flow_hint_keeper.h"
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
  // `loaded` is `config_path` as read and validated; reloads re-read `config_path`.
  Daemon(std::filesystem::path config_path, LoadedConfig loaded);
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
  void start_control_plane();
  void start_workers();
  void start_confirmer();
  void update_confirm_hosts();
  void start_reports();
  void start_api();
  ApiResponse dispatch(const ApiRequest& request);
  void control_loop();
  // Warns when most SYNs fail their checksum (lab_checks.h).
  void watch_checksums();
  void print_stats(const char* event);
  void shutdown();

  std::filesystem::path config_path_;
  std::optional<LoadedConfig> initial_;  // handed to the ControlPlane at start
  // The config the daemon started with: what restart-only keys (interface, queues, limits, ...)
  // keep meaning until a restart. Live keys are read from control_->config().
  DaemonConfig startup_;
  NetInterface nic_;
  std::vector<uint32_t> queues_;
  std::vector<int> cpus_;
  uint64_t start_unix_ms_ = 0;
  uint64_t start_mono_ms_ = 0;
  std::string pin_dir_;
  // Declared before everything that can hold a pointer into them; destroyed after.
  ControlQueue queue_;
  std::unique_ptr<HostCounters> host_counters_;
  std::optional<dataplane::XdpFastpath> fastpath_;
  std::unique_ptr<FastpathPort> port_;
  uint32_t flow_label_seed_ = 0;  // IPv6 SYN-ACK flow labels, shared by workers and XDP
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<SnapshotStore<Snapshot>> store_;
  std::unique_ptr<FlowSink> established_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<FlowHintKeeper> flow_hint_keeper_;  // after attach; stopped before detach
  // Socket confirmation (docs/flow-recovery.md): one candidate queue per worker, the thread.
  std::vector<std::unique_ptr<CandidateQueue>> candidate_queues_;
  std::unique_ptr<FlowConfirmer> confirmer_;
  std::vector<ConfirmHost> confirm_hosts_;  // as last handed to confirmer_
  uint64_t confirm_version_ = UINT64_MAX;   // snapshot version they were computed at
  ChecksumWatch checksum_watch_;
  std::vector<XskRung> rungs_;
  std::unique_ptr<DaemonReports> reports_;  // once the workers exist
  std::unique_ptr<ApiRouter> router_;
  std::unique_ptr<ApiServer> api_server_;  // destroyed first: no request outlives the rest
  int stop_fd_ = -1;
  int signal_fd_ = -1;
  bool stopped_ = false;
};

}  // namespace synwarden::daemon
