// The contract between the cookie engine (which decides what the protected host's kernel would
// answer to a SYN) and the packet codec (which writes those bytes into the frame in place).
#pragma once

#include <cstddef>
#include <cstdint>

namespace synwarden {

// What the client's SYN offered, as the codec parsed it. Host byte order.
struct SynOptions {
  bool has_mss = false;
  uint16_t mss = 0;
  bool has_wscale = false;
  uint8_t wscale = 0;          // as sent; the engine clamps to 14 like tcp_parse_options()
  bool sack_permitted = false;
  bool has_timestamp = false;
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  bool ece_cwr = false;        // the SYN carried both ECE and CWR (RFC 3168 ECN setup)
  uint8_t ip_ecn = 0;          // ECN field of the SYN's IP header (low 2 bits of TOS/TCLASS)
  bool tcp_res1 = false;       // any of the SYN's 4 reserved TCP header bits (AccECN's AE)
};

// The SYN-ACK the host's kernel would send (tcp_make_synack()). Host byte order.
struct SynAckPlan {
  uint32_t seq = 0;            // the cookie
  uint32_t ack = 0;            // client ISN + 1
  uint16_t window = 0;         // unscaled window field of the SYN-ACK
  uint16_t mss = 0;            // the host's own advertised MSS (always sent)
  bool sack_permitted = false;
  bool has_timestamp = false;
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  bool has_wscale = false;
  uint8_t wscale = 0;          // the host's rcv_wscale
  bool ece = false;            // ECE flag set on the SYN-ACK (ECN negotiated)
  uint8_t mss_index = 0;       // cookie MSS table index (diagnostic)
};

// Largest TCP option block a SYN-ACK can carry.
inline constexpr size_t kMaxTcpOptionBytes = 40;

// Writes the SYN-ACK's TCP options in Linux's wire order (tcp_options_write()) into `out`
// (at least kMaxTcpOptionBytes) and returns their length, a multiple of 4.
// Implemented by the packet codec (codec.cpp).
size_t write_synack_options(const SynAckPlan& plan, uint8_t* out) noexcept;

}  // namespace synwarden
