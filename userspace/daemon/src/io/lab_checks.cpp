#include "lab_checks.h"

#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace synwarden::daemon {

namespace {

std::string read_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

bool is_veth(const std::string& name) {
  // The driver's name, as `ethtool -i` shows it.
  const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return false;
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq ifr{};
  name.copy(ifr.ifr_name, IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&info);
  const bool ok = ::ioctl(sock, SIOCETHTOOL, &ifr) == 0;
  ::close(sock);
  return ok && std::string(info.driver) == "veth";
}

}  // namespace

std::optional<std::string> veth_peer_warning(const std::string& name, int ifindex) {
  if (!is_veth(name)) return std::nullopt;
  const std::string advice =
      "XDP_TX on a veth reaches the other end promptly only if that end runs an XDP program "
      "(any program, e.g. one returning XDP_PASS; GRO alone is not enough): without one, "
      "handshakes may complete and every forwarded data segment stall. In a lab, attach one "
      "to the peer (docs/try-on-veth.md)";
  int peer = 0;
  try {
    peer = std::stoi(read_line("/sys/class/net/" + name + "/iflink"));
  } catch (...) {
    return name + " is a veth whose peer could not be found; " + advice;
  }
  char peer_name[IF_NAMESIZE] = {};
  const bool visible = peer != ifindex && if_indextoname(static_cast<unsigned>(peer), peer_name) &&
                       read_line(std::string("/sys/class/net/") + peer_name + "/iflink") ==
                           std::to_string(ifindex);
  if (!visible) {
    return name + " is a veth whose peer is in another network namespace, where synwarden "
                  "cannot check it; " + advice;
  }
  __u32 prog_id = 0;
  if (bpf_xdp_query_id(peer, XDP_FLAGS_DRV_MODE, &prog_id) == 0 && prog_id != 0) {
    return std::nullopt;
  }
  return name + " is a veth and its peer " + peer_name + " has no XDP program; " + advice;
}

std::optional<std::string> ChecksumWatch::observe(uint64_t now_ms, uint64_t syns,
                                                  uint64_t bad_checksum) {
  if (!primed_) {
    primed_ = true;
    last_ms_ = now_ms;
    last_syns_ = syns;
    last_bad_ = bad_checksum;
    return std::nullopt;
  }
  if (now_ms < next_ms()) return std::nullopt;
  const uint64_t d_syns = syns - last_syns_;
  const uint64_t d_bad = bad_checksum - last_bad_;
  const uint64_t seconds = (now_ms - last_ms_) / 1000;
  last_ms_ = now_ms;
  last_syns_ = syns;
  last_bad_ = bad_checksum;
  if (d_bad < kMinimumBad || 2 * d_bad <= d_syns) return std::nullopt;
  if (warned_ && now_ms - warned_ms_ < kRepeatMs) return std::nullopt;
  warned_ = true;
  warned_ms_ = now_ms;
  return std::to_string(d_bad) + " of " + std::to_string(d_syns) + " SYNs in the last " +
         std::to_string(seconds) +
         " s were dropped for a wrong checksum (dropped_bad_checksum). A veth sender with TX "
         "checksum offload on sends only partial checksums: turn it off on the sending side "
         "(ethtool -K IFACE tx off). On a real network this is corrupted or forged traffic, "
         "which the host's kernel would drop too";
}

}  // namespace synwarden::daemon
