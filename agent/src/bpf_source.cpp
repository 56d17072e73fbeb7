#include "bpf_source.h"

#include <sodium.h>

#include <string>
#include <utility>

#include "synwarden/channel_socket.h"

namespace synwarden::agent {
namespace {

constexpr uint64_t kNsPerS = 1'000'000'000;

std::string join_ports(const std::vector<uint16_t>& ports) {
  std::string out;
  for (uint16_t p : ports) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

BpfSecretSource::BpfSecretSource(const Config& config, LogFn log)
    : config_(config), log_(std::move(log)) {
  policy_.period_ns = uint64_t{config.key_rotation_s} * kNsPerS;
  policy_.overlap_ns = uint64_t{config.key_overlap_s} * kNsPerS;
  facts_ = read_host_facts(config.interfaces.front());
  if (facts_.tcp_syncookies == 0) {
    // cookie_v4_check()/cookie_v6_check() return before looking at a BPF-validated ACK.
    throw ConfigError("net.ipv4.tcp_syncookies is 0, so the kernel ignores every cookie ACK, "
                      "including the ones this agent validates. Set it to 1 "
                      "(`sysctl -w net.ipv4.tcp_syncookies=1`, and in /etc/sysctl.d)");
  }

  HostProgramOptions opts;
  opts.interfaces = config.interfaces;
  opts.ports = config.ports;
  opts.pin_dir = config.pin_dir;
  program_ = std::make_unique<HostProgram>(opts);

  const uint64_t now = monotonic_ns();
  std::optional<HostKeyState> pinned = program_->read_state();
  adopted_pinned_keys_ = pinned && pinned->current.generation != 0;
  state_ = initial_state(pinned, now);
  if (pinned) sodium_memzero(&*pinned, sizeof *pinned);
  maintain_keys(state_, policy_, now);
  state_.rcv_wscale = facts_.rcv_wscale;
  state_.tcp_timestamps = facts_.sysctls.tcp_timestamps;
  program_->write_state(state_);
  program_->attach();
}

BpfSecretSource::~BpfSecretSource() {
  if (!config_.detach_on_exit) {
    // Leave the program attached (its keys stay pinned): a restarted agent adopts both, and the
    // host keeps accepting the firewall's cookies in between.
    program_->keep_attached_after_exit();
  }
  sodium_memzero(&state_, sizeof state_);
}

void BpfSecretSource::refresh_facts() {
  HostFacts now = read_host_facts(config_.interfaces.front());
  if (now.tcp_syncookies == 0 && facts_.tcp_syncookies != 0) {
    log_("error: net.ipv4.tcp_syncookies was set to 0: the kernel now ignores the cookie ACKs "
         "this agent validates; set it back to 1");
  }
  if (now != facts_) {
    log_("host settings changed: window scale " + std::to_string(now.rcv_wscale) +
         ", tcp_timestamps " + std::to_string(now.sysctls.tcp_timestamps) + ", MTU " +
         std::to_string(now.mtu));
  }
  facts_ = now;
}

void BpfSecretSource::maintain(uint64_t now_ns) {
  try {
    refresh_facts();
  } catch (const FactsError& e) {
    log_(std::string("warning: keeping the previous host settings: ") + e.what());
  }
  const uint64_t generation = state_.current.generation;
  bool changed = maintain_keys(state_, policy_, now_ns);
  if (state_.current.generation != generation) {
    log_("rotated keys: generation " + std::to_string(state_.current.generation) +
         " is current, generation " + std::to_string(generation) + " stays valid for " +
         std::to_string(config_.key_overlap_s) + " s");
  }
  if (state_.rcv_wscale != facts_.rcv_wscale ||
      state_.tcp_timestamps != facts_.sysctls.tcp_timestamps) {
    state_.rcv_wscale = facts_.rcv_wscale;
    state_.tcp_timestamps = facts_.sysctls.tcp_timestamps;
    changed = true;
  }
  if (changed) program_->write_state(state_);
}

HostSecrets BpfSecretSource::current() {
  return bpf_mode_secrets(state_.current, facts_, monotonic_ms());
}

std::string BpfSecretSource::describe() const {
  return "mode bpf: tc program on " + join(config_.interfaces) + " for ports " +
         join_ports(config_.ports) + "; " +
         (adopted_pinned_keys_ ? "adopted pinned keys, generation "
                               : "generated keys, generation ") +
         std::to_string(state_.current.generation) + "; rotation every " +
         (config_.key_rotation_s ? std::to_string(config_.key_rotation_s) + " s"
                                 : std::string("never")) +
         "; window scale " + wscale_text(facts_) + ", MSS " +
         std::to_string(facts_.mss) + "/" + std::to_string(facts_.mss6) + " (MTU " +
         std::to_string(facts_.mtu) + ")";
}

}  // namespace synwarden::agent
