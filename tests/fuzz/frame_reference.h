// A second, deliberately plain implementation of the frame parser's contract (codec.h), used by
// fuzz_frame.cpp as a differential oracle: byte-by-byte reads, no fast paths, no word tricks,
// checks in the order codec.h documents its verdicts. It is slow and allocation-free; it is not
// meant for the packet path. Also an RFC 1071 checksum written the textbook way (16-bit words,
// end-around carry), independent of checksum.cpp's 64-bit accumulator.
#pragma once

#include <cstddef>
#include <cstdint>

#include "synwarden/codec.h"

namespace synwarden::fuzz {

inline uint16_t ref_be16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t ref_be32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// One's-complement sum of 16-bit big-endian words (an odd tail is padded with a zero byte),
// added onto `sum`, carries folded at the end by ref_csum_finish().
inline uint32_t ref_csum_add(uint32_t sum, const uint8_t* p, size_t len) noexcept {
  for (size_t i = 0; i + 1 < len; i += 2) sum += ref_be16(p + i);
  if (len % 2 != 0) sum += uint32_t{p[len - 1]} << 8;
  return sum;
}
inline uint16_t ref_csum_finish(uint32_t sum) noexcept {
  while ((sum >> 16) != 0) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
// True if a region that includes its checksum field (and the pseudo-header sum `seed`) verifies.
inline bool ref_csum_ok(uint32_t seed, const uint8_t* p, size_t len) noexcept {
  return ref_csum_finish(ref_csum_add(seed, p, len)) == 0xFFFF;
}
inline uint32_t ref_pseudo_v4(const uint8_t* saddr, const uint8_t* daddr, size_t tcp_len) noexcept {
  uint32_t s = ref_csum_add(0, saddr, 4);
  s = ref_csum_add(s, daddr, 4);
  return s + ipproto::kTcp + static_cast<uint32_t>(tcp_len);
}
inline uint32_t ref_pseudo_v6(const uint8_t* saddr, const uint8_t* daddr, size_t tcp_len) noexcept {
  uint32_t s = ref_csum_add(0, saddr, 16);
  s = ref_csum_add(s, daddr, 16);
  return s + static_cast<uint32_t>(tcp_len >> 16) + static_cast<uint32_t>(tcp_len & 0xFFFF) +
         ipproto::kTcp;
}

struct RefFrame {
  Verdict verdict = Verdict::kTruncatedEthernet;
  bool ipv6 = false;
  uint8_t vlan_count = 0;
  VlanTag vlans[kMaxVlanTags] = {};
  size_t l3 = 0;
  uint8_t ip_dsfield = 0;  // TOS / traffic class byte
  size_t ip_header_len = 0;
  size_t l4 = 0;
  size_t segment_len = 0;  // TCP header + payload
  size_t tcp_header_len = 0;
  SynOptions options;
  uint8_t sack_blocks = 0;
  uint8_t sack_offset = 0;
};

// tcp_parse_options() as net/ipv4/tcp_input.c walks it, plus codec.h's rule that a length byte
// the kernel would stop at (missing, < 2, or past the header) makes the frame kBadTcpOption.
inline bool ref_tcp_options(const uint8_t* tcp, size_t header_len, RefFrame& r) noexcept {
  size_t pos = kTcpMinHeaderLen;
  while (pos < header_len) {
    const uint8_t kind = tcp[pos];
    if (kind == tcpopt::kEol) return true;
    if (kind == tcpopt::kNop) {
      pos += 1;
      continue;
    }
    if (pos + 1 >= header_len) return false;
    const uint8_t size = tcp[pos + 1];
    if (size < 2 || pos + size > header_len) return false;
    const uint8_t* body = tcp + pos + 2;
    if (kind == tcpopt::kMss && size == 4) {
      if (ref_be16(body) != 0) {
        r.options.has_mss = true;
        r.options.mss = ref_be16(body);
      }
    } else if (kind == tcpopt::kWindow && size == 3) {
      r.options.has_wscale = true;
      r.options.wscale = body[0];
    } else if (kind == tcpopt::kSackPerm && size == 2) {
      r.options.sack_permitted = true;
    } else if (kind == tcpopt::kTimestamp && size == 10) {
      r.options.has_timestamp = true;
      r.options.tsval = ref_be32(body);
      r.options.tsecr = ref_be32(body + 4);
    } else if (kind == tcpopt::kSack && size >= 10 && (size - 2) % 8 == 0) {
      r.sack_blocks = static_cast<uint8_t>((size - 2) / 8);
      r.sack_offset = static_cast<uint8_t>(pos);
    }
    pos += size;
  }
  return true;
}

inline Verdict ref_tcp(const uint8_t* frame, RefFrame& r) noexcept {
  if (r.segment_len < kTcpMinHeaderLen) return Verdict::kTruncatedTcp;
  const uint8_t* tcp = frame + r.l4;
  r.tcp_header_len = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (r.tcp_header_len < kTcpMinHeaderLen) return Verdict::kBadTcpDoff;
  if (r.tcp_header_len > r.segment_len) return Verdict::kTruncatedTcpOptions;
  r.options.ece_cwr = (tcp[13] & 0xC0) == 0xC0;
  r.options.tcp_res1 = (tcp[12] & 0x0F) != 0;
  r.options.ip_ecn = static_cast<uint8_t>(r.ip_dsfield & 0x03);
  if (!ref_tcp_options(tcp, r.tcp_header_len, r)) return Verdict::kBadTcpOption;
  return Verdict::kOk;
}

// Verdict (checksums not verified) and layout of `frame`, following codec.h's verdict list.
inline RefFrame ref_parse(const uint8_t* frame, size_t len) noexcept {
  RefFrame r;
  const auto stop = [&r](Verdict v) noexcept {
    r.verdict = v;
    return r;
  };
  if (len < kEthHeaderLen) return r;
  size_t off = kEthHeaderLen;
  uint16_t type = ref_be16(frame + 12);
  while (type == 0x8100 || type == 0x88A8) {
    if (r.vlan_count == kMaxVlanTags) return stop(Verdict::kTooManyVlanTags);
    if (off + 4 > len) return stop(Verdict::kTruncatedVlan);
    r.vlans[r.vlan_count++] = VlanTag{type, ref_be16(frame + off)};
    type = ref_be16(frame + off + 2);
    off += 4;
  }
  r.l3 = off;
  const size_t avail = len - off;
  const uint8_t* ip = frame + off;
  if (type == 0x0800) {
    if (avail < 20) return stop(Verdict::kTruncatedIpHeader);
    if ((ip[0] >> 4) != 4) return stop(Verdict::kBadIpVersion);
    r.ip_header_len = static_cast<size_t>(ip[0] & 0x0F) * 4;
    r.ip_dsfield = ip[1];
    if (r.ip_header_len < 20) return stop(Verdict::kBadIhl);
    if (r.ip_header_len > avail) return stop(Verdict::kTruncatedIpOptions);
    const size_t total = ref_be16(ip + 2);
    if (total < r.ip_header_len) return stop(Verdict::kBadIpLength);
    if (total > avail) return stop(Verdict::kIpLengthExceedsFrame);
    if (ip[9] != ipproto::kTcp) return stop(Verdict::kNotTcp);
    if ((ref_be16(ip + 6) & 0x3FFF) != 0) return stop(Verdict::kIpFragment);
    r.l4 = off + r.ip_header_len;
    r.segment_len = total - r.ip_header_len;
  } else if (type == 0x86DD) {
    r.ipv6 = true;
    if (avail < 40) return stop(Verdict::kTruncatedIpHeader);
    if ((ip[0] >> 4) != 6) return stop(Verdict::kBadIpVersion);
    r.ip_header_len = 40;
    r.ip_dsfield = static_cast<uint8_t>(((ip[0] & 0x0F) << 4) | (ip[1] >> 4));
    const size_t payload = ref_be16(ip + 4);
    if (40 + payload > avail) return stop(Verdict::kIpLengthExceedsFrame);
    if (ip[6] != ipproto::kTcp) {
      switch (ip[6]) {
        case 0: case 43: case 44: case 50: case 51: case 60: case 135: case 139: case 140:
        case 253: case 254:
          return stop(Verdict::kIpv6ExtensionHeader);
        default:
          return stop(Verdict::kNotTcp);
      }
    }
    r.l4 = off + 40;
    r.segment_len = payload;
  } else {
    return stop(Verdict::kNotIp);
  }
  return stop(ref_tcp(frame, r));
}

}  // namespace synwarden::fuzz
