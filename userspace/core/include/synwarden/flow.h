// A TCP connection as the cookie engine sees it: the client (who sent the SYN) and the protected
// host (whose kernel the engine impersonates).
//
// Addresses and ports are RAW network-order values: the header bytes memcpy'd into the integer
// (load_raw32/load_raw16 in packet_bytes.h), which is exactly what the kernel hashes when it
// writes (__force u32)iph->saddr. Do not byte-swap them.
#pragma once

#include <cstdint>

#include "synwarden/siphash.h"

namespace synwarden {

struct Ipv4Flow {
  uint32_t client_addr = 0;  // SYN's source address (iph->saddr in syncookies.c)
  uint32_t host_addr = 0;    // SYN's destination address (iph->daddr)
  uint16_t client_port = 0;  // th->source
  uint16_t host_port = 0;    // th->dest
};

struct Ipv6Flow {
  In6Bytes client_addr{};
  In6Bytes host_addr{};
  uint16_t client_port = 0;
  uint16_t host_port = 0;
};

}  // namespace synwarden
