// Replays one recorded SYN through synwarden's engine with a host's secrets and judges whether
// the engine's SYN-ACK equals the kernel's, byte for byte.
//
// The only inputs the engine does not get from the record are the instants: the kernel built
// its SYN-ACK at some time inside [t_send, t_recv] (guest CLOCK_MONOTONIC, which is also the
// host clock the secrets' sample was taken on). The engine is asked for every millisecond of
// that bracket and for the cookie count of each jiffy within one tick of it (the module's clock
// sample is exact to a jiffy); a record matches if one of those readings yields the kernel's
// frame. Everything else -- cookie, TSval with ts_off, options, window, MSS, ECE, IP header,
// checksums -- must be identical. Two fields are excluded and why: the destination MAC (the
// guest sends to its NOARP device's own address) and the IPv6 flow label (the kernel derives it
// from a random per-request hash; see FlowLabelPolicy).
//
// Used on the build machine (oracle_compare, the module's secrets) and in the guest
// (sw_vm_agent_kmod, the secrets the agent served).
#pragma once

#include <cstdint>
#include <string>

#include "oracle_record.h"
#include "synwarden/clock.h"
#include "synwarden/codec.h"
#include "synwarden/secrets.h"
#include "synwarden/synack_plan.h"

namespace synwarden::vmtest {

struct ReplayOutcome {
  bool matched = false;
  bool needed_later_candidate = false;  // matched other than at the bracket's first reading
  std::string shape;    // the kernel SYN-ACK's option set, e.g. "v4+ts+sack+ws+ece"
  std::string report;   // on a mismatch: SYN, kernel and engine side by side (several lines)
};

ReplayOutcome replay_exchange(const HostSecrets& secrets, const ExchangeRecord& record);

// The engine's SYN-ACK plan for a parsed SYN (either family), as the firewall makes it.
SynAckPlan plan_for_syn(const HostSecrets& secrets, const ClockReading& clock,
                        const ParsedFrame& syn);

}  // namespace synwarden::vmtest
