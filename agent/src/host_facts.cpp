#include "host_facts.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <bit>
#include <fstream>
#include <sstream>
#include <vector>

namespace synwarden::agent {
namespace {

std::vector<uint64_t> read_numbers(const std::string& path, size_t expected) {
  std::ifstream in(path);
  if (!in) throw FactsError("cannot read " + path);
  std::vector<uint64_t> out;
  uint64_t v = 0;
  while (in >> v) out.push_back(v);
  if (out.size() != expected) {
    throw FactsError(path + ": expected " + std::to_string(expected) + " number(s), found " +
                     std::to_string(out.size()));
  }
  return out;
}

uint64_t read_number(const std::string& path) { return read_numbers(path, 1).front(); }

uint8_t small(const std::string& path, uint64_t max) {
  const uint64_t v = read_number(path);
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

uint8_t window_scale_for(uint64_t tcp_rmem_max, uint64_t rmem_max) noexcept {
  // Both sysctls are u32 in the kernel (the min_t(u32, ...) in tcp_select_initial_window()).
  const uint64_t space = std::min<uint64_t>(std::max(tcp_rmem_max, rmem_max), UINT32_MAX);
  if (space == 0) return 0;
  const int log = static_cast<int>(std::bit_width(space)) - 1;   // ilog2
  return static_cast<uint8_t>(std::clamp(log - 15, 0, 14));
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

HostFacts read_host_facts(const std::string& interface, const std::string& proc_root) {
  const std::string ipv4 = proc_root + "/sys/net/ipv4/";
  HostFacts f;
  f.sysctls.tcp_timestamps = small(ipv4 + "tcp_timestamps", 2);
  f.sysctls.tcp_sack = small(ipv4 + "tcp_sack", 1);
  f.sysctls.tcp_window_scaling = small(ipv4 + "tcp_window_scaling", 1);
  f.sysctls.tcp_ecn = small(ipv4 + "tcp_ecn", 255);
  f.tcp_syncookies = small(ipv4 + "tcp_syncookies", 2);
  const auto rmem = read_numbers(ipv4 + "tcp_rmem", 3);
  const uint64_t rmem_max = read_number(proc_root + "/sys/net/core/rmem_max");
  f.rcv_wscale = window_scale_for(rmem[2], rmem_max);
  f.mtu = interface_mtu(interface);
  f.mss = advertised_mss_v4(f.mtu);
  f.mss6 = advertised_mss_v6(f.mtu);
  return f;
}

}  // namespace synwarden::agent
