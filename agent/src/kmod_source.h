// kmod mode (any kernel the synwarden_secrets module builds for): the kernel's own cookie keys,
// timestamp-offset key and clocks, read from the module's root-only file on every reply
// (/proc/synwarden_secrets; the reader is synwarden/kmod_secrets.h, shared with the VM tier),
// completed by this host's settings (host_facts.h). While the source exists it holds the
// module's acceptance gate open (kmod_gate.h).
#pragma once

#include <optional>
#include <string>

#include "agent_config.h"
#include "host_facts.h"
#include "kmod_gate.h"
#include "secret_source.h"
#include "synwarden/kmod_secrets.h"

namespace synwarden::agent {

class KmodSecretSource final : public SecretSource {
 public:
  // Reads the module's file once to check it, then turns the gate on (config.kmod_gate_file).
  // Throws FactsError or KmodSecretsError; the gate is untouched when the file is unusable.
  KmodSecretSource(const Config& config, LogFn log);
  ~KmodSecretSource() override = default;   // the gate is restored

  // A fresh read of the module's file (keys, clock sample) with the host settings of the last
  // upkeep. Throws KmodSecretsError.
  HostSecrets current() override;
  // Re-reads the host settings and keeps the gate on.
  void maintain(uint64_t now_ns) override;
  std::string describe() const override;

 private:
  void warn_about_syncookies() const;

  Config config_;
  LogFn log_;
  HostFacts facts_;
  // Random keys standing in for those this kernel lacks, fixed for the agent's lifetime so the
  // firewall sees the same secrets on every poll (synwarden/kmod_secrets.h).
  KmodStandIns stand_ins_;
  std::string ts_variant_;
  bool has_ipv6_ = true;
  std::optional<KmodGate> gate_;
};

}  // namespace synwarden::agent
