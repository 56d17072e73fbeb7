#include "mode_probe.h"

#include <bpf/btf.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace synwarden::agent {

ProbeResult probe_host(const std::string& btf_path, const std::string& kmod_file) {
  ProbeResult r;
  utsname u{};
  r.kernel_release = ::uname(&u) == 0 ? u.release : "unknown";

  if (::access(btf_path.c_str(), R_OK) != 0) {
    r.kfunc_detail = "no kernel BTF at " + btf_path + " (" + std::strerror(errno) +
                     "; the kernel needs CONFIG_DEBUG_INFO_BTF)";
  } else if (btf* b = btf__parse(btf_path.c_str(), nullptr); b == nullptr) {
    r.kfunc_detail = "cannot parse kernel BTF at " + btf_path + " (" + std::strerror(errno) + ")";
  } else {
    r.kfunc_present = btf__find_by_name_kind(b, kReqskKfunc, BTF_KIND_FUNC) > 0;
    if (!r.kfunc_present) {
      r.kfunc_detail = std::string("the kernel's BTF has no ") + kReqskKfunc +
                       " kfunc (it appeared in Linux 6.9 and needs CONFIG_SYN_COOKIES)";
    }
    btf__free(b);
  }
  r.kmod_present = ::access(kmod_file.c_str(), F_OK) == 0;
  return r;
}

Mode resolve_mode(Mode requested, const ProbeResult& probe, const std::string& kmod_file) {
  const std::string kernel = "kernel " + probe.kernel_release;
  const std::string install_kmod =
      "install the synwarden-dkms package and load the module (`modprobe synwarden_secrets`), "
      "which creates " + kmod_file;
  switch (requested) {
    case Mode::kBpf:
      if (probe.kfunc_present) return Mode::kBpf;
      throw ConfigError("mode bpf is not available on " + kernel + ": " + probe.kfunc_detail +
                        ". Use a kernel >= 6.9 with BTF, or set \"mode\": \"kmod\" and " +
                        install_kmod);
    case Mode::kKmod:
      if (probe.kmod_present) return Mode::kKmod;
      throw ConfigError("mode kmod: " + kmod_file + " does not exist; " + install_kmod +
                        (probe.kfunc_present ? " (or set \"mode\": \"bpf\": this kernel supports it)"
                                             : ""));
    case Mode::kAuto:
      if (probe.kfunc_present) return Mode::kBpf;
      if (probe.kmod_present) return Mode::kKmod;
      throw ConfigError("this host cannot accept firewall cookies yet: " + kernel +
                        " lacks the BPF way (" + probe.kfunc_detail + ") and " + kmod_file +
                        " does not exist. Either " + install_kmod +
                        ", or upgrade to a kernel >= 6.9 with BTF");
  }
  throw ConfigError("unknown mode");
}

}  // namespace synwarden::agent
