#include "daemon.h"

#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include "agent_secrets.h"
#include "established_map.h"
#include "log.h"
#include "flow_hint_keeper.h"
#include "metrics_sample.h"
#include "synwarden/clock_now.h"

namespace synwarden::daemon {

namespace {

// The XDP program's per-host counters (synwarden_shared.h SW_HOST_XDP_COUNTER_LIST) under the
// workers' names. A failed read (not expected for an array slot) reads zero for that sample.
HostCounterValues xdp_host_counts(const dataplane::HostStatsTable& table, uint32_t slot) {
  static constexpr std::pair<sw_host_xdp_counter, HostCounter> kTwins[] = {
      {SW_HX_SYN, HostCounter::kSynReceived},     {SW_HX_ACK, HostCounter::kAckReceived},
      {SW_HX_SYNACK, HostCounter::kSynAck},       {SW_HX_ACK_VALID, HostCounter::kAckValid},
      {SW_HX_ACK_INVALID, HostCounter::kAckInvalid}, {SW_HX_FORWARDED, HostCounter::kForwarded},
      {SW_HX_RATE_LIMITED, HostCounter::kRateLimited}, {SW_HX_DROPPED, HostCounter::kDropped},
  };
  static_assert(std::size(kTwins) == SW_HX_COUNT, "every XDP per-host counter has a twin");
  static_assert(kNoCounterSlot == SW_NO_COUNTER_SLOT, "one 'no slot' value on both sides");
  HostCounterValues out{};
  if (slot == kNoCounterSlot) return out;
  auto values = table.read(slot);
  if (!values.ok()) return out;
  for (const auto& [xdp, worker] : kTwins) out[static_cast<size_t>(worker)] += (*values)[xdp];
  return out;
}

sigset_t daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

template <typename T>
T checked(dataplane::Result<T> r, const std::string& what) {
  if (!r.ok()) throw std::runtime_error(what + ": " + r.error().message);
  if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

}  // namespace

void block_daemon_signals() {
  const sigset_t set = daemon_signals();
  if (const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "blocking SIGINT/SIGTERM/SIGHUP/SIGUSR1");
  }
}

std::vector<uint32_t> resolve_queues(const DaemonConfig& config, const NetInterface& nic) {
  std::vector<uint32_t> queues = config.queues;
  if (queues.empty()) {
    if (nic.rx_queues == 0) {
      throw std::runtime_error("cannot tell how many RX queues " + nic.name +
                               " has (no sysfs, no ETHTOOL_GCHANNELS): list them in \"queues\"");
    }
    for (uint32_t q = 0; q < nic.rx_queues; ++q) queues.push_back(q);
  }
  for (const uint32_t q : queues) {
    if (nic.rx_queues != 0 && q >= nic.rx_queues) {
      throw std::runtime_error("config key 'queues': " + nic.name + " has " +
                               std::to_string(nic.rx_queues) + " RX queues (from " +
                               nic.queue_source + "), queue " + std::to_string(q) +
                               " does not exist");
    }
  }
  return queues;
}

std::vector<int> resolve_cpus(const DaemonConfig& config, const std::vector<uint32_t>& queues) {
  std::vector<int> cpus;
  if (!config.worker_cpus.empty()) {
    for (const uint32_t c : config.worker_cpus) cpus.push_back(static_cast<int>(c));
    return cpus;
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
  }
  std::vector<int> usable;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) usable.push_back(c);
  }
  if (usable.empty()) throw std::runtime_error("this process may run on no CPU");
  // Queue q on CPU q (modulo): NIC drivers spread queue IRQs the same way by default, so the
  // worker shares a core and its cache with the softirq that fills its ring.
  for (const uint32_t q : queues) cpus.push_back(usable[q % usable.size()]);
  return cpus;
}

Daemon::Daemon(std::filesystem::path config_path, LoadedConfig loaded)
    : config_path_(std::move(config_path)), startup_(loaded.config) {
  initial_.emplace(std::move(loaded));
}

Daemon::~Daemon() {
  try {
    shutdown();
  } catch (const std::exception& e) {
    log_error(std::string("during shutdown: ") + e.what());
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

int Daemon::run() {
  start();
  control_loop();
  shutdown();
  return 0;
}

void Daemon::start() {
  const sigset_t set = daemon_signals();
  signal_fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  start_unix_ms_ = unix_time_ms();
  start_mono_ms_ = monotonic_ms();

  nic_ = query_interface(startup_.interface);
  queues_ = resolve_queues(startup_, nic_);
  cpus_ = resolve_cpus(startup_, queues_);
  log_info("interface " + nic_.name + " (ifindex " + std::to_string(nic_.ifindex) + ", MAC " +
           format_mac(nic_.mac) + ", " + std::to_string(nic_.rx_queues) + " RX queues from " +
           nic_.queue_source + "); serving " + std::to_string(queues_.size()) + " queue(s)");
  if (auto warning = veth_peer_warning(nic_.name, nic_.ifindex)) log_warning(*warning);

  // Checked before anything touches the dataplane: an unusable key file (or a port in use,
  // below) fails the start cleanly, without leaving maps pinned or a program attached.
  check_agent_keys(initial_->config.protected_hosts);
  api_server_ = std::make_unique<ApiServer>(
      startup_.api, [this](const ApiRequest& request) { return dispatch(request); });
  load_dataplane();
  start_control_plane();
  start_workers();
  start_api();
}

void Daemon::load_dataplane() {
  pin_dir_ = startup_.bpffs_pin_dir.empty() ? dataplane::default_pin_dir(startup_.interface)
                                             : startup_.bpffs_pin_dir.string();
  checked(dataplane::ensure_bpffs_dir(pin_dir_), "preparing the bpffs pin directory " + pin_dir_);
  dataplane::LoadOptions options;
  options.pin_dir = pin_dir_;
  options.host_table_size = startup_.limits.host_table_size;
  options.flow_table_size = startup_.limits.flow_table_size;
  options.outbound_table_size = startup_.limits.outbound_table_size;
  options.outbound_unverified_table_size = startup_.limits.outbound_unverified_table_size;
  const uint32_t highest = *std::max_element(queues_.begin(), queues_.end());
  options.max_queues = std::max<uint32_t>({64, nic_.rx_queues, highest + 1});
  options.xsk_fail_open = startup_.fail_open_without_workers;
  options.candidates_per_s = startup_.limits.confirm_candidates_per_s;
  fastpath_.emplace(checked(dataplane::XdpFastpath::load(options), "loading the XDP program"));
  for (const auto& w : fastpath_->warnings()) log_warning("dataplane: " + w);
  if (!fastpath_->adopted_maps().empty()) {
    // A previous run (stopped, crashed or killed) left its maps pinned; its program may still
    // be attached and forwarding established flows, which the new program takes over atomically.
    std::string names;
    for (const auto& m : fastpath_->adopted_maps()) names += (names.empty() ? "" : ", ") + m;
    log_info("adopted pinned maps from a previous run in " + pin_dir_ + ": " + names);
  }
  flow_label_seed_ = static_cast<uint32_t>(monotonic_ms() * 2654435761u);
  port_ = std::make_unique<FastpathPort>(*fastpath_, nic_.mac, flow_label_seed_);
}

void Daemon::start_control_plane() {
  // Datapath "xdp": the XDP program counts the SYNs and ACKs it decides per host itself (same
  // slots). Read in either datapath: a reload may switch datapaths, and the map reads zero
  // where the program counted nothing.
  // (fastpath_ is reset at the end of shutdown(), after the last read.)
  host_counters_ = std::make_unique<HostCounters>(
      queues_.size(), startup_.limits.host_table_size, [this](uint32_t slot) {
        return fastpath_ ? xdp_host_counts(fastpath_->host_stats(), slot) : HostCounterValues{};
      });
  // Every snapshot after the first goes to the store; the first one creates it. start() never
  // publishes, so the store exists before the publisher is first called.
  control_ = std::make_unique<ControlPlane>(
      config_path_, std::move(*initial_), *port_, *host_counters_, nic_.mac,
      [this](std::unique_ptr<const Snapshot> next) { store_->publish(std::move(next)); });
  initial_.reset();
  store_ = std::make_unique<SnapshotStore<Snapshot>>(control_->start(), queues_.size());
}

void Daemon::start_workers() {
  XskGeometry geometry;
  geometry.frame_count = startup_.limits.frames_per_queue;
  geometry.frame_size = startup_.limits.frame_size;
  geometry.ring_size = startup_.limits.ring_size;
  std::vector<BoundQueue> bound = attach_and_bind(*fastpath_, nic_, queues_, startup_.xsk_mode,
                                                  geometry, !startup_.keep_dataplane_on_exit);
  established_ = std::make_unique<EstablishedMap>(fastpath_->flows());
  // Only now, with our program attached, may the hint go on: an older program attached until
  // then may have inserted flows without marking them (docs/flow-hint.md).
  if (startup_.limits.flow_hint) {
    flow_hint_keeper_ =
        std::make_unique<FlowHintKeeper>(fastpath_->flow_hint(), fastpath_->flows());
  } else {
    fastpath_->flow_hint().disable();  // a pinned hint may have been on
    log_info("flow hint off (limits.flow_hint): every SYN and ACK is looked up");
  }

  HandlerSettings handler;
  handler.synack.src_mac = nic_.mac;
  handler.synack.flow_label_seed = flow_label_seed_;
  handler.synack_pps = startup_.limits.synack_pps_per_queue;
  handler.synack_burst = startup_.limits.batch_size;
  // The workers share the candidates/s budget (the XDP program has its own, per CPU).
  const uint64_t per_worker =
      startup_.limits.confirm_candidates_per_s == 0
          ? 0
          : std::max<uint64_t>(1, startup_.limits.confirm_candidates_per_s /
                                       std::max<size_t>(1, bound.size()));
  for (size_t i = 0; i < bound.size(); ++i) {
    candidate_queues_.push_back(std::make_unique<CandidateQueue>(per_worker));
    WorkerSettings ws;
    ws.index = static_cast<uint32_t>(i);
    ws.cpu = cpus_[i];
    ws.batch_size = startup_.limits.batch_size;
    ws.handler = handler;
    ws.handler.host_counters = &host_counters_->area(i);
    ws.handler.candidates = candidate_queues_[i].get();
    rungs_.push_back(bound[i].rung);
    workers_.push_back(std::make_unique<Worker>(ws, std::move(bound[i].area),
                                                std::move(bound[i].port), store_->reader(i),
                                                *established_, stop_fd_));
  }
  start_confirmer();  // before the reports, which show its counters
  start_reports();
  for (auto& w : workers_) {
    w->start();
    // Only now can the XDP program steer to the socket: its fill ring is primed and a thread
    // drains its RX ring.
    checked(fastpath_->xsks().set(w->queue(), w->port().fd()),
            "registering the AF_XDP socket of queue " + std::to_string(w->queue()));
  }
  log_info("running: " + std::to_string(workers_.size()) + " worker(s), " +
           std::to_string(control_->config().protected_hosts.size()) + " protected host(s)");
}

void Daemon::start_confirmer() {
  if (startup_.limits.confirm_candidates_per_s == 0) {
    log_info("socket confirmation off (limits.confirm_candidates_per_s = 0)");
    return;
  }
  std::vector<CandidateQueue*> queues;
  for (auto& q : candidate_queues_) queues.push_back(q.get());
  auto& flows = fastpath_->flows();
  confirmer_ = std::make_unique<FlowConfirmer>(
      ConfirmerOptions{}, &fastpath_->candidates(), std::move(queues),
      [&flows](const sw_flow_key& key) {
        return flows.insert(dataplane::FlowKey::from_raw(key), dataplane::FlowOrigin::confirmed)
            .ok();
      });
  update_confirm_hosts();
  confirmer_->start();
}

void Daemon::update_confirm_hosts() {
  // Every configuration change publishes a new snapshot: compare the hosts only then.
  if (!confirmer_ || control_->snapshot_version() == confirm_version_) return;
  confirm_version_ = control_->snapshot_version();
  std::vector<ConfirmHost> hosts = confirm_hosts_of(control_->config());
  if (hosts == confirm_hosts_) return;
  confirm_hosts_ = hosts;
  log_info("socket confirmation: " + std::to_string(hosts.size()) + " host(s) with an agent");
  confirmer_->set_hosts(std::move(hosts));
}

void Daemon::start_reports() {
  RuntimeInfo runtime;
  runtime.nic = &nic_;
  for (size_t i = 0; i < workers_.size(); ++i) {
    runtime.workers.push_back({workers_[i].get(), rungs_[i]});
  }
  runtime.queues = queues_;
  runtime.fastpath = &*fastpath_;
  runtime.pin_dir = pin_dir_;
  runtime.start_unix_ms = start_unix_ms_;
  runtime.start_mono_ms = start_mono_ms_;
  runtime.api_counters = [this] { return api_server_->counters(); };
  if (confirmer_) runtime.confirm_counters = [this] { return confirmer_->counters(); };
  reports_ = std::make_unique<DaemonReports>(*control_, *host_counters_, std::move(runtime));
}

void Daemon::start_api() {
  router_ = std::make_unique<ApiRouter>(*control_, *reports_);
  api_server_->start();
  log_info("API listening on http://" +
           (startup_.api.address.family() == IpAddress::Family::kIpv6
                ? "[" + startup_.api.address.to_string() + "]"
                : startup_.api.address.to_string()) +
           ":" + std::to_string(api_server_->port()));
}

ApiResponse Daemon::dispatch(const ApiRequest& request) {
  // Runs on an API thread: the work itself happens on the control thread.
  ApiResponse response = ApiResponse::json_error(500, "the request produced no response");
  const bool ran = queue_.call([&] { response = router_->handle(request); },
                               std::chrono::seconds(10));
  if (!ran) {
    return ApiResponse::json_error(503, "the daemon is shutting down or its control thread is "
                                        "busy; nothing was changed, retry");
  }
  return response;
}

void Daemon::print_stats(const char* event) {
  if (!reports_) return;  // no worker started yet: nothing to report
  const std::string line = reports_->stats_line(event);
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

void Daemon::control_loop() {
  uint64_t next_reload = monotonic_ms() + control_->config().secrets_reload_interval_ms;
  for (;;) {
    const uint64_t now = monotonic_ms();
    const uint64_t wake =
        std::min({next_reload, checksum_watch_.next_ms(), control_->next_auto_poll_ms()});
    const int timeout = wake > now ? static_cast<int>(wake - now) : 0;
    // The third fd: the agents' poller delivered secrets (new keys, a fail-policy switch).
    pollfd pfds[3] = {{signal_fd_, POLLIN, 0}, {queue_.fd(), POLLIN, 0},
                      {control_->secrets_fd(), POLLIN, 0}};
    const int ready = ::poll(pfds, 3, timeout);
    if (ready < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "poll on the signalfd");
    }
    signalfd_siginfo info{};
    while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      switch (info.ssi_signo) {
        case SIGUSR1:
          print_stats("stats");
          break;
        case SIGHUP:
          try {
            control_->reload("SIGHUP");
          } catch (const ControlError&) {
            // Logged by the control plane; the running configuration stays.
          }
          break;
        default:
          log_info(std::string("received ") + strsignal(static_cast<int>(info.ssi_signo)) +
                   ", shutting down");
          return;
      }
    }
    queue_.run_pending();
    if (pfds[2].revents != 0) control_->refresh_secrets();
    if (monotonic_ms() >= next_reload) {
      control_->refresh_secrets();
      next_reload = monotonic_ms() + control_->config().secrets_reload_interval_ms;
    }
    if (monotonic_ms() >= control_->next_auto_poll_ms()) control_->poll_auto_mode(monotonic_ms());
    update_confirm_hosts();  // a reload or an API change may have added or removed agents
    store_->reclaim();
    watch_checksums();
  }
}

void Daemon::watch_checksums() {
  uint64_t syns = 0, bad = 0;
  for (const auto& w : workers_) {
    syns += w->counters().syn_received.load(std::memory_order_relaxed);
    bad += w->counters().dropped_bad_checksum.load(std::memory_order_relaxed);
  }
  if (auto warning = checksum_watch_.observe(monotonic_ms(), syns, bad)) log_warning(*warning);
}

void Daemon::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  // 0. No more API work: queued requests are answered 503, the server stops and joins.
  queue_.close();
  if (api_server_) api_server_->stop();
  // The confirmer reads the workers' queues and the program's ring: it stops first (its
  // counters stay readable for the final statistics line).
  if (confirmer_) confirmer_->stop();
  // 1. Stop steering to sockets that are about to close (the program then follows
  //    fail_open_without_workers for SYNs and unknown ACKs).
  if (fastpath_) {
    for (auto& w : workers_) {
      if (auto r = fastpath_->xsks().clear(w->queue()); !r.ok()) log_warning(r.error().message);
    }
  }
  // 2. Stop and join the workers; the eventfd wakes those asleep in poll().
  for (auto& w : workers_) w->request_stop();
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(stop_fd_, &one, sizeof one);
  }
  for (auto& w : workers_) w->join();
  if (!workers_.empty()) print_stats("final");
  reports_.reset();  // it reads the confirmer and the workers
  confirmer_.reset();
  workers_.clear();  // closes the sockets and frees the UMEMs
  flow_hint_keeper_.reset();
  // 3. The dataplane: left attached and pinned, or removed.
  if (!fastpath_) return;
  if (startup_.keep_dataplane_on_exit) {
    log_info("XDP program stays attached and its maps pinned (keep_dataplane_on_exit): "
             "established flows keep being forwarded");
  } else {
    if (auto r = fastpath_->detach(); !r.ok()) log_error(r.error().message);
    if (auto r = fastpath_->unpin(); !r.ok()) log_error(r.error().message);
    log_info("XDP program detached and pinned maps removed");
  }
  established_.reset();
  fastpath_.reset();
}

}  // namespace synwarden::daemon
