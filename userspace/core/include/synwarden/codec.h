// Packet codec: bounded parsing of Ethernet/VLAN/IPv4/IPv6/TCP frames and in-place
// construction of the SYN-ACK the protected host's kernel would send.
//
// Hot-path code: no allocation, no exceptions, no system calls. Every read is bounded by the
// frame length given by the caller; a frame that does not fit its own headers gets a verdict,
// never an out-of-bounds read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "synwarden/flow.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/packet_headers.h"
#include "synwarden/synack_plan.h"

namespace synwarden {

// What parse_frame() made of a frame. kOk and the three "not for us" verdicts (kNotIp, kNotTcp,
// kIpv6ExtensionHeader) describe well-formed traffic; everything else is malformed.
enum class Verdict : uint8_t {
  kOk,                    // Ethernet [+VLAN] + IPv4/IPv6 + TCP, all headers and options sound
  kNotIp,                 // EtherType is neither IPv4 nor IPv6 (ARP, LLDP, 802.3 length...)
  kNotTcp,                // IP protocol / next header is not TCP (and not an IPv6 ext header)
  kIpv6ExtensionHeader,   // IPv6 next header is an extension header; the chain is not walked
  kIpFragment,            // IPv4 TCP with MF set or a fragment offset
  kTruncatedEthernet,     // fewer than 14 bytes
  kTruncatedVlan,         // a VLAN TPID without the 4 bytes of its tag
  kTooManyVlanTags,       // more than kMaxVlanTags stacked tags
  kTruncatedIpHeader,     // frame ends inside the fixed IPv4 (20) or IPv6 (40) header
  kTruncatedIpOptions,    // frame ends before the IPv4 header length the IHL announces
  kBadIpVersion,          // version nibble disagrees with the EtherType
  kBadIhl,                // IPv4 IHL < 5
  kBadIpLength,           // IPv4 total length shorter than its own header
  kIpLengthExceedsFrame,  // IPv4 total length / IPv6 payload length runs past the frame end
  kTruncatedTcp,          // IP payload shorter than the 20-byte TCP header
  kBadTcpDoff,            // TCP data offset < 5
  kTruncatedTcpOptions,   // TCP data offset runs past the IP payload
  kBadTcpOption,          // option length < 2 or running past the option space
  kBadIpv4Checksum,       // only with ChecksumPolicy::kVerify
  kBadTcpChecksum,        // only with ChecksumPolicy::kVerify
};
inline constexpr size_t kVerdictCount = static_cast<size_t>(Verdict::kBadTcpChecksum) + 1;

// Stable snake_case name for counters and logs ("ok", "truncated_vlan", ...).
const char* verdict_name(Verdict v) noexcept;
inline bool is_malformed(Verdict v) noexcept {
  return v != Verdict::kOk && v != Verdict::kNotIp && v != Verdict::kNotTcp &&
         v != Verdict::kIpv6ExtensionHeader;
}

enum class IpFamily : uint8_t { kNone, kIpv4, kIpv6 };

// Checksums cost a pass over the segment; the XDP program or the NIC may already have checked
// them, so the hot path can skip verification.
enum class ChecksumPolicy : uint8_t { kSkip, kVerify };

struct VlanTag {
  uint16_t tpid = 0;  // 0x8100 or 0x88A8, host order
  uint16_t tci = 0;   // PCP/DEI/VID, host order
};

// Everything the firewall needs from a frame. Offsets are from the start of the frame.
// Fields past the layer at which parsing stopped keep their default values.
struct ParsedFrame {
  Verdict verdict = Verdict::kTruncatedEthernet;
  IpFamily family = IpFamily::kNone;

  // Ethernet.
  uint8_t vlan_count = 0;
  VlanTag vlans[kMaxVlanTags] = {};  // outermost first
  uint16_t ethertype = 0;            // innermost EtherType, host order
  uint16_t l3_offset = 0;

  // IP. Addresses are raw network-order bytes, as the kernel hashes them; for IPv4 only the
  // first 4 bytes are used (load_raw32() gives the kernel's (__force u32) value).
  uint16_t l4_offset = 0;
  uint16_t ip_header_len = 0;   // IPv4: IHL * 4; IPv6: 40
  uint32_t ip_total_len = 0;    // L3 datagram length (IPv4 total length; IPv6 40 + payload)
  uint8_t ip_protocol = 0;      // IPv4 protocol / IPv6 next header
  uint8_t ip_dsfield = 0;       // TOS / traffic class byte, ECN bits included
  uint8_t ttl = 0;              // TTL / hop limit
  uint16_t ipv4_frag = 0;       // IPv4 flags + fragment offset, host order
  uint32_t ipv6_flow_label = 0; // host order, 20 bits
  uint8_t saddr[16] = {};
  uint8_t daddr[16] = {};

  // TCP. Ports raw network order (as hashed); the rest host order.
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint16_t window = 0;
  uint8_t tcp_flags = 0;        // byte 13: CWR ECE URG ACK PSH RST SYN FIN
  uint8_t tcp_res1 = 0;         // the 4 reserved bits (bit 0 is AccECN's AE); tcp_ecn_create_request reads them
  uint8_t tcp_header_len = 0;   // doff * 4
  uint16_t payload_offset = 0;
  uint16_t payload_len = 0;     // TCP payload bytes (Ethernet padding excluded)

  // TCP options as present on the wire, whatever the flags (tcp_parse_options() applies the
  // SYN-only rules for MSS/WS/SACK_PERM; the engine does that). Later duplicates win, as in
  // the kernel. An MSS option of 0 is ignored like the kernel does (has_mss stays false).
  SynOptions options;
  uint8_t sack_blocks = 0;      // blocks in a well-formed SACK option
  uint8_t sack_offset = 0;      // offset of that SACK option in the TCP header, 0 if none

  // Helpers.
  bool is_syn() const noexcept {
    return (tcp_flags & (tcpflag::kSyn | tcpflag::kAck | tcpflag::kRst)) == tcpflag::kSyn;
  }
};

// Parses `len` bytes at `frame`. Bytes beyond the IP datagram (Ethernet padding) are allowed.
// Fills `out` (overwriting it) and returns out.verdict.
Verdict parse_frame(const uint8_t* frame, size_t len, ParsedFrame& out,
                    ChecksumPolicy checksums = ChecksumPolicy::kSkip) noexcept;

// How the IPv6 flow label of a generated SYN-ACK is chosen. The kernel (ip6_make_flowlabel()
// with the default net.ipv6.auto_flowlabels=1) derives it from the request's random txhash, so
// no firewall can reproduce the exact value; kAuto gives an opaque, stable per-flow label of
// the same kind, kReflect copies the SYN's (IPV6_FL_F_REFLECT / flowlabel_reflect), kZero is
// auto_flowlabels=0.
enum class FlowLabelPolicy : uint8_t { kAuto, kReflect, kZero };

// Host-specific IP-level settings of the SYN-ACK (the listener's, as tcp_v4_send_synack /
// tcp_v6_send_synack read them).
struct SynAckFrameParams {
  MacAddress src_mac = {};       // MAC the SYN-ACK leaves from (firewall or protected host)
  uint8_t tos = 0;               // listener's inet_sk(sk)->tos / np->tclass (default 0)
  bool reflect_tos = false;      // net.ipv4.tcp_reflect_tos: SYN's DSCP + listener's ECN bits
  uint8_t ttl = 64;              // net.ipv4.ip_default_ttl / IPv6 hop limit
  FlowLabelPolicy flow_label = FlowLabelPolicy::kAuto;
  uint32_t flow_label_seed = 0;  // random per process; keys kAuto labels
  bool pad_to_min_frame = true;  // pad short frames to 60 bytes as a NIC would
};

// Writes the SYN-ACK answering `syn` into the same buffer, in place: MACs swapped (destination
// = the SYN's source MAC, source = params.src_mac), VLAN tags kept, addresses and ports
// swapped, IPv4 options dropped, TCP header from `plan` with options from
// write_synack_options(), no payload, full checksums. `syn` must be the parse result of this
// frame with verdict kOk (it is read, not the frame, so the rewrite may overlap freely).
// Returns the new frame length, or 0 if `syn` is not kOk or `capacity` is too small (the
// SYN-ACK can be longer than a SYN without options).
size_t build_synack_in_place(uint8_t* frame, size_t capacity, const ParsedFrame& syn,
                             const SynAckPlan& plan, const SynAckFrameParams& params) noexcept;

// Forwarding rewrite: destination = host MAC, source = firewall MAC. Returns false (and leaves
// the frame alone) if it is shorter than an Ethernet header.
bool rewrite_macs(uint8_t* frame, size_t len, const MacAddress& dst,
                  const MacAddress& src) noexcept;

// The cookie engine's view of a parsed frame's flow (client = the frame's source): raw
// network-order fields, exactly as the kernel hashes them.
inline Ipv4Flow ipv4_flow_of(const ParsedFrame& p) noexcept {
  return Ipv4Flow{load_raw32(p.saddr), load_raw32(p.daddr), p.sport, p.dport};
}
inline Ipv6Flow ipv6_flow_of(const ParsedFrame& p) noexcept {
  Ipv6Flow f;
  std::memcpy(f.client_addr.data(), p.saddr, 16);
  std::memcpy(f.host_addr.data(), p.daddr, 16);
  f.client_port = p.sport;
  f.host_port = p.dport;
  return f;
}

// The flow label kAuto produces for a SYN-ACK answering `syn` (exposed for tests and tools).
uint32_t auto_flow_label(const ParsedFrame& syn, uint32_t seed) noexcept;

}  // namespace synwarden
