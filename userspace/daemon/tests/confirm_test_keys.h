// Flow keys and host addresses for the socket-confirmation tests, built with the dataplane's own
// conversions (an IPv4 or IPv6 address from its text, either family).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>

#include "synwarden/dataplane/types.h"
#include "synwarden/ip_address.h"
#include "synwarden_shared.h"

namespace synwarden::daemon {

inline IpAddress address(const char* text) { return IpAddress::parse(text).value(); }

// The key of a segment from client:cport to the protected host:hport, without VLAN tags.
inline sw_flow_key flow_key(const char* client, uint16_t cport, const char* host,
                            uint16_t hport = 443) {
  sw_flow_key k{};
  const IpAddress h = address(host);
  k.family = dataplane::sw_family_of(h);
  dataplane::copy_words(address(client), k.saddr);
  dataplane::copy_words(h, k.daddr);
  k.sport = htons(cport);
  k.dport = htons(hport);
  return k;
}

inline bool same(const sw_flow_key& a, const sw_flow_key& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace synwarden::daemon
