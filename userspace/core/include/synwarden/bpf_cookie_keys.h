// The XDP datapath's copy of a protected host's secrets: HostSecrets + HostClock in the layout of
// bpf/synwarden_shared.h (struct sw_cookie_keys), which the XDP program reads per SYN/ACK
// (bpf/fastpath/cookie.bpf.h). The program repeats the engine's arithmetic on these fields, so
// this conversion is the only place where the two datapaths could disagree about a host.
#pragma once

#include "synwarden/clock.h"
#include "synwarden/secrets.h"
#include "synwarden_shared.h"

namespace synwarden {

// Keys, sysctls, MSS, window scale, the four SYN-ACK windows (synack_window() for IPv4/IPv6
// with and without timestamps) and the clock model with its safety margins.
sw_cookie_keys bpf_cookie_keys(const HostSecrets& secrets, const HostClock& clock) noexcept;

}  // namespace synwarden
