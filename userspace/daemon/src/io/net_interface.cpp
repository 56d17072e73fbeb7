#include "net_interface.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "synwarden/unique_fd.h"

namespace synwarden::daemon {

namespace {

ifreq make_ifreq(const std::string& name) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  return ifr;
}

// sysfs is only trustworthy if it shows this network namespace: `ip netns exec` remounts it,
// nsenter does not. The ifindex file tells the two apart.
uint32_t rx_queues_from_sysfs(const std::string& name, int ifindex) {
  const std::filesystem::path dir = std::filesystem::path("/sys/class/net") / name;
  std::ifstream index_file(dir / "ifindex");
  int sysfs_ifindex = 0;
  if (!(index_file >> sysfs_ifindex) || sysfs_ifindex != ifindex) return 0;
  std::error_code ec;
  uint32_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "queues", ec)) {
    if (entry.path().filename().string().rfind("rx-", 0) == 0) ++count;
  }
  return ec ? 0 : count;
}

// ETHTOOL_GCHANNELS: RX queues are the RX-only plus the combined channels.
uint32_t rx_queues_from_ethtool(int sock, const std::string& name) {
  ethtool_channels channels{};
  channels.cmd = ETHTOOL_GCHANNELS;
  ifreq ifr = make_ifreq(name);
  ifr.ifr_data = reinterpret_cast<char*>(&channels);
  if (::ioctl(sock, SIOCETHTOOL, &ifr) != 0) return 0;
  return channels.rx_count + channels.combined_count;
}

}  // namespace

NetInterface query_interface(const std::string& name) {
  NetInterface nic;
  nic.name = name;
  nic.ifindex = static_cast<int>(::if_nametoindex(name.c_str()));
  if (nic.ifindex == 0) {
    const int err = errno;
    throw std::runtime_error("interface '" + name + "' not found in this network namespace (" +
                             std::strerror(err) + "): check the \"interface\" key and `ip link`");
  }
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) {
    throw std::system_error(errno, std::generic_category(), "socket(AF_INET) for ioctls");
  }
  ifreq ifr = make_ifreq(name);
  if (::ioctl(sock.get(), SIOCGIFHWADDR, &ifr) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "reading the MAC address of '" + name + "' (SIOCGIFHWADDR)");
  }
  std::memcpy(nic.mac.data(), ifr.ifr_hwaddr.sa_data, nic.mac.size());

  nic.rx_queues = rx_queues_from_sysfs(name, nic.ifindex);
  nic.queue_source = "sysfs";
  if (nic.rx_queues == 0) {
    nic.rx_queues = rx_queues_from_ethtool(sock.get(), name);
    nic.queue_source = "ethtool channels";
  }
  if (nic.rx_queues == 0) nic.queue_source = "unknown";
  return nic;
}

}  // namespace synwarden::daemon
