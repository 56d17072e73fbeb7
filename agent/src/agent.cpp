#include "agent.h"

#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "bpf_source.h"
#include "kmod_source.h"
#include "mode_probe.h"
#include "socket_table.h"
#include "synwarden/channel_server.h"
#include "synwarden/log_stamp.h"
#include "synwarden/secrets.h"
#include "synwarden/unique_fd.h"
#include "stamp_program.h"

namespace synwarden::agent {
namespace {

// Rejected datagrams are logged at most this often per reason, with a count, so a flood of
// garbage cannot flood the journal.
constexpr uint64_t kRejectLogIntervalNs = 10'000'000'000;

// An fd from a call that returns -1 on failure; throws naming the call.
UniqueFd checked_fd(int fd, const char* what) {
  if (fd < 0) throw std::runtime_error(std::string(what) + " failed: " + std::strerror(errno));
  return UniqueFd(fd);
}

class RejectLog {
 public:
  void note(ChannelResult r, const SocketAddress& from) {
    Slot& s = slots_[static_cast<size_t>(r)];
    ++s.since_last;
    const uint64_t now = monotonic_ns();
    if (s.logged_ns != 0 && now - s.logged_ns < kRejectLogIntervalNs) return;
    log_line("channel: rejected " + std::to_string(s.since_last) + " datagram(s) as " +
             channel_result_name(r) + ", latest from " + from.to_string() + hint(r));
    s.logged_ns = now;
    s.since_last = 0;
  }

 private:
  static std::string hint(ChannelResult r) {
    switch (r) {
      case ChannelResult::kWrongKey:
        return " (the firewall uses another key file for this host)";
      case ChannelResult::kStale:
        return " (firewall and host clocks differ too much: check NTP on both)";
      case ChannelResult::kWrongVersion:
        return " (firewall and agent speak different protocol versions: upgrade one)";
      case ChannelResult::kRateLimited:
        return " (more polls than reply_rate allows)";
      default:
        return "";
    }
  }
  struct Slot {
    uint64_t logged_ns = 0;
    uint64_t since_last = 0;
  };
  std::array<Slot, kChannelResultCount> slots_{};
};

// The outbound SYN stamp (docs/outbound-stamp.md), in both modes. "auto" degrades to no stamp
// with a warning when the kernel refuses the programs; "on" makes that a start-up error.
std::unique_ptr<StampProgram> make_stamp(const Config& config) {
  if (config.outbound_stamp == StampMode::kOff) {
    log_line("outbound SYN stamp off (outbound_stamp \"off\"): the firewall charges this host's "
             "SYN-ACKs to its SYN-ACK budget");
    return nullptr;
  }
  try {
    StampProgramOptions opts;
    opts.interfaces = config.interfaces;
    opts.pin_dir = config.pin_dir;
    auto stamp = std::make_unique<StampProgram>(opts);
    stamp->attach();
    log_line(std::string("outbound SYN stamp on (") +
             (stamp->adopted_pinned_key() ? "adopted the pinned key" : "new key") +
             "): the firewall forwards SYN-ACKs answering this host's SYNs outside its budget");
    return stamp;
  } catch (const StampProgramError& e) {
    if (config.outbound_stamp == StampMode::kOn) throw;
    log_line(std::string("warning: outbound SYN stamp unavailable, continuing without it (the "
                         "firewall charges this host's SYN-ACKs to its budget): ") + e.what());
    return nullptr;
  }
}

// Socket confirmation (docs/flow-recovery.md) needs the kernel's inet_diag; without it the agent
// still serves secrets and refuses confirmation requests as a message type it does not serve.
std::unique_ptr<SocketTable> make_socket_table() {
  try {
    auto table = std::make_unique<SocketTable>();
    log_line("answering socket confirmations (which dropped flows are established here) from the "
             "kernel's socket table");
    return table;
  } catch (const SocketTableError& e) {
    log_line(std::string("warning: socket confirmation unavailable, flows without timestamps "
                         "cannot be recovered by the firewall: ") + e.what());
    return nullptr;
  }
}

std::unique_ptr<SecretSource> make_source(const Config& config, Mode mode) {
  LogFn log = [](const std::string& line) { log_line(line); };
  if (mode == Mode::kBpf) return std::make_unique<BpfSecretSource>(config, log);
  return std::make_unique<KmodSecretSource>(config, log);
}

}  // namespace

void log_line(const std::string& line) {
  char stamp[32];
  std::fprintf(stderr, "%s synwarden-agent: %s\n", log_stamp(stamp), line.c_str());
  std::fflush(stderr);
}

int run(const Config& config, const std::string& config_origin) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  ChannelKey key = ChannelKey::load_file(config.key_file);

  const ProbeResult probe = probe_host(kVmlinuxBtf, config.kmod_file);
  const Mode mode = resolve_mode(config.mode, probe, config.kmod_file);
  check_config_for_mode(config, mode, config_origin);

  // Signals arrive through a signalfd so they are handled in the loop, never mid-update.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // SIGHUP (a terminal hang-up, or a `systemctl kill -s HUP`) must not kill the agent: its
  // default action would, and systemd counts that death as a clean exit. The agent has no
  // reloadable settings yet, so a hang-up only logs its counters.
  sigaddset(&signals, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    throw std::runtime_error(std::string("sigprocmask failed: ") + std::strerror(errno));
  }
  const UniqueFd sigfd = checked_fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd");

  std::unique_ptr<SecretSource> source = make_source(config, mode);
  log_line("started (" + std::string(mode_name(config.mode)) + " chose " + mode_name(mode) +
           " on kernel " + probe.kernel_release + "): " + source->describe());

  ChannelServerOptions server_options;
  server_options.listen = config.listen;
  server_options.max_request_age_ms = uint64_t{config.request_max_age_s} * 1000;
  server_options.replies_per_s = config.reply_rate;
  server_options.reply_burst = config.reply_burst;
  RejectLog reject_log;
  uint64_t payload_error_logged_ns = 0;
  std::unique_ptr<StampProgram> stamp = make_stamp(config);
  if (stamp && !config.detach_on_exit) stamp->keep_attached_after_exit();
  std::optional<SipKey> outbound_key;
  if (stamp) outbound_key = stamp->key();
  auto payload = [&source, &payload_error_logged_ns, &outbound_key]() -> std::string {
    try {
      HostSecrets secrets = source->current();
      secrets.outbound_key = outbound_key;
      return serialize_secrets(secrets);
    } catch (const std::exception& e) {
      const uint64_t now = monotonic_ns();
      if (payload_error_logged_ns == 0 || now - payload_error_logged_ns >= kRejectLogIntervalNs) {
        payload_error_logged_ns = now;
        log_line(std::string("error: cannot build a reply, request left unanswered (the firewall "
                             "keeps its last good secrets for its hold time): ") + e.what());
      }
      throw;
    }
  };
  ChannelServer server(
      server_options, std::move(key), payload,
      [&reject_log](ChannelResult r, const SocketAddress& from) { reject_log.note(r, from); });
  log_line("serving secrets on " + server.local_address().to_string());
  std::unique_ptr<SocketTable> sockets = make_socket_table();
  uint64_t confirm_error_logged_ns = 0;
  if (sockets) {
    server.serve_confirm([&sockets, &confirm_error_logged_ns](std::span<const ConfirmTuple> tuples,
                                                              std::span<bool> established) {
      std::string error;
      if (sockets->established(tuples, established, error)) return true;
      const uint64_t now = monotonic_ns();
      if (confirm_error_logged_ns == 0 || now - confirm_error_logged_ns >= kRejectLogIntervalNs) {
        confirm_error_logged_ns = now;
        log_line("error: " + error + "; the confirmation request is left unanswered");
      }
      return false;
    });
  }

  const UniqueFd timer =
      checked_fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK), "timerfd_create");
  const itimerspec every_second{{1, 0}, {1, 0}};
  if (timerfd_settime(timer.get(), 0, &every_second, nullptr) != 0) {
    throw std::runtime_error(std::string("timerfd_settime failed: ") + std::strerror(errno));
  }

  std::array<pollfd, 3> fds{{{server.fd(), POLLIN, 0}, {timer.get(), POLLIN, 0},
                             {sigfd.get(), POLLIN, 0}}};
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("poll failed: ") + std::strerror(errno));
    }
    if (fds[2].revents != 0) {
      signalfd_siginfo info{};
      [[maybe_unused]] const ssize_t n = ::read(sigfd.get(), &info, sizeof info);
      if (info.ssi_signo == SIGHUP) {
        log_line("SIGHUP: " + std::to_string(server.replies_sent()) + " replies sent (" +
                 std::to_string(server.confirm_replies()) + " socket confirmations: " +
                 std::to_string(server.confirm_tuples_established()) + " of " +
                 std::to_string(server.confirm_tuples_asked()) + " tuples established), " +
                 std::to_string(server.counters().rejected()) +
                 " datagrams rejected; nothing to reload (restart the agent to apply a changed "
                 "configuration)");
        continue;
      }
      log_line(std::string("stopping on ") + strsignal(static_cast<int>(info.ssi_signo)) + "; " +
               std::to_string(server.replies_sent()) + " replies sent, " +
               std::to_string(server.counters().rejected()) + " datagrams rejected" +
               (mode == Mode::kBpf
                    ? (config.detach_on_exit ? "; detaching the tc program"
                                             : "; leaving the tc program attached")
                    : ""));
      return 0;
    }
    if (fds[1].revents != 0) {
      uint64_t expirations = 0;
      [[maybe_unused]] const ssize_t n = ::read(timer.get(), &expirations, sizeof expirations);
      source->maintain(monotonic_ns());
    }
    if (fds[0].revents != 0) server.handle_pending(monotonic_ns(), unix_time_ms());
  }
}

}  // namespace synwarden::agent
