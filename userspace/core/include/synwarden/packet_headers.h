// Wire constants of the headers the codec reads and writes (Ethernet, 802.1Q/802.1ad, IPv4,
// IPv6, TCP). Values are the on-wire numbers; multi-byte fields are host order here and are
// converted with packet_bytes.h at the access.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "synwarden/mac_address.h"

namespace synwarden {

inline constexpr size_t kEthHeaderLen = 14;       // dst MAC, src MAC, EtherType
inline constexpr size_t kVlanTagLen = 4;          // TPID is the previous EtherType field; TCI + next type
inline constexpr size_t kMaxVlanTags = 2;         // 802.1ad S-tag + 802.1Q C-tag
inline constexpr size_t kEthMinFrameLen = 60;     // 64-byte minimum without the 4-byte FCS
inline constexpr size_t kIpv4MinHeaderLen = 20;
inline constexpr size_t kIpv4MaxHeaderLen = 60;
inline constexpr size_t kIpv6HeaderLen = 40;
inline constexpr size_t kTcpMinHeaderLen = 20;
inline constexpr size_t kTcpMaxHeaderLen = 60;

namespace ethertype {
inline constexpr uint16_t kIpv4 = 0x0800;
inline constexpr uint16_t kArp = 0x0806;
inline constexpr uint16_t kVlan = 0x8100;         // 802.1Q C-tag
inline constexpr uint16_t kQinQ = 0x88A8;         // 802.1ad S-tag
inline constexpr uint16_t kIpv6 = 0x86DD;
}  // namespace ethertype

namespace ipproto {
inline constexpr uint8_t kHopByHop = 0;
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kRouting = 43;
inline constexpr uint8_t kFragment = 44;
inline constexpr uint8_t kEsp = 50;
inline constexpr uint8_t kAh = 51;
inline constexpr uint8_t kIcmpv6 = 58;
inline constexpr uint8_t kNoNextHeader = 59;
inline constexpr uint8_t kDestOpts = 60;
inline constexpr uint8_t kMobility = 135;
inline constexpr uint8_t kHip = 139;
inline constexpr uint8_t kShim6 = 140;
inline constexpr uint8_t kExperimental1 = 253;
inline constexpr uint8_t kExperimental2 = 254;
}  // namespace ipproto

// IPv4 flags/fragment-offset field.
inline constexpr uint16_t kIpv4FlagDf = 0x4000;
inline constexpr uint16_t kIpv4FlagMf = 0x2000;
inline constexpr uint16_t kIpv4FragOffsetMask = 0x1FFF;

inline constexpr uint8_t kEcnMask = 0x03;         // INET_ECN_MASK: low two bits of TOS/TCLASS
inline constexpr uint32_t kIpv6FlowLabelMask = 0x000FFFFF;

// TCP flag bits as in byte 13 of the header.
namespace tcpflag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
inline constexpr uint8_t kEce = 0x40;
inline constexpr uint8_t kCwr = 0x80;
}  // namespace tcpflag

// TCP option kinds and lengths (include/net/tcp.h TCPOPT_* / TCPOLEN_*).
namespace tcpopt {
inline constexpr uint8_t kEol = 0;
inline constexpr uint8_t kNop = 1;
inline constexpr uint8_t kMss = 2;
inline constexpr uint8_t kWindow = 3;
inline constexpr uint8_t kSackPerm = 4;
inline constexpr uint8_t kSack = 5;
inline constexpr uint8_t kTimestamp = 8;
inline constexpr uint8_t kLenMss = 4;
inline constexpr uint8_t kLenWindow = 3;
inline constexpr uint8_t kLenSackPerm = 2;
inline constexpr uint8_t kLenSackBase = 2;
inline constexpr uint8_t kLenSackPerBlock = 8;
inline constexpr uint8_t kLenTimestamp = 10;
}  // namespace tcpopt

}  // namespace synwarden
