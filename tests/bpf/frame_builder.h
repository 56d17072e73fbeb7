// A small fluent builder for test frames (Ethernet, VLAN tags, IPv4/IPv6 with extension
// headers, TCP/UDP/ICMP), with valid lengths and checksums by default and an override for every
// field the malformed-frame tests break. Independent of synwarden_core on purpose: the tests of
// the fast path must not share a codec bug with the code they check.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace synwarden::test {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

namespace tcp_flags {
inline constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
}

// Offsets of each layer in a built frame, for truncation tests.
struct Layout {
  std::size_t l3 = 0;       // first byte of the IP header
  std::size_t l3_fixed = 0; // end of the fixed IP header (20 or 40 bytes after l3)
  std::size_t l4 = 0;       // first byte of the upper-layer header
  std::size_t l4_end = 0;   // end of the upper-layer header (TCP with options)
  std::size_t size = 0;
};

class FrameBuilder {
 public:
  FrameBuilder& eth(const Mac& dst, const Mac& src) { dst_ = dst; src_ = src; return *this; }
  FrameBuilder& vlan(std::uint16_t vid, std::uint16_t tpid = 0x8100, std::uint8_t pcp = 0) {
    tags_.push_back({tpid, static_cast<std::uint16_t>((pcp << 13) | (vid & 0x0fff))});
    return *this;
  }
  // A non-IP frame: this EtherType followed by `payload` bytes.
  FrameBuilder& raw_ethertype(std::uint16_t type, std::size_t payload) {
    l3_ = L3::raw; raw_type_ = type; payload_ = payload; return *this;
  }

  FrameBuilder& ipv4(const std::string& src, const std::string& dst) {
    l3_ = L3::v4; parse(AF_INET, src, saddr_); parse(AF_INET, dst, daddr_); return *this;
  }
  FrameBuilder& ipv6(const std::string& src, const std::string& dst) {
    l3_ = L3::v6; parse(AF_INET6, src, saddr_); parse(AF_INET6, dst, daddr_); return *this;
  }
  // IPv4 options (multiple of 4 bytes; NOP-filled) -> IHL > 5.
  FrameBuilder& ipv4_options(std::size_t bytes) { ip_opts_ = bytes; return *this; }
  FrameBuilder& ipv4_fragment(std::uint16_t offset_units, bool more) {
    frag_off_ = static_cast<std::uint16_t>((more ? 0x2000 : 0) | (offset_units & 0x1fff));
    return *this;
  }
  // IPv6 extension header of `type` (0 hop-by-hop, 43 routing, 60 dest opts, 51 AH) with
  // `bytes` total length (multiple of 8, or of 4 for AH).
  FrameBuilder& ipv6_ext(std::uint8_t type, std::size_t bytes) {
    exts_.push_back({type, bytes, 0});
    return *this;
  }
  FrameBuilder& ipv6_fragment(std::uint16_t offset_units, bool more) {
    exts_.push_back({44, 8, static_cast<std::uint16_t>((offset_units << 3) | (more ? 1 : 0))});
    return *this;
  }

  // Field overrides for malformed frames.
  FrameBuilder& ip_version(std::uint8_t v) { version_ = v; return *this; }
  FrameBuilder& ihl(std::uint8_t words) { ihl_ = words; return *this; }
  FrameBuilder& ip_length(std::uint16_t len) { ip_len_ = len; return *this; }  // tot_len / payload_len
  FrameBuilder& tcp_doff(std::uint8_t words) { doff_ = words; return *this; }

  FrameBuilder& tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags,
                    std::size_t option_bytes = 0) {
    l4_ = 6; sport_ = sport; dport_ = dport; flags_ = flags; tcp_opts_ = option_bytes;
    return *this;
  }
  FrameBuilder& udp(std::uint16_t sport, std::uint16_t dport) {
    l4_ = 17; sport_ = sport; dport_ = dport; return *this;
  }
  FrameBuilder& icmp_echo() { l4_ = l3_ == L3::v6 ? 58 : 1; return *this; }
  // Any other upper-layer protocol number, with no header of its own.
  FrameBuilder& protocol(std::uint8_t proto) { l4_ = proto; return *this; }
  FrameBuilder& payload(std::size_t bytes) { payload_ = bytes; return *this; }
  // Pads the Ethernet frame to at least `bytes` (as a NIC pads short frames to 60).
  FrameBuilder& pad_to(std::size_t bytes) { pad_to_ = bytes; return *this; }

  Bytes build(Layout* layout = nullptr) const;

 private:
  enum class L3 { none, raw, v4, v6 };
  struct Tag { std::uint16_t tpid, tci; };
  struct Ext { std::uint8_t type; std::size_t bytes; std::uint16_t frag; };

  static void parse(int af, const std::string& text, std::array<std::uint8_t, 16>& out) {
    out = {};
    if (inet_pton(af, text.c_str(), out.data()) != 1) throw std::invalid_argument("bad address " + text);
  }
  Bytes l4_bytes() const;

  Mac dst_{}, src_{};
  std::vector<Tag> tags_;
  L3 l3_ = L3::none;
  std::uint16_t raw_type_ = 0;
  std::array<std::uint8_t, 16> saddr_{}, daddr_{};
  std::size_t ip_opts_ = 0;
  std::uint16_t frag_off_ = 0x4000;  // DF, as Linux TCP sends
  std::vector<Ext> exts_;
  std::optional<std::uint8_t> version_, ihl_, doff_;
  std::optional<std::uint16_t> ip_len_;
  std::uint8_t l4_ = 0;
  std::uint16_t sport_ = 0, dport_ = 0;
  std::uint8_t flags_ = 0;
  std::size_t tcp_opts_ = 0;
  std::size_t payload_ = 0;
  std::size_t pad_to_ = 0;
};

}  // namespace synwarden::test
