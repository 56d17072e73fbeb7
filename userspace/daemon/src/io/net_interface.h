// Facts about the firewall NIC the daemon needs before it opens sockets: ifindex, MAC (the source
// MAC of every frame it forwards) and how many RX queues carry traffic.
#pragma once

#include <cstdint>
#include <string>

#include "synwarden/packet_headers.h"

namespace synwarden::daemon {

struct NetInterface {
  std::string name;
  int ifindex = 0;
  MacAddress mac = {};
  uint32_t rx_queues = 0;    // queues an AF_XDP socket can bind to; 0 if neither source answered
  std::string queue_source;  // where rx_queues came from: "sysfs", "ethtool channels", "unknown"
};

// Looks `name` up in the caller's network namespace. Throws std::runtime_error naming the
// interface and what to check if it does not exist or its MAC cannot be read.
NetInterface query_interface(const std::string& name);

}  // namespace synwarden::daemon
