// Fluent builder of well-formed Ethernet/VLAN/IPv4/IPv6/TCP frames with correct lengths and
// checksums, for tests, benchmarks and traffic tools. It allocates and throws on bad input; it
// is never used on the packet path. Tests that need malformed frames build a valid one and
// then damage the bytes they mean to test.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "synwarden/packet_headers.h"

namespace synwarden {

class FrameBuilder {
 public:
  FrameBuilder();

  // Ethernet.
  FrameBuilder& macs(const MacAddress& src, const MacAddress& dst);
  FrameBuilder& vlan(uint16_t tpid, uint16_t tci);  // outermost first; any count

  // IP. Addresses in text form; std::invalid_argument if they do not parse.
  FrameBuilder& ipv4(std::string_view src, std::string_view dst);
  FrameBuilder& ipv6(std::string_view src, std::string_view dst);
  FrameBuilder& tos(uint8_t dsfield);           // TOS / traffic class
  FrameBuilder& ttl(uint8_t ttl);               // TTL / hop limit
  FrameBuilder& ip_id(uint16_t id);
  FrameBuilder& ipv4_frag(uint16_t flags_and_offset);  // default DF
  FrameBuilder& ipv4_options(std::vector<uint8_t> options);  // zero-padded to 4 bytes
  FrameBuilder& flow_label(uint32_t label);
  // Another upper-layer protocol or an IPv6 extension header number: no TCP header is written;
  // the payload follows the IP header directly.
  FrameBuilder& ip_protocol(uint8_t protocol);

  // TCP (the default protocol).
  FrameBuilder& ports(uint16_t sport, uint16_t dport);
  FrameBuilder& seq(uint32_t seq);
  FrameBuilder& ack(uint32_t ack);
  FrameBuilder& flags(uint8_t flags);
  FrameBuilder& window(uint16_t window);
  FrameBuilder& reserved_bits(uint8_t res1);   // the 4 bits between doff and the flags

  // TCP options, in the order of the calls; the list is zero-padded (EOL) to 4 bytes.
  FrameBuilder& mss(uint16_t mss);
  FrameBuilder& wscale(uint8_t shift);
  FrameBuilder& sack_permitted();
  FrameBuilder& timestamp(uint32_t tsval, uint32_t tsecr);
  FrameBuilder& sack(const std::vector<std::pair<uint32_t, uint32_t>>& blocks);
  FrameBuilder& nop();
  FrameBuilder& raw_option_bytes(const std::vector<uint8_t>& bytes);  // verbatim
  // What a Linux client puts in its SYN: MSS, SACK_PERM, TS, NOP, WS (tcp_syn_options()).
  FrameBuilder& linux_syn_options(uint16_t mss, uint32_t tsval, uint8_t wscale);

  FrameBuilder& payload(std::vector<uint8_t> bytes);
  FrameBuilder& pad_to(size_t frame_len);  // zero Ethernet padding after the IP datagram

  std::vector<uint8_t> build() const;

 private:
  MacAddress src_mac_;
  MacAddress dst_mac_;
  std::vector<std::pair<uint16_t, uint16_t>> vlans_;
  bool ipv6_ = false;
  uint8_t saddr_[16] = {};
  uint8_t daddr_[16] = {};
  uint8_t tos_ = 0;
  uint8_t ttl_ = 64;
  uint16_t ip_id_ = 0;
  uint16_t frag_ = kIpv4FlagDf;
  std::vector<uint8_t> ip_options_;
  uint32_t flow_label_ = 0;
  uint8_t protocol_ = ipproto::kTcp;
  uint16_t sport_ = 0;
  uint16_t dport_ = 0;
  uint32_t seq_ = 0;
  uint32_t ack_ = 0;
  uint8_t flags_ = tcpflag::kSyn;
  uint16_t window_ = 64240;
  uint8_t res1_ = 0;
  std::vector<uint8_t> tcp_options_;
  std::vector<uint8_t> payload_;
  size_t pad_to_ = 0;
};

// Parses a MAC in "aa:bb:cc:dd:ee:ff" form; std::invalid_argument otherwise.
MacAddress parse_mac(std::string_view text);

}  // namespace synwarden
