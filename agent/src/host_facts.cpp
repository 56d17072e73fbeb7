#include "host_facts.h"

#include "synwarden/kmod_secrets.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace synwarden::agent {
namespace {

// One small number (tcp_syncookies); the SYN-ACK shaping sysctls are read by the core.
uint8_t small(const std::string& path, uint64_t max) {
  std::ifstream in(path);
  if (!in) throw FactsError("cannot read " + path);
  uint64_t v = 0;
  if (!(in >> v)) throw FactsError(path + ": expected a number");
  if (v > max) throw FactsError(path + ": value " + std::to_string(v) + " is out of range");
  return static_cast<uint8_t>(v);
}

}  // namespace

uint16_t advertised_mss_v4(uint32_t mtu) noexcept {
  // ipv4_default_advmss(): mtu - 40, at least ip_rt_min_advmss (256), at most 65535 - 40.
  const uint32_t mss = mtu > 40 ? mtu - 40 : 0;
  return static_cast<uint16_t>(std::clamp<uint32_t>(mss, 256, 65535 - 40));
}

uint16_t advertised_mss_v6(uint32_t mtu) noexcept {
  // ip6_default_advmss(): mtu - 60, at least ip6_rt_min_advmss (1280 - 60), at most
  // IPV6_MAXPLEN - sizeof(struct tcphdr).
  const uint32_t mss = mtu > 60 ? mtu - 60 : 0;
  return static_cast<uint16_t>(std::clamp<uint32_t>(mss, 1280 - 60, 65535 - 20));
}

uint32_t interface_mtu(const std::string& interface) {
  if (interface.empty() || interface.size() >= IFNAMSIZ) {
    throw FactsError("interface name '" + interface + "' is not valid");
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw FactsError(std::string("cannot open a socket to query MTUs: ") + std::strerror(errno));
  ifreq req{};
  std::memcpy(req.ifr_name, interface.c_str(), interface.size());
  const int rc = ::ioctl(fd, SIOCGIFMTU, &req);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    throw FactsError("cannot read the MTU of interface " + interface + ": " + std::strerror(err) +
                     (err == ENODEV ? " (no such interface in this network namespace)" : ""));
  }
  if (req.ifr_mtu < 68) {
    throw FactsError("interface " + interface + ": implausible MTU " + std::to_string(req.ifr_mtu));
  }
  return static_cast<uint32_t>(req.ifr_mtu);
}

std::string wscale_text(const HostFacts& facts) {
  return std::to_string(facts.rcv_wscale) +
         (facts.rmem_max_assumed
              ? " (net.core.rmem_max is not visible in this network namespace, the kernel keeps "
                "it global: its default " + std::to_string(kDefaultRmemMax) +
                    " assumed; run the agent in the initial namespace if it was raised)"
              : "");
}

HostFacts read_host_facts(const std::string& interface, const std::string& proc_root) {
  HostFacts f;
  try {
    f.sysctls = read_tcp_sysctls(proc_root + "/sys");
    f.rcv_wscale = read_rcv_wscale(proc_root + "/sys");
    f.rmem_max_assumed = rmem_max_hidden(proc_root + "/sys");
  } catch (const HostSysctlError& e) {
    throw FactsError(e.what());
  }
  f.tcp_syncookies = small(proc_root + "/sys/net/ipv4/tcp_syncookies", 2);
  f.mtu = interface_mtu(interface);
  f.mss = advertised_mss_v4(f.mtu);
  f.mss6 = advertised_mss_v6(f.mtu);
  return f;
}

}  // namespace synwarden::agent
