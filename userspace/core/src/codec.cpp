// Frame construction: the SYN-ACK the protected host's kernel would send, written in place over
// the SYN, plus the MAC rewrite of the forwarding path.
#include "synwarden/codec.h"

#include <cstring>

#include "synwarden/checksum.h"
#include "synwarden/packet_bytes.h"

namespace synwarden {
namespace {

inline uint32_t option_word(uint8_t a, uint8_t b, uint8_t c, uint8_t d) noexcept {
  return (static_cast<uint32_t>(a) << 24) | (static_cast<uint32_t>(b) << 16) |
         (static_cast<uint32_t>(c) << 8) | d;
}

// Length write_synack_options() will produce, so capacity can be checked before writing.
inline size_t synack_options_len(const SynAckPlan& plan) noexcept {
  size_t n = plan.mss != 0 ? 4 : 0;
  if (plan.has_timestamp) n += 12;
  else if (plan.sack_permitted) n += 4;
  if (plan.has_wscale) n += 4;
  return n;
}

// tcp_v4_send_synack() / tcp_v6_send_synack(): the listener's TOS/TCLASS, or with
// net.ipv4.tcp_reflect_tos the SYN's DSCP combined with the listener's ECN bits. The SYN-ACK
// itself is not ECN-capable (RFC 3168 6.1.1) unless a BPF congestion control asks for it.
inline uint8_t synack_dsfield(const ParsedFrame& syn, const SynAckFrameParams& params) noexcept {
  if (!params.reflect_tos) return params.tos;
  return static_cast<uint8_t>((syn.ip_dsfield & ~kEcnMask) | (params.tos & kEcnMask));
}

inline uint64_t mix64(uint64_t h) noexcept {
  // splitmix64 finaliser: every input bit reaches every output bit.
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBULL;
  h ^= h >> 31;
  return h;
}

// Stores host-order `value` big-endian at `p` and adds the stored word to a plain 64-bit sum
// of raw words (see ChecksumAccumulator), so checksums never re-read fresh stores.
inline void put32(uint8_t* p, uint32_t value, uint64_t& sum) noexcept {
  const uint32_t raw = to_be32(value);
  store_raw32(p, raw);
  sum += raw;
}

// Mirrors tcp_options_write() (net/ipv4/tcp_output.c) for the options tcp_synack_options()
// selects without MD5/AO/Fast Open/MPTCP/AccECN:
//   MSS                      02 04 mm mm            (when opts->mss != 0)
//   TS with SACK_PERM        04 02 08 0a tsval tsecr
//   TS without SACK_PERM     01 01 08 0a tsval tsecr
//   SACK_PERM without TS     01 01 04 02
//   WS                       01 03 03 ws
// The AccECN "leftover bytes" rework of that function changes none of these words while no
// AccECN option is written.
size_t emit_synack_options(const SynAckPlan& plan, uint8_t* out, uint64_t& sum) noexcept {
  uint8_t* p = out;
  if (plan.mss != 0) {
    put32(p, option_word(tcpopt::kMss, tcpopt::kLenMss, 0, 0) | plan.mss, sum);
    p += 4;
  }
  if (plan.has_timestamp) {
    // SACK_PERM rides in the two bytes that would otherwise be NOP padding before TS.
    const uint32_t head =
        plan.sack_permitted
            ? option_word(tcpopt::kSackPerm, tcpopt::kLenSackPerm, tcpopt::kTimestamp,
                          tcpopt::kLenTimestamp)
            : option_word(tcpopt::kNop, tcpopt::kNop, tcpopt::kTimestamp, tcpopt::kLenTimestamp);
    put32(p, head, sum);
    put32(p + 4, plan.tsval, sum);
    put32(p + 8, plan.tsecr, sum);
    p += 12;
  } else if (plan.sack_permitted) {
    put32(p, option_word(tcpopt::kNop, tcpopt::kNop, tcpopt::kSackPerm, tcpopt::kLenSackPerm),
          sum);
    p += 4;
  }
  if (plan.has_wscale) {
    put32(p, option_word(tcpopt::kNop, tcpopt::kWindow, tcpopt::kLenWindow, plan.wscale), sum);
    p += 4;
  }
  return static_cast<size_t>(p - out);
}

}  // namespace

size_t write_synack_options(const SynAckPlan& plan, uint8_t* out) noexcept {
  uint64_t unused_sum = 0;
  return emit_synack_options(plan, out, unused_sum);
}

uint32_t auto_flow_label(const ParsedFrame& syn, uint32_t seed) noexcept {
  // Keyed mix of the 4-tuple: stable for a flow (ECMP keeps the path), opaque to observers,
  // like the kernel's label derived from a random per-request hash. Not a cryptographic MAC:
  // the label carries no secret in synwarden's design.
  uint64_t h = mix64(seed ^ 0x9E3779B97F4A7C15ULL);
  h = mix64(h ^ load_raw64(syn.saddr) ^ (load_raw64(syn.saddr + 8) << 1));
  h = mix64(h ^ load_raw64(syn.daddr) ^ (load_raw64(syn.daddr + 8) << 1));
  h = mix64(h ^ (static_cast<uint64_t>(syn.sport) << 16) ^ syn.dport);
  return static_cast<uint32_t>(h >> 44) & kIpv6FlowLabelMask;
}

size_t build_synack_in_place(uint8_t* frame, size_t capacity, const ParsedFrame& syn,
                             const SynAckPlan& plan, const SynAckFrameParams& params) noexcept {
  if (syn.verdict != Verdict::kOk) return 0;
  const bool v4 = syn.family == IpFamily::kIpv4;
  const size_t l3 = syn.l3_offset;
  const size_t ip_len = v4 ? kIpv4MinHeaderLen : kIpv6HeaderLen;  // IPv4 options are dropped
  const size_t tcp_len = kTcpMinHeaderLen + synack_options_len(plan);
  const size_t frame_len = l3 + ip_len + tcp_len;
  if (frame_len > capacity) return 0;

  // Ethernet: back to the sender. VLAN tags between the MACs and L3 stay as they are.
  std::memcpy(frame, frame + 6, 6);
  std::memcpy(frame + 6, params.src_mac.data(), 6);

  uint8_t* ip = frame + l3;
  uint8_t* tcp = ip + ip_len;
  const uint8_t dsfield = synack_dsfield(syn, params);

  // Both checksums are summed from the values as they are stored (see put32()). The TCP sum
  // starts with the pseudo-header: addresses, protocol and TCP length.
  uint64_t tcp_sum = 0;
  if (v4) {
    tcp_sum += load_raw32(syn.saddr) + uint64_t{load_raw32(syn.daddr)};
    tcp_sum += to_be32((uint32_t{ipproto::kTcp} << 16) | static_cast<uint32_t>(tcp_len));
  } else {
    for (size_t i = 0; i < 16; i += 4) {
      tcp_sum += load_raw32(syn.saddr + i) + uint64_t{load_raw32(syn.daddr + i)};
    }
    tcp_sum += to_be32(static_cast<uint32_t>(tcp_len)) + uint64_t{to_be32(ipproto::kTcp)};
  }

  // TCP header (tcp_make_synack()): everything from the plan, ports swapped, urgent 0.
  store_raw16(tcp, syn.dport);
  store_raw16(tcp + 2, syn.sport);
  tcp_sum += uint64_t{syn.dport} + syn.sport;
  put32(tcp + 4, plan.seq, tcp_sum);
  put32(tcp + 8, plan.ack, tcp_sum);
  const uint32_t flags = tcpflag::kSyn | tcpflag::kAck | (plan.ece ? tcpflag::kEce : 0U);
  put32(tcp + 12, (static_cast<uint32_t>(tcp_len / 4) << 28) | (flags << 16) | plan.window,
        tcp_sum);
  store_raw32(tcp + 16, 0);  // checksum (below) and urgent pointer
  emit_synack_options(plan, tcp + kTcpMinHeaderLen, tcp_sum);

  if (v4) {
    // ip_build_and_send_pkt(): version 4, no options, DF with ID 0 (ip_dont_fragment() holds
    // for TCP's default PMTU discovery), TTL from ip_select_ttl().
    uint64_t ip_sum = 0;
    put32(ip, (0x45U << 24) | (uint32_t{dsfield} << 16) | static_cast<uint32_t>(ip_len + tcp_len),
          ip_sum);
    put32(ip + 4, kIpv4FlagDf, ip_sum);  // ID 0, flags + fragment offset
    put32(ip + 8, (uint32_t{params.ttl} << 24) | (uint32_t{ipproto::kTcp} << 16), ip_sum);
    std::memcpy(ip + 12, syn.daddr, 4);
    std::memcpy(ip + 16, syn.saddr, 4);
    ip_sum += load_raw32(syn.saddr) + uint64_t{load_raw32(syn.daddr)};
    store_be16(ip + 10, checksum_finish(ChecksumAccumulator{ip_sum}));
  } else {
    // ip6_xmit(): version 6, traffic class, flow label per policy (ip6_make_flowlabel()),
    // hop limit from the route (64 by default). No header checksum in IPv6.
    uint32_t label = 0;
    switch (params.flow_label) {
      case FlowLabelPolicy::kAuto: label = auto_flow_label(syn, params.flow_label_seed); break;
      case FlowLabelPolicy::kReflect: label = syn.ipv6_flow_label; break;
      case FlowLabelPolicy::kZero: label = 0; break;
    }
    store_be32(ip, (6U << 28) | (uint32_t{dsfield} << 20) | (label & kIpv6FlowLabelMask));
    store_be16(ip + 4, static_cast<uint16_t>(tcp_len));
    ip[6] = ipproto::kTcp;
    ip[7] = params.ttl;
    std::memcpy(ip + 8, syn.daddr, 16);
    std::memcpy(ip + 24, syn.saddr, 16);
  }
  store_be16(tcp + 16, checksum_finish(ChecksumAccumulator{tcp_sum}));

  if (params.pad_to_min_frame && frame_len < kEthMinFrameLen && capacity >= kEthMinFrameLen) {
    // Not every driver's XDP/AF_XDP transmit path pads runts; the IP length excludes these.
    std::memset(frame + frame_len, 0, kEthMinFrameLen - frame_len);
    return kEthMinFrameLen;
  }
  return frame_len;
}

bool rewrite_macs(uint8_t* frame, size_t len, const MacAddress& dst,
                  const MacAddress& src) noexcept {
  if (len < kEthHeaderLen) return false;
  std::memcpy(frame, dst.data(), 6);
  std::memcpy(frame + 6, src.data(), 6);
  return true;
}

}  // namespace synwarden
