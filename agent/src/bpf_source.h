// BPF mode (Linux >= 6.9, no module): the agent's own keys, kept in the tc program's pinned state
// map, rotated on schedule; the program validates the firewall's cookies and hands connections
// to the kernel (bpf/host/host_cookie.bpf.c).
#pragma once

#include <memory>

#include "agent_config.h"
#include "bpf_keys.h"
#include "host_facts.h"
#include "host_program.h"
#include "secret_source.h"

namespace synwarden::agent {

class BpfSecretSource final : public SecretSource {
 public:
  // Loads and attaches the program, adopting pinned keys if present. Throws HostProgramError,
  // FactsError or ConfigError (net.ipv4.tcp_syncookies = 0).
  BpfSecretSource(const Config& config, LogFn log);
  ~BpfSecretSource() override;

  HostSecrets current() override;
  void maintain(uint64_t now_ns) override;
  std::string describe() const override;

  const HostProgram& program() const { return *program_; }

 private:
  void refresh_facts();

  Config config_;
  LogFn log_;
  std::unique_ptr<HostProgram> program_;
  RotationPolicy policy_;
  HostKeyState state_;
  HostFacts facts_;
  bool adopted_pinned_keys_ = false;
};

}  // namespace synwarden::agent
