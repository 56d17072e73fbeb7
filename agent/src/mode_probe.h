// Which way this host can accept the firewall's cookies: the BPF kfunc (Linux >= 6.9, no module)
// or the synwarden_secrets kernel module. Probed from facts, never from the version number: a
// vendor kernel may backport the kfunc, or build without BTF.
#pragma once

#include <string>

#include "agent_config.h"

namespace synwarden::agent {

inline constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";
inline constexpr const char* kReqskKfunc = "bpf_sk_assign_tcp_reqsk";

struct ProbeResult {
  bool kfunc_present = false;
  std::string kfunc_detail;   // why not, when absent ("no /sys/kernel/btf/vmlinux", ...)
  bool kmod_present = false;
  std::string kernel_release; // uname -r, for messages
};

// Looks for the kfunc in the kernel's BTF at `btf_path` and for the module's file.
ProbeResult probe_host(const std::string& btf_path, const std::string& kmod_file);

// The mode to run in: `requested` when the host supports it, auto's choice otherwise (bpf
// preferred: no module to build and keep in step with the kernel). Throws ConfigError with what
// to install or change when the host supports neither / not the requested one.
Mode resolve_mode(Mode requested, const ProbeResult& probe, const std::string& kmod_file);

}  // namespace synwarden::agent
