#include "frame_builder.h"

#include <algorithm>
#include <cstdint>

namespace synwarden::test {

namespace {

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void push16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

// RFC 1071 one's-complement sum.
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) acc += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += static_cast<std::uint32_t>(p[n - 1] << 8);
  return acc;
}
std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc);
}

}  // namespace

Bytes FrameBuilder::l4_bytes() const {
  Bytes b;
  if (l4_ == 6) {
    const std::size_t hdr = 20 + tcp_opts_;
    b.resize(hdr, 0);
    put16(b, 0, sport_);
    put16(b, 2, dport_);
    b[4] = 0; b[5] = 0; b[6] = 0x03; b[7] = 0xe8;  // seq 1000
    if (flags_ & tcp_flags::ACK) { b[10] = 0x07; b[11] = 0xd0; }  // ack 2000
    const std::uint8_t doff = doff_.value_or(static_cast<std::uint8_t>(hdr / 4));
    b[12] = static_cast<std::uint8_t>(doff << 4);
    b[13] = flags_;
    put16(b, 14, 64240);
    for (std::size_t i = 20; i < hdr; ++i) b[i] = 1;  // NOP options
  } else if (l4_ == 17) {
    b.resize(8, 0);
    put16(b, 0, sport_);
    put16(b, 2, dport_);
    put16(b, 4, static_cast<std::uint16_t>(8 + payload_));
  } else if ((l4_ == 1 && l3_ == L3::v4) || (l4_ == 58 && l3_ == L3::v6)) {
    b.resize(8, 0);
    b[0] = l4_ == 1 ? 8 : 128;  // echo request
    put16(b, 4, 0x4242);
    put16(b, 6, 1);
  }
  for (std::size_t i = 0; i < payload_; ++i) b.push_back(static_cast<std::uint8_t>(0xa0 + i % 64));
  return b;
}

Bytes FrameBuilder::build(Layout* layout) const {
  Bytes f(dst_.begin(), dst_.end());
  f.insert(f.end(), src_.begin(), src_.end());
  for (const Tag& t : tags_) {
    push16(f, t.tpid);
    push16(f, t.tci);
  }
  Layout lay;
  if (l3_ == L3::raw || l3_ == L3::none) {
    push16(f, raw_type_);
    lay.l3 = lay.l3_fixed = lay.l4 = lay.l4_end = f.size();
    f.resize(f.size() + payload_, 0x5a);
  } else {
    Bytes l4 = l4_bytes();
    std::size_t l4_hdr = l4.size() - payload_;
    push16(f, l3_ == L3::v4 ? 0x0800 : 0x86dd);
    lay.l3 = f.size();
    Bytes pseudo;  // pseudo-header for the TCP/UDP/ICMPv6 checksum
    if (l3_ == L3::v4) {
      const std::size_t hdr = 20 + ip_opts_;
      Bytes ip(hdr, 0);
      ip[0] = static_cast<std::uint8_t>(version_.value_or(4) << 4 | ihl_.value_or(static_cast<std::uint8_t>(hdr / 4)));
      put16(ip, 2, ip_len_.value_or(static_cast<std::uint16_t>(hdr + l4.size())));
      put16(ip, 4, 0x1234);
      put16(ip, 6, frag_off_);
      ip[8] = 64;
      ip[9] = l4_;
      std::copy_n(saddr_.begin(), 4, ip.begin() + 12);
      std::copy_n(daddr_.begin(), 4, ip.begin() + 16);
      for (std::size_t i = 20; i < hdr; ++i) ip[i] = 1;  // NOP options
      put16(ip, 10, fold(sum16(ip.data(), ip.size())));
      f.insert(f.end(), ip.begin(), ip.end());
      lay.l3_fixed = lay.l3 + 20;
      pseudo.insert(pseudo.end(), saddr_.begin(), saddr_.begin() + 4);
      pseudo.insert(pseudo.end(), daddr_.begin(), daddr_.begin() + 4);
      pseudo.push_back(0);
      pseudo.push_back(l4_);
      push16(pseudo, static_cast<std::uint16_t>(l4.size()));
    } else {
      std::size_t ext_len = 0;
      for (const Ext& e : exts_) ext_len += e.bytes;
      Bytes ip(40, 0);
      ip[0] = static_cast<std::uint8_t>(version_.value_or(6) << 4);
      put16(ip, 4, ip_len_.value_or(static_cast<std::uint16_t>(ext_len + l4.size())));
      ip[6] = exts_.empty() ? l4_ : exts_.front().type;
      ip[7] = 64;
      std::copy(saddr_.begin(), saddr_.end(), ip.begin() + 8);
      std::copy(daddr_.begin(), daddr_.end(), ip.begin() + 24);
      f.insert(f.end(), ip.begin(), ip.end());
      lay.l3_fixed = lay.l3 + 40;
      for (std::size_t i = 0; i < exts_.size(); ++i) {
        const Ext& e = exts_[i];
        Bytes x(e.bytes, 0);
        x[0] = i + 1 < exts_.size() ? exts_[i + 1].type : l4_;
        if (e.type == 44) {
          put16(x, 2, e.frag);
          put16(x, 6, 0x5678);  // identification (low half)
        } else if (e.type == 51) {
          x[1] = static_cast<std::uint8_t>(e.bytes / 4 - 2);
        } else {
          x[1] = static_cast<std::uint8_t>(e.bytes / 8 - 1);
          if (e.bytes >= 4) {  // one PadN option fills the header
            x[2] = 1;
            x[3] = static_cast<std::uint8_t>(e.bytes - 4);
          }
        }
        f.insert(f.end(), x.begin(), x.end());
      }
      pseudo.insert(pseudo.end(), saddr_.begin(), saddr_.end());
      pseudo.insert(pseudo.end(), daddr_.begin(), daddr_.end());
      push16(pseudo, 0);
      push16(pseudo, static_cast<std::uint16_t>(l4.size()));
      push16(pseudo, 0);
      pseudo.push_back(0);
      pseudo.push_back(l4_);
    }
    // Checksums, so the frames are what a host would accept (the fast path never checks them).
    const std::size_t ck = l4_ == 6 ? 16 : l4_ == 17 ? 6 : (l4_ == 1 || l4_ == 58) ? 2 : SIZE_MAX;
    if (ck != SIZE_MAX && l4.size() >= ck + 2) {
      std::uint32_t acc = l4_ == 1 ? 0 : sum16(pseudo.data(), pseudo.size());
      put16(l4, ck, fold(sum16(l4.data(), l4.size(), acc)));
    }
    lay.l4 = f.size();
    lay.l4_end = lay.l4 + l4_hdr;
    f.insert(f.end(), l4.begin(), l4.end());
  }
  if (f.size() < pad_to_) f.resize(pad_to_, 0);
  lay.size = f.size();
  if (layout) *layout = lay;
  return f;
}

}  // namespace synwarden::test
