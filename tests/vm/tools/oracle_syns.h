// The oracle's SYNs and the guest kernel that answers them: a TAP device "on the wire" with the
// host's documentation addresses, listeners on a few ports, SYNs with random tuples covering
// every option combination, and one exchange = one SYN written to the TAP and the kernel's
// SYN-ACK read back with the CLOCK_MONOTONIC bracket around it. Shared by sw_vm_oracle (the
// module's secrets, many phases) and sw_vm_agent_kmod (the secrets the agent served).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "guest_net.h"
#include "oracle_record.h"
#include "synwarden/packet_headers.h"

namespace synwarden::vmtest {

inline constexpr std::array<const char*, 2> kOracleHostV4{"192.0.2.1", "192.0.2.2"};
inline constexpr std::array<const char*, 2> kOracleHostV6{"2001:db8::1", "2001:db8::2"};
inline constexpr std::array<uint16_t, 4> kOracleListenPorts{80, 443, 8080, 50000};
inline constexpr MacAddress kOraclePeerMac{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01};  // "client side"

// Listening sockets on every kOracleListenPorts port, both families, while the object lives.
class OracleListeners {
 public:
  OracleListeners();

 private:
  std::vector<UniqueFd> fds_;
};

// Gives `tap` the host addresses and routes the client prefixes (198.51.100.0/24,
// 203.0.113.0/24, 2001:db8:1::/48) through it.
void configure_oracle_tap(const TapDevice& tap);

// The SYN for record `index`: its option combination is index % 32 (MSS, WS, SACK_PERM, TS,
// ECE+CWR), so every combination is covered equally; values and option order are random.
// `ecn_edge` also varies the IP ECN field and the TCP reserved bits (tcp_ecn_create_request()).
std::vector<uint8_t> make_oracle_syn(const MacAddress& host_mac, bool v6, unsigned index,
                                     bool ecn_edge, std::mt19937_64& rng);

// Writes `syn` to the TAP and waits (3 s) for the kernel's SYN-ACK to it. The record's phase and
// line are left 0. nullopt when the kernel did not answer.
std::optional<ExchangeRecord> exchange_syn(const TapDevice& tap, const std::vector<uint8_t>& syn);

}  // namespace synwarden::vmtest
