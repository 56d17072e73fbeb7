// kmod mode (any kernel the synwarden_secrets module builds for): the kernel's own cookie keys,
// timestamp-offset key and clocks, read from the module's root-only file
// (/proc/synwarden_secrets, format in kmod/README.md and kmod/procfile.c):
//
//   synwarden_secrets 1
//   syncookie_secret <32 hex> <32 hex>
//   syncookie6_secret <32 hex> <32 hex>     (absent on kernels without IPv6)
//   ts_offset per-connection|per-host
//   net_secret <32 hex>                     (ts_secret with per-host)
//   hz <n>
//   jiffies <n>
//   mono_ns <n>
//   mono_ms <n>
//   accept_cookies 0|1
//   gate_opened <n>
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent_config.h"
#include "host_facts.h"
#include "secret_source.h"

namespace synwarden::agent {

inline constexpr int kKmodFormatVersion = 1;

struct KmodReading {
  HostSecrets secrets;      // keys, ts_offset mode and clock sample; facts not yet applied
  bool accept_cookies = false;
  uint64_t gate_opened = 0;
};

// Parses the file's text. Throws FactsError naming `origin` and the offending line (never its
// key material).
KmodReading parse_kmod_file(std::string_view text, std::string_view origin);

class KmodSecretSource final : public SecretSource {
 public:
  // Reads the file once to check it. Throws FactsError.
  KmodSecretSource(const Config& config, LogFn log);
  ~KmodSecretSource() override = default;

  HostSecrets current() override;
  void maintain(uint64_t now_ns) override;
  std::string describe() const override;

 private:
  KmodReading read() const;

  Config config_;
  LogFn log_;
  HostFacts facts_;
  bool accept_cookies_ = true;
  std::string ts_variant_;
};

}  // namespace synwarden::agent
