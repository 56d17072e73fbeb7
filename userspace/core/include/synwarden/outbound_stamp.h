// The outbound SYN stamp: how the firewall tells a SYN-ACK that answers a SYN the protected host
// really sent from a spoofed one (docs/outbound-stamp.md).
//
// The host's agent (tc egress, bpf/host/host_stamp.bpf.c) replaces the TSval of every SYN the
// host sends by the largest value not above it whose low kOutboundStampBits bits are a keyed MAC
// of the connection's 4-tuple and ISN. A peer echoes the SYN's TSval as its SYN-ACK's TSecr, so
// the firewall (XDP, bpf/fastpath) recomputes the MAC from the SYN-ACK's addresses, ports and
// ACK number − 1 and compares. The agent's tc ingress program then puts the SYN's real TSval
// back into the TSecr before the host's kernel sees the SYN-ACK.
//
// Moving TSval back by less than 2^bits ms keeps it older than every later TSval of the
// connection (the peer's PAWS check accepts them); the price is that a peer still holding the
// previous connection of the same 4-tuple in TIME_WAIT sees an older SYN timestamp when the same
// port is reused within that many ms.
//
// This file is the reference: the BPF programs on both sides compute the same values and the
// bpf-tier tests compare them with these functions.
#pragma once

#include <cstdint>

#include "synwarden/siphash.h"

namespace synwarden {

inline constexpr uint32_t kOutboundStampBits = 14;
inline constexpr uint32_t kOutboundStampMask = (1u << kOutboundStampBits) - 1;

// A connection the protected host opened, seen from the host: addresses as raw wire bytes
// (IPv4 in the first 4 bytes), ports as raw network-order values (the u16 read from the wire).
struct OutboundTuple {
  bool v6 = false;
  In6Bytes host{};
  In6Bytes remote{};
  uint16_t host_port = 0;
  uint16_t remote_port = 0;
};

// The MAC: SipHash-2-4 keyed with the agent's outbound key over
//   IPv4: struct { u32 host; u32 remote; u32 isn; __be16 host_port; __be16 remote_port; }
//   IPv6: struct { in6_addr host; in6_addr remote; u32 isn; __be16 host_port; __be16 remote_port; }
// (isn in host byte order, the SYN's sequence number), low kOutboundStampBits bits.
inline uint32_t outbound_stamp_mac(const SipKey& key, const OutboundTuple& t,
                                   uint32_t isn) noexcept {
  uint64_t h = 0;
  if (t.v6) {
    h = siphash_in6_pair_count_ports(t.host, t.remote, isn, t.host_port, t.remote_port, key);
  } else {
    uint32_t host = 0, remote = 0;
    std::memcpy(&host, t.host.data(), 4);
    std::memcpy(&remote, t.remote.data(), 4);
    const uint32_t ports = uint32_t{t.host_port} | (uint32_t{t.remote_port} << 16);
    h = siphash_4u32(host, remote, isn, ports, key);
  }
  return static_cast<uint32_t>(h) & kOutboundStampMask;
}

// The stamped TSval: the largest value <= tsval (mod 2^32) whose low bits are `mac`.
constexpr uint32_t outbound_stamp_tsval(uint32_t tsval, uint32_t mac) noexcept {
  return tsval - ((tsval - mac) & kOutboundStampMask);
}

// A SYN-ACK's TSecr carries the stamp of the SYN it answers.
constexpr bool outbound_stamp_matches(uint32_t tsecr, uint32_t mac) noexcept {
  return (tsecr & kOutboundStampMask) == mac;
}

}  // namespace synwarden
