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
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "established_map.h"
#include "log.h"
#include "stats_report.h"

namespace synwarden::daemon {

namespace {

sigset_t daemon_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

dataplane::IpAddress to_dataplane(const IpAddress& a) {
  if (a.family == IpAddress::Family::kIpv4) {
    in_addr v4{};
    std::memcpy(&v4, a.bytes.data(), 4);
    return dataplane::IpAddress::v4(v4);
  }
  in6_addr v6{};
  std::memcpy(&v6, a.bytes.data(), 16);
  return dataplane::IpAddress::v6(v6);
}

dataplane::HostEntry to_dataplane(const ProtectedHostConfig& h) {
  dataplane::HostEntry e;
  e.mac = h.mac;
  e.protect = h.protection;
  e.policy.forward_icmp = h.policy.forward_icmp;
  e.policy.forward_udp = h.policy.forward_udp;
  e.policy.forward_other = h.policy.forward_other;
  e.policy.forward_tcp_fragments = h.policy.forward_tcp_fragments;
  return e;
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

Daemon::Daemon(DaemonConfig config)
    : config_(std::move(config)), secrets_(config_.protected_hosts) {}

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

  nic_ = query_interface(config_.interface);
  queues_ = resolve_queues(config_, nic_);
  cpus_ = resolve_cpus(config_, queues_);
  log_info("interface " + nic_.name + " (ifindex " + std::to_string(nic_.ifindex) + ", MAC " +
           format_mac(nic_.mac) + ", " + std::to_string(nic_.rx_queues) + " RX queues from " +
           nic_.queue_source + "); serving " + std::to_string(queues_.size()) + " queue(s)");

  secrets_.refresh();
  store_ = std::make_unique<SnapshotStore<Snapshot>>(
      build_snapshot(config_, secrets_, nic_.mac, snapshot_version_), queues_.size());
  load_dataplane();
  start_workers();
}

void Daemon::load_dataplane() {
  const std::string pin_dir = config_.bpffs_pin_dir.empty()
                                  ? dataplane::default_pin_dir(config_.interface)
                                  : config_.bpffs_pin_dir.string();
  checked(dataplane::ensure_bpffs_dir(pin_dir), "preparing the bpffs pin directory " + pin_dir);
  dataplane::LoadOptions options;
  options.pin_dir = pin_dir;
  options.host_table_size = config_.limits.host_table_size;
  options.flow_table_size = config_.limits.flow_table_size;
  const uint32_t highest = *std::max_element(queues_.begin(), queues_.end());
  options.max_queues = std::max<uint32_t>({64, nic_.rx_queues, highest + 1});
  options.xsk_fail_open = config_.fail_open_without_workers;
  fastpath_.emplace(checked(dataplane::XdpFastpath::load(options), "loading the XDP program"));
  for (const auto& w : fastpath_->warnings()) log_warning("dataplane: " + w);
  if (!fastpath_->adopted_maps().empty()) {
    std::string names;
    for (const auto& m : fastpath_->adopted_maps()) names += (names.empty() ? "" : ", ") + m;
    log_info("adopted pinned maps from a previous run in " + pin_dir + ": " + names);
  }

  dataplane::Settings settings;
  settings.firewall_mac = nic_.mac;
  settings.synack_rate_pps = config_.limits.forwarded_synack_pps;
  checked(fastpath_->settings().write(settings), "writing the XDP program's settings");

  // The hosts map is pinned: drop addresses an earlier configuration protected, then write ours.
  const auto existing = checked(fastpath_->hosts().list(), "listing pinned protected hosts");
  for (const auto& [address, entry] : existing) {
    const bool configured = std::any_of(
        config_.protected_hosts.begin(), config_.protected_hosts.end(),
        [&](const ProtectedHostConfig& h) { return to_dataplane(h.address) == address; });
    if (!configured) {
      checked(fastpath_->hosts().erase(address), "removing stale host " + address.to_string());
      log_info("host " + address.to_string() + " is no longer configured: removed from XDP");
    }
  }
  for (const auto& h : config_.protected_hosts) {
    checked(fastpath_->hosts().upsert(to_dataplane(h.address), to_dataplane(h)),
            "writing protected host " + h.address.to_string());
  }
}

void Daemon::start_workers() {
  XskGeometry geometry;
  geometry.frame_count = config_.limits.frames_per_queue;
  geometry.frame_size = config_.limits.frame_size;
  geometry.ring_size = config_.limits.ring_size;
  std::vector<BoundQueue> bound = attach_and_bind(*fastpath_, nic_, queues_, config_.xsk_mode,
                                                  geometry, !config_.keep_dataplane_on_exit);
  established_ = std::make_unique<EstablishedMap>(fastpath_->flows());

  HandlerSettings handler;
  handler.synack.src_mac = nic_.mac;
  handler.synack.flow_label_seed = static_cast<uint32_t>(monotonic_ms() * 2654435761u);
  handler.synack_pps = config_.limits.synack_pps_per_queue;
  handler.synack_burst = config_.limits.batch_size;
  for (size_t i = 0; i < bound.size(); ++i) {
    WorkerSettings ws;
    ws.index = static_cast<uint32_t>(i);
    ws.cpu = cpus_[i];
    ws.batch_size = config_.limits.batch_size;
    ws.handler = handler;
    rungs_.push_back(bound[i].rung);
    workers_.push_back(std::make_unique<Worker>(ws, std::move(bound[i].area),
                                                std::move(bound[i].port), store_->reader(i),
                                                *established_, stop_fd_));
  }
  for (auto& w : workers_) {
    w->start();
    // Only now can the XDP program steer to the socket: its fill ring is primed and a thread
    // drains its RX ring.
    checked(fastpath_->xsks().set(w->queue(), w->port().fd()),
            "registering the AF_XDP socket of queue " + std::to_string(w->queue()));
  }
  log_info("running: " + std::to_string(workers_.size()) + " worker(s), " +
           std::to_string(config_.protected_hosts.size()) + " protected host(s)");
}

void Daemon::reload_secrets() {
  if (!secrets_.refresh()) return;
  store_->publish(build_snapshot(config_, secrets_, nic_.mac, ++snapshot_version_));
  log_info("published host snapshot " + std::to_string(snapshot_version_));
}

void Daemon::print_stats(const char* event) {
  std::vector<WorkerView> views;
  for (size_t i = 0; i < workers_.size(); ++i) views.push_back({workers_[i].get(), rungs_[i]});
  const std::string line = stats_report(event, views, fastpath_ ? &*fastpath_ : nullptr,
                                        snapshot_version_);
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

void Daemon::control_loop() {
  const uint64_t interval = config_.secrets_reload_interval_ms;
  uint64_t next_reload = monotonic_ms() + interval;
  for (;;) {
    const uint64_t now = monotonic_ms();
    const int timeout = next_reload > now ? static_cast<int>(next_reload - now) : 0;
    pollfd pfd{signal_fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeout);
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
          // Re-reading the JSON config is issue 7 (control plane); the secrets files are
          // re-read now rather than at the next interval.
          log_info("SIGHUP: re-reading secrets files (config reload is not implemented yet)");
          reload_secrets();
          break;
        default:
          log_info(std::string("received ") + strsignal(static_cast<int>(info.ssi_signo)) +
                   ", shutting down");
          return;
      }
    }
    if (monotonic_ms() >= next_reload) {
      reload_secrets();
      next_reload = monotonic_ms() + interval;
    }
    store_->reclaim();
  }
}

void Daemon::shutdown() {
  if (stopped_) return;
  stopped_ = true;
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
  workers_.clear();  // closes the sockets and frees the UMEMs
  // 3. The dataplane: left attached and pinned, or removed.
  if (!fastpath_) return;
  if (config_.keep_dataplane_on_exit) {
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
