// Test/tool frame builder. Checksums come from checksum.h; the unit tests check them against an
// independent byte-wise implementation and scapy, so a fault there cannot hide here.
#include "synwarden/packet_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "synwarden/address_text.h"
#include "synwarden/checksum.h"
#include "synwarden/packet_bytes.h"

namespace synwarden {
namespace {

void parse_address(int family, std::string_view text, uint8_t* out) {
  bool ok = false;
  if (family == AF_INET) {
    const auto a = parse_ipv4_text(text);
    if ((ok = a.has_value())) std::copy(a->begin(), a->end(), out);
  } else {
    const auto a = parse_ipv6_text(text);
    if ((ok = a.has_value())) std::copy(a->begin(), a->end(), out);
  }
  if (!ok) {
    throw std::invalid_argument("FrameBuilder: '" + std::string(text) + "' is not a valid " +
                                (family == AF_INET ? "IPv4" : "IPv6") + " address");
  }
}

}  // namespace

FrameBuilder::FrameBuilder()
    : src_mac_{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, dst_mac_{0x02, 0x00, 0x00, 0x00, 0x00, 0x02} {}

FrameBuilder& FrameBuilder::macs(const MacAddress& src, const MacAddress& dst) {
  src_mac_ = src;
  dst_mac_ = dst;
  return *this;
}
FrameBuilder& FrameBuilder::vlan(uint16_t tpid, uint16_t tci) {
  vlans_.emplace_back(tpid, tci);
  return *this;
}
FrameBuilder& FrameBuilder::ipv4(std::string_view src, std::string_view dst) {
  ipv6_ = false;
  parse_address(AF_INET, src, saddr_);
  parse_address(AF_INET, dst, daddr_);
  return *this;
}
FrameBuilder& FrameBuilder::ipv6(std::string_view src, std::string_view dst) {
  ipv6_ = true;
  parse_address(AF_INET6, src, saddr_);
  parse_address(AF_INET6, dst, daddr_);
  return *this;
}
FrameBuilder& FrameBuilder::tos(uint8_t dsfield) { tos_ = dsfield; return *this; }
FrameBuilder& FrameBuilder::ttl(uint8_t ttl) { ttl_ = ttl; return *this; }
FrameBuilder& FrameBuilder::ip_id(uint16_t id) { ip_id_ = id; return *this; }
FrameBuilder& FrameBuilder::ipv4_frag(uint16_t flags_and_offset) {
  frag_ = flags_and_offset;
  return *this;
}
FrameBuilder& FrameBuilder::ipv4_options(std::vector<uint8_t> options) {
  if (options.size() > kIpv4MaxHeaderLen - kIpv4MinHeaderLen) {
    throw std::invalid_argument("FrameBuilder: IPv4 options longer than 40 bytes");
  }
  ip_options_ = std::move(options);
  while (ip_options_.size() % 4 != 0) ip_options_.push_back(0);
  return *this;
}
FrameBuilder& FrameBuilder::flow_label(uint32_t label) {
  flow_label_ = label & kIpv6FlowLabelMask;
  return *this;
}
FrameBuilder& FrameBuilder::ip_protocol(uint8_t protocol) { protocol_ = protocol; return *this; }
FrameBuilder& FrameBuilder::ports(uint16_t sport, uint16_t dport) {
  sport_ = sport;
  dport_ = dport;
  return *this;
}
FrameBuilder& FrameBuilder::seq(uint32_t seq) { seq_ = seq; return *this; }
FrameBuilder& FrameBuilder::ack(uint32_t ack) { ack_ = ack; return *this; }
FrameBuilder& FrameBuilder::flags(uint8_t flags) { flags_ = flags; return *this; }
FrameBuilder& FrameBuilder::window(uint16_t window) { window_ = window; return *this; }
FrameBuilder& FrameBuilder::reserved_bits(uint8_t res1) {
  res1_ = res1 & 0x0F;
  return *this;
}

FrameBuilder& FrameBuilder::mss(uint16_t mss) {
  return raw_option_bytes({tcpopt::kMss, tcpopt::kLenMss, static_cast<uint8_t>(mss >> 8),
                           static_cast<uint8_t>(mss)});
}
FrameBuilder& FrameBuilder::wscale(uint8_t shift) {
  return raw_option_bytes({tcpopt::kWindow, tcpopt::kLenWindow, shift});
}
FrameBuilder& FrameBuilder::sack_permitted() {
  return raw_option_bytes({tcpopt::kSackPerm, tcpopt::kLenSackPerm});
}
FrameBuilder& FrameBuilder::timestamp(uint32_t tsval, uint32_t tsecr) {
  std::vector<uint8_t> o{tcpopt::kTimestamp, tcpopt::kLenTimestamp, 0, 0, 0, 0, 0, 0, 0, 0};
  store_be32(o.data() + 2, tsval);
  store_be32(o.data() + 6, tsecr);
  return raw_option_bytes(o);
}
FrameBuilder& FrameBuilder::sack(const std::vector<std::pair<uint32_t, uint32_t>>& blocks) {
  std::vector<uint8_t> o{tcpopt::kSack,
                         static_cast<uint8_t>(tcpopt::kLenSackBase +
                                              blocks.size() * tcpopt::kLenSackPerBlock)};
  for (const auto& [start, end] : blocks) {
    const size_t at = o.size();
    o.resize(at + 8);
    store_be32(o.data() + at, start);
    store_be32(o.data() + at + 4, end);
  }
  return raw_option_bytes(o);
}
FrameBuilder& FrameBuilder::nop() { return raw_option_bytes({tcpopt::kNop}); }
FrameBuilder& FrameBuilder::raw_option_bytes(const std::vector<uint8_t>& bytes) {
  tcp_options_.insert(tcp_options_.end(), bytes.begin(), bytes.end());
  if (tcp_options_.size() > kTcpMaxHeaderLen - kTcpMinHeaderLen) {
    throw std::invalid_argument("FrameBuilder: TCP options longer than 40 bytes");
  }
  return *this;
}
FrameBuilder& FrameBuilder::linux_syn_options(uint16_t mss_value, uint32_t tsval,
                                              uint8_t shift) {
  // tcp_options_write() order for a SYN: MSS, SACK_PERM+TS in one word, NOP, WS.
  return mss(mss_value).sack_permitted().timestamp(tsval, 0).nop().wscale(shift);
}
FrameBuilder& FrameBuilder::payload(std::vector<uint8_t> bytes) {
  payload_ = std::move(bytes);
  return *this;
}
FrameBuilder& FrameBuilder::pad_to(size_t frame_len) {
  pad_to_ = frame_len;
  return *this;
}

std::vector<uint8_t> FrameBuilder::build() const {
  const bool tcp = protocol_ == ipproto::kTcp;
  std::vector<uint8_t> options = tcp_options_;
  while (options.size() % 4 != 0) options.push_back(tcpopt::kEol);
  const size_t tcp_header_len = tcp ? kTcpMinHeaderLen + options.size() : 0;
  const size_t l4_len = tcp_header_len + payload_.size();
  const size_t ip_header_len = ipv6_ ? kIpv6HeaderLen : kIpv4MinHeaderLen + ip_options_.size();
  const size_t l3 = kEthHeaderLen + vlans_.size() * kVlanTagLen;
  if (ip_header_len + l4_len > 0xFFFF) {
    throw std::invalid_argument("FrameBuilder: datagram longer than 65535 bytes");
  }

  std::vector<uint8_t> f(l3 + ip_header_len + l4_len);
  std::copy(dst_mac_.begin(), dst_mac_.end(), f.begin());
  std::copy(src_mac_.begin(), src_mac_.end(), f.begin() + 6);
  size_t off = 12;
  for (const auto& [tpid, tci] : vlans_) {
    store_be16(&f[off], tpid);
    store_be16(&f[off + 2], tci);
    off += 4;
  }
  store_be16(&f[off], ipv6_ ? ethertype::kIpv6 : ethertype::kIpv4);

  uint8_t* ip = &f[l3];
  if (ipv6_) {
    store_be32(ip, (6U << 28) | (static_cast<uint32_t>(tos_) << 20) | flow_label_);
    store_be16(ip + 4, static_cast<uint16_t>(l4_len));
    ip[6] = protocol_;
    ip[7] = ttl_;
    std::copy(saddr_, saddr_ + 16, ip + 8);
    std::copy(daddr_, daddr_ + 16, ip + 24);
  } else {
    ip[0] = static_cast<uint8_t>(0x40 | (ip_header_len / 4));
    ip[1] = tos_;
    store_be16(ip + 2, static_cast<uint16_t>(ip_header_len + l4_len));
    store_be16(ip + 4, ip_id_);
    store_be16(ip + 6, frag_);
    ip[8] = ttl_;
    ip[9] = protocol_;
    std::copy(saddr_, saddr_ + 4, ip + 12);
    std::copy(daddr_, daddr_ + 4, ip + 16);
    std::copy(ip_options_.begin(), ip_options_.end(), ip + 20);
    store_be16(ip + 10, ipv4_header_checksum(ip, ip_header_len));
  }

  uint8_t* l4 = ip + ip_header_len;
  if (tcp) {
    store_be16(l4, sport_);
    store_be16(l4 + 2, dport_);
    store_be32(l4 + 4, seq_);
    store_be32(l4 + 8, ack_);
    l4[12] = static_cast<uint8_t>(((tcp_header_len / 4) << 4) | res1_);
    l4[13] = flags_;
    store_be16(l4 + 14, window_);
    std::copy(options.begin(), options.end(), l4 + kTcpMinHeaderLen);
  }
  std::copy(payload_.begin(), payload_.end(), l4 + tcp_header_len);
  if (tcp) {
    const uint16_t check = ipv6_ ? tcp_checksum_v6(ip + 8, ip + 24, l4, l4_len)
                                 : tcp_checksum_v4(ip + 12, ip + 16, l4, l4_len);
    store_be16(l4 + 16, check);
  }
  if (f.size() < pad_to_) f.resize(pad_to_, 0);
  return f;
}

MacAddress parse_mac(std::string_view text) {
  const auto mac = parse_mac_text(text);
  if (!mac) {
    throw std::invalid_argument("'" + std::string(text) +
                                "' is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
  }
  return *mac;
}

}  // namespace synwarden
