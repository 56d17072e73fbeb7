// Bounded frame parser: Ethernet, up to two VLAN tags, IPv4 (with options) or the IPv6 fixed
// header, TCP with options. Each layer checks that its bytes lie inside the frame before it
// reads them; the verdict names the first layer that failed.
#include <cstring>

#include "synwarden/checksum.h"
#include "synwarden/codec.h"
#include "synwarden/packet_bytes.h"

namespace synwarden {
namespace {

inline Verdict finish(ParsedFrame& out, Verdict v) noexcept {
  out.verdict = v;
  return v;
}

// IPv6 next-header values that are extension headers (RFC 8200 section 4, the IANA "IPv6
// Extension Header Types" registry), as opposed to upper-layer protocols.
inline bool is_ipv6_extension_header(uint8_t nh) noexcept {
  switch (nh) {
    case ipproto::kHopByHop:
    case ipproto::kRouting:
    case ipproto::kFragment:
    case ipproto::kEsp:
    case ipproto::kAh:
    case ipproto::kDestOpts:
    case ipproto::kMobility:
    case ipproto::kHip:
    case ipproto::kShim6:
    case ipproto::kExperimental1:
    case ipproto::kExperimental2:
      return true;
    default:
      return false;
  }
}

// Mirrors tcp_parse_options() (net/ipv4/tcp_input.c): NOP skips a byte, EOL ends the list,
// known options are taken only at their exact length, unknown ones are skipped by length, later
// duplicates overwrite earlier ones. Where the kernel silently stops parsing ("silly" size < 2,
// or a size running past the header) we report kBadTcpOption so the firewall can drop it.
Verdict parse_tcp_options(const uint8_t* tcp, size_t header_len, ParsedFrame& out) noexcept {
  SynOptions& opt = out.options;
  // Fast path for the layout every Linux client's SYN has (tcp_options_write() for a SYN):
  //   02 04 mm mm | 04 02 08 0a | tsval | tsecr | 01 03 03 ws
  // Three word compares replace five trips through the loop below, with the same result.
  if (header_len == kTcpMinHeaderLen + 20) {
    const uint32_t w0 = load_be32(tcp + 20);
    const uint32_t w1 = load_be32(tcp + 24);
    const uint32_t w4 = load_be32(tcp + 36);
    if ((w0 >> 16) == 0x0204 && w1 == 0x0402080A && (w4 >> 8) == 0x010303) {
      const auto mss = static_cast<uint16_t>(w0);
      opt.has_mss = mss != 0;  // an MSS of 0 is ignored, as below
      opt.mss = mss;
      opt.sack_permitted = true;
      opt.has_timestamp = true;
      opt.tsval = load_be32(tcp + 28);
      opt.tsecr = load_be32(tcp + 32);
      opt.has_wscale = true;
      opt.wscale = static_cast<uint8_t>(w4);
      return Verdict::kOk;
    }
  }
  size_t pos = kTcpMinHeaderLen;
  while (pos < header_len) {
    const uint8_t kind = tcp[pos];
    if (kind == tcpopt::kEol) break;
    if (kind == tcpopt::kNop) {
      ++pos;
      continue;
    }
    const size_t remaining = header_len - pos;
    if (remaining < 2) return Verdict::kBadTcpOption;
    const uint8_t size = tcp[pos + 1];
    if (size < 2 || size > remaining) return Verdict::kBadTcpOption;
    const uint8_t* body = tcp + pos + 2;
    switch (kind) {
      case tcpopt::kMss:
        if (size == tcpopt::kLenMss) {
          // The kernel ignores an MSS option of 0 (tcp_parse_options: "if (in_mss)").
          const uint16_t mss = load_be16(body);
          if (mss != 0) {
            opt.has_mss = true;
            opt.mss = mss;
          }
        }
        break;
      case tcpopt::kWindow:
        if (size == tcpopt::kLenWindow) {
          opt.has_wscale = true;
          opt.wscale = body[0];  // the engine clamps to TCP_MAX_WSCALE (14)
        }
        break;
      case tcpopt::kSackPerm:
        if (size == tcpopt::kLenSackPerm) opt.sack_permitted = true;
        break;
      case tcpopt::kTimestamp:
        if (size == tcpopt::kLenTimestamp) {
          opt.has_timestamp = true;
          opt.tsval = load_be32(body);
          opt.tsecr = load_be32(body + 4);
        }
        break;
      case tcpopt::kSack:
        if (size >= tcpopt::kLenSackBase + tcpopt::kLenSackPerBlock &&
            (size - tcpopt::kLenSackBase) % tcpopt::kLenSackPerBlock == 0) {
          out.sack_blocks =
              static_cast<uint8_t>((size - tcpopt::kLenSackBase) / tcpopt::kLenSackPerBlock);
          out.sack_offset = static_cast<uint8_t>(pos);
        }
        break;
      default:
        break;  // unknown: skipped by its length
    }
    pos += size;
  }
  return Verdict::kOk;
}

Verdict parse_tcp(const uint8_t* frame, size_t l4, size_t segment_len, ParsedFrame& out,
                  ChecksumPolicy checksums) noexcept {
  out.l4_offset = static_cast<uint16_t>(l4);
  if (segment_len < kTcpMinHeaderLen) return finish(out, Verdict::kTruncatedTcp);
  const uint8_t* tcp = frame + l4;
  out.sport = load_raw16(tcp);
  out.dport = load_raw16(tcp + 2);
  out.seq = load_be32(tcp + 4);
  out.ack = load_be32(tcp + 8);
  out.tcp_res1 = tcp[12] & 0x0F;
  out.tcp_flags = tcp[13];
  out.window = load_be16(tcp + 14);
  const size_t header_len = static_cast<size_t>(tcp[12] >> 4) * 4;
  out.tcp_header_len = static_cast<uint8_t>(header_len);
  if (header_len < kTcpMinHeaderLen) return finish(out, Verdict::kBadTcpDoff);
  if (header_len > segment_len) return finish(out, Verdict::kTruncatedTcpOptions);

  if (checksums == ChecksumPolicy::kVerify) {
    const bool ok = out.family == IpFamily::kIpv4
                        ? tcp_checksum_ok_v4(out.saddr, out.daddr, tcp, segment_len)
                        : tcp_checksum_ok_v6(out.saddr, out.daddr, tcp, segment_len);
    if (!ok) return finish(out, Verdict::kBadTcpChecksum);
  }

  out.options.ece_cwr = (out.tcp_flags & (tcpflag::kEce | tcpflag::kCwr)) ==
                        (tcpflag::kEce | tcpflag::kCwr);
  out.options.ip_ecn = static_cast<uint8_t>(out.ip_dsfield & 0x3);
  out.options.tcp_res1 = out.tcp_res1 != 0;
  out.payload_offset = static_cast<uint16_t>(l4 + header_len);
  out.payload_len = static_cast<uint16_t>(segment_len - header_len);
  if (header_len > kTcpMinHeaderLen) {
    const Verdict v = parse_tcp_options(tcp, header_len, out);
    if (v != Verdict::kOk) return finish(out, v);
  }
  return finish(out, Verdict::kOk);
}

Verdict parse_ipv4(const uint8_t* frame, size_t len, ParsedFrame& out,
                   ChecksumPolicy checksums) noexcept {
  const size_t l3 = out.l3_offset;
  const size_t avail = len - l3;
  out.family = IpFamily::kIpv4;
  if (avail < kIpv4MinHeaderLen) return finish(out, Verdict::kTruncatedIpHeader);
  const uint8_t* ip = frame + l3;
  if ((ip[0] >> 4) != 4) return finish(out, Verdict::kBadIpVersion);
  const size_t header_len = static_cast<size_t>(ip[0] & 0x0F) * 4;
  out.ip_header_len = static_cast<uint16_t>(header_len);
  if (header_len < kIpv4MinHeaderLen) return finish(out, Verdict::kBadIhl);
  if (header_len > avail) return finish(out, Verdict::kTruncatedIpOptions);

  out.ip_dsfield = ip[1];
  const uint16_t total_len = load_be16(ip + 2);
  out.ip_total_len = total_len;
  out.ipv4_frag = load_be16(ip + 6);
  out.ttl = ip[8];
  out.ip_protocol = ip[9];
  std::memcpy(out.saddr, ip + 12, 4);
  std::memcpy(out.daddr, ip + 16, 4);

  if (checksums == ChecksumPolicy::kVerify && !ipv4_header_checksum_ok(ip, header_len)) {
    return finish(out, Verdict::kBadIpv4Checksum);
  }
  if (total_len < header_len) return finish(out, Verdict::kBadIpLength);
  // Trailing bytes past total_len are Ethernet padding (frames shorter than 60 bytes).
  if (total_len > avail) return finish(out, Verdict::kIpLengthExceedsFrame);
  if (out.ip_protocol != ipproto::kTcp) return finish(out, Verdict::kNotTcp);
  if ((out.ipv4_frag & (kIpv4FlagMf | kIpv4FragOffsetMask)) != 0) {
    return finish(out, Verdict::kIpFragment);
  }
  return parse_tcp(frame, l3 + header_len, total_len - header_len, out, checksums);
}

Verdict parse_ipv6(const uint8_t* frame, size_t len, ParsedFrame& out,
                   ChecksumPolicy checksums) noexcept {
  const size_t l3 = out.l3_offset;
  const size_t avail = len - l3;
  out.family = IpFamily::kIpv6;
  if (avail < kIpv6HeaderLen) return finish(out, Verdict::kTruncatedIpHeader);
  const uint8_t* ip = frame + l3;
  if ((ip[0] >> 4) != 6) return finish(out, Verdict::kBadIpVersion);
  const uint32_t first_word = load_be32(ip);
  out.ip_dsfield = static_cast<uint8_t>(first_word >> 20);
  out.ipv6_flow_label = first_word & kIpv6FlowLabelMask;
  out.ip_header_len = kIpv6HeaderLen;
  const uint16_t payload_len = load_be16(ip + 4);
  out.ip_total_len = kIpv6HeaderLen + payload_len;
  out.ip_protocol = ip[6];
  out.ttl = ip[7];
  std::memcpy(out.saddr, ip + 8, 16);
  std::memcpy(out.daddr, ip + 24, 16);

  // A jumbogram (payload length 0) needs a hop-by-hop header, so it ends as an extension
  // header verdict below, or as a truncated TCP segment if it claims TCP directly.
  if (kIpv6HeaderLen + size_t{payload_len} > avail) {
    return finish(out, Verdict::kIpLengthExceedsFrame);
  }
  if (out.ip_protocol != ipproto::kTcp) {
    return finish(out, is_ipv6_extension_header(out.ip_protocol) ? Verdict::kIpv6ExtensionHeader
                                                                 : Verdict::kNotTcp);
  }
  return parse_tcp(frame, l3 + kIpv6HeaderLen, payload_len, out, checksums);
}

}  // namespace

Verdict parse_frame(const uint8_t* frame, size_t len, ParsedFrame& out,
                    ChecksumPolicy checksums) noexcept {
  // Reset from a static pristine copy: assigning a ParsedFrame{} temporary built it with narrow
  // stores and copied it with wide loads (a store-forwarding stall), and memset became a
  // `rep stos` with a high start-up cost; both cost more than the rest of the parse.
  static const ParsedFrame kPristine{};
  out = kPristine;
  if (len < kEthHeaderLen) return finish(out, Verdict::kTruncatedEthernet);
  size_t off = kEthHeaderLen;
  uint16_t type = load_be16(frame + 12);
  // eth_type_vlan(): only 802.1Q and 802.1ad TPIDs are tags.
  while (type == ethertype::kVlan || type == ethertype::kQinQ) {
    if (out.vlan_count == kMaxVlanTags) return finish(out, Verdict::kTooManyVlanTags);
    if (len - off < kVlanTagLen) return finish(out, Verdict::kTruncatedVlan);
    out.vlans[out.vlan_count] = VlanTag{type, load_be16(frame + off)};
    ++out.vlan_count;
    type = load_be16(frame + off + 2);
    off += kVlanTagLen;
  }
  out.ethertype = type;
  out.l3_offset = static_cast<uint16_t>(off);
  if (type == ethertype::kIpv4) return parse_ipv4(frame, len, out, checksums);
  if (type == ethertype::kIpv6) return parse_ipv6(frame, len, out, checksums);
  return finish(out, Verdict::kNotIp);
}

const char* verdict_name(Verdict v) noexcept {
  switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kNotIp: return "not_ip";
    case Verdict::kNotTcp: return "not_tcp";
    case Verdict::kIpv6ExtensionHeader: return "ipv6_extension_header";
    case Verdict::kIpFragment: return "ip_fragment";
    case Verdict::kTruncatedEthernet: return "truncated_ethernet";
    case Verdict::kTruncatedVlan: return "truncated_vlan";
    case Verdict::kTooManyVlanTags: return "too_many_vlan_tags";
    case Verdict::kTruncatedIpHeader: return "truncated_ip_header";
    case Verdict::kTruncatedIpOptions: return "truncated_ip_options";
    case Verdict::kBadIpVersion: return "bad_ip_version";
    case Verdict::kBadIhl: return "bad_ihl";
    case Verdict::kBadIpLength: return "bad_ip_length";
    case Verdict::kIpLengthExceedsFrame: return "ip_length_exceeds_frame";
    case Verdict::kTruncatedTcp: return "truncated_tcp";
    case Verdict::kBadTcpDoff: return "bad_tcp_doff";
    case Verdict::kTruncatedTcpOptions: return "truncated_tcp_options";
    case Verdict::kBadTcpOption: return "bad_tcp_option";
    case Verdict::kBadIpv4Checksum: return "bad_ipv4_checksum";
    case Verdict::kBadTcpChecksum: return "bad_tcp_checksum";
  }
  return "unknown";
}

}  // namespace synwarden
