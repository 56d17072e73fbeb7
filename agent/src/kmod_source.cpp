#include "kmod_source.h"

#include <sodium.h>

#include <utility>

namespace synwarden::agent {

KmodSecretSource::KmodSecretSource(const Config& config, LogFn log)
    : config_(config),
      log_(std::move(log)),
      facts_(read_host_facts(config.interfaces.front())),
      stand_ins_(KmodStandIns::random()) {
  // Refuses to start (and leaves the gate alone) when the file is missing or malformed.
  KmodSecrets k = read_kmod_secrets(config_.kmod_file);
  ts_variant_ = std::string(ts_offset_name(k.ts_offset));
  has_ipv6_ = k.has_ipv6;
  sodium_memzero(&k, sizeof k);
  warn_about_syncookies();
  gate_.emplace(config_.kmod_gate_file, log_);
}

void KmodSecretSource::warn_about_syncookies() const {
  if (facts_.tcp_syncookies == 0) {
    log_("warning: net.ipv4.tcp_syncookies is 0, so the kernel ignores every cookie ACK and "
         "connections through the firewall fail: `sysctl -w net.ipv4.tcp_syncookies=1`");
  }
}

HostSecrets KmodSecretSource::current() {
  KmodSecrets k = read_kmod_secrets(config_.kmod_file);
  try {
    const HostSecrets s =
        to_host_secrets(k, facts_.sysctls, facts_.mss, facts_.mss6, facts_.rcv_wscale, stand_ins_);
    sodium_memzero(&k, sizeof k);
    return s;
  } catch (...) {
    sodium_memzero(&k, sizeof k);
    throw;
  }
}

void KmodSecretSource::maintain(uint64_t) {
  try {
    const HostFacts now = read_host_facts(config_.interfaces.front());
    const bool syncookies_changed = now.tcp_syncookies != facts_.tcp_syncookies;
    if (!(now == facts_)) {
      log_("host settings changed, now: window scale " + std::to_string(now.rcv_wscale) +
           ", MSS " + std::to_string(now.mss) + "/" + std::to_string(now.mss6) + " (MTU " +
           std::to_string(now.mtu) + "), tcp_syncookies " + std::to_string(now.tcp_syncookies) +
           ", tcp_timestamps " +
           std::to_string(now.sysctls.tcp_timestamps) + ", tcp_sack " +
           std::to_string(now.sysctls.tcp_sack) + ", tcp_window_scaling " +
           std::to_string(now.sysctls.tcp_window_scaling) + ", tcp_ecn " +
           std::to_string(now.sysctls.tcp_ecn));
    }
    facts_ = now;
    if (syncookies_changed) warn_about_syncookies();
  } catch (const FactsError& e) {
    log_(std::string("warning: keeping the previous host settings: ") + e.what());
  }
  gate_->keep_open();
}

std::string KmodSecretSource::describe() const {
  return "mode kmod: " + config_.kmod_file + " (timestamp offsets " + ts_variant_ +
         (has_ipv6_ ? "" : ", no IPv6 in this kernel") + "), gate " + gate_->path() +
         " held on; window scale " + wscale_text(facts_) + ", MSS " +
         std::to_string(facts_.mss) + "/" + std::to_string(facts_.mss6) + " (MTU " +
         std::to_string(facts_.mtu) + ")";
}

}  // namespace synwarden::agent
