// Packet codec, parsing side: what parse_frame() extracts from well-formed frames, the verdict
// it gives every kind of malformed frame (a table, plus every truncation point of valid frames),
// the kernel's SYN-ACK option layout, and the forwarding MAC rewrite.
//
// Frames are always handed over in a vector of exactly their length, so an ASan build
// (-DSYNWARDEN_SANITIZE=ON) turns any read past the end into a failure.
#include "synwarden/codec.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "data/codec_test_support.h"
#include "synwarden/checksum.h"
#include "synwarden/packet_builder.h"
#include "synwarden/packet_bytes.h"

namespace synwarden {
namespace {

using Frame = std::vector<uint8_t>;

const MacAddress kClientMac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
const MacAddress kRouterMac = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};

FrameBuilder v4_syn() {
  return FrameBuilder()
      .macs(kClientMac, kRouterMac)
      .ipv4("198.51.100.10", "192.0.2.80")
      .ports(40000, 443)
      .seq(0x11223344)
      .flags(tcpflag::kSyn)
      .window(64240)
      .linux_syn_options(1460, 0xA1B2C3D4, 7);
}

FrameBuilder v6_syn() {
  return FrameBuilder()
      .macs(kClientMac, kRouterMac)
      .ipv6("2001:db8:1::10", "2001:db8:2::80")
      .flow_label(0xABCDE)
      .ports(40001, 80)
      .seq(0xDEADBEEF)
      .flags(tcpflag::kSyn)
      .linux_syn_options(1440, 77, 9);
}

ParsedFrame parse(const Frame& f, ChecksumPolicy policy = ChecksumPolicy::kSkip) {
  ParsedFrame p;
  const Verdict v = parse_frame(f.data(), f.size(), p, policy);
  EXPECT_EQ(v, p.verdict);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Well-formed frames.

TEST(ParseFrame, Ipv4SynYieldsEveryHeaderFieldAndOption) {
  const Frame f = v4_syn().tos(0x28).ttl(57).ip_id(0x1234).build();
  const ParsedFrame p = parse(f, ChecksumPolicy::kVerify);
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.family, IpFamily::kIpv4);
  EXPECT_EQ(p.vlan_count, 0);
  EXPECT_EQ(p.ethertype, ethertype::kIpv4);
  EXPECT_EQ(p.l3_offset, 14);
  EXPECT_EQ(p.ip_header_len, 20);
  EXPECT_EQ(p.l4_offset, 34);
  EXPECT_EQ(p.ip_total_len, 60u);
  EXPECT_EQ(p.ip_protocol, ipproto::kTcp);
  EXPECT_EQ(p.ip_dsfield, 0x28);
  EXPECT_EQ(p.ttl, 57);
  EXPECT_EQ(p.ipv4_frag, kIpv4FlagDf);
  const uint8_t client[4] = {198, 51, 100, 10};
  const uint8_t server[4] = {192, 0, 2, 80};
  EXPECT_EQ(std::memcmp(p.saddr, client, 4), 0);
  EXPECT_EQ(std::memcmp(p.daddr, server, 4), 0);
  // Ports stay raw network order: the kernel hashes the __be16 values as they are.
  EXPECT_EQ(p.sport, to_be16(40000));
  EXPECT_EQ(p.dport, to_be16(443));
  EXPECT_EQ(p.seq, 0x11223344u);
  EXPECT_EQ(p.ack, 0u);
  EXPECT_EQ(p.window, 64240);
  EXPECT_EQ(p.tcp_flags, tcpflag::kSyn);
  EXPECT_TRUE(p.is_syn());
  EXPECT_EQ(p.tcp_header_len, 40);
  EXPECT_EQ(p.payload_offset, 74);
  EXPECT_EQ(p.payload_len, 0);
  EXPECT_TRUE(p.options.has_mss);
  EXPECT_EQ(p.options.mss, 1460);
  EXPECT_TRUE(p.options.sack_permitted);
  EXPECT_TRUE(p.options.has_timestamp);
  EXPECT_EQ(p.options.tsval, 0xA1B2C3D4u);
  EXPECT_EQ(p.options.tsecr, 0u);
  EXPECT_TRUE(p.options.has_wscale);
  EXPECT_EQ(p.options.wscale, 7);
  EXPECT_FALSE(p.options.ece_cwr);
}

TEST(ParseFrame, Ipv6SynYieldsAddressesFlowLabelAndTrafficClass) {
  const Frame f = v6_syn().tos(0xB8).ttl(63).build();
  const ParsedFrame p = parse(f, ChecksumPolicy::kVerify);
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.family, IpFamily::kIpv6);
  EXPECT_EQ(p.l3_offset, 14);
  EXPECT_EQ(p.l4_offset, 54);
  EXPECT_EQ(p.ip_header_len, 40);
  EXPECT_EQ(p.ip_total_len, 80u);
  EXPECT_EQ(p.ip_dsfield, 0xB8);
  EXPECT_EQ(p.ipv6_flow_label, 0xABCDEu);
  EXPECT_EQ(p.ttl, 63);
  const uint8_t client[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
  const uint8_t server[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
  EXPECT_EQ(std::memcmp(p.saddr, client, 16), 0);
  EXPECT_EQ(std::memcmp(p.daddr, server, 16), 0);
  EXPECT_EQ(p.sport, to_be16(40001));
  EXPECT_EQ(p.dport, to_be16(80));
  EXPECT_EQ(p.seq, 0xDEADBEEFu);
  EXPECT_EQ(p.options.mss, 1440);
  EXPECT_EQ(p.options.wscale, 9);
  EXPECT_EQ(p.options.tsval, 77u);
}

TEST(ParseFrame, RecordsBothVlanTagsAndShiftsL3) {
  const Frame f = v4_syn().vlan(ethertype::kQinQ, 0x2064).vlan(ethertype::kVlan, 0xA00A).build();
  const ParsedFrame p = parse(f, ChecksumPolicy::kVerify);
  ASSERT_EQ(p.verdict, Verdict::kOk);
  ASSERT_EQ(p.vlan_count, 2);
  EXPECT_EQ(p.vlans[0].tpid, ethertype::kQinQ);
  EXPECT_EQ(p.vlans[0].tci, 0x2064);
  EXPECT_EQ(p.vlans[1].tpid, ethertype::kVlan);
  EXPECT_EQ(p.vlans[1].tci, 0xA00A);
  EXPECT_EQ(p.ethertype, ethertype::kIpv4);
  EXPECT_EQ(p.l3_offset, 22);
  EXPECT_EQ(p.l4_offset, 42);
}

TEST(ParseFrame, Ipv4OptionsMoveTheTcpHeader) {
  // Record-route option (7), 11 bytes, padded to 12.
  const Frame f = v4_syn().ipv4_options({7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0}).build();
  const ParsedFrame p = parse(f, ChecksumPolicy::kVerify);
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.ip_header_len, 32);
  EXPECT_EQ(p.l4_offset, 14 + 32);
  EXPECT_EQ(p.options.mss, 1460);
}

TEST(ParseFrame, EthernetPaddingAfterTheDatagramIsTolerated) {
  const Frame f = FrameBuilder()
                      .ipv4("198.51.100.1", "192.0.2.1")
                      .ports(1, 2)
                      .flags(tcpflag::kAck)
                      .pad_to(60)
                      .build();
  ASSERT_EQ(f.size(), 60u);  // 14 + 20 + 20 = 54 bytes of datagram, 6 of padding
  const ParsedFrame p = parse(f, ChecksumPolicy::kVerify);
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.ip_total_len, 40u);
  EXPECT_EQ(p.payload_len, 0);
}

TEST(ParseFrame, PayloadLengthExcludesPadding) {
  const Frame f = v4_syn().flags(tcpflag::kAck | tcpflag::kPsh).payload({1, 2, 3}).pad_to(120)
                      .build();
  const ParsedFrame p = parse(f, ChecksumPolicy::kVerify);
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.payload_offset, 74);
  EXPECT_EQ(p.payload_len, 3);
  EXPECT_FALSE(p.is_syn());
}

TEST(ParseFrame, EceAndCwrTogetherMarkAnEcnSetupSyn) {
  EXPECT_TRUE(parse(v4_syn().flags(tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr).build())
                  .options.ece_cwr);
  EXPECT_FALSE(parse(v4_syn().flags(tcpflag::kSyn | tcpflag::kEce).build()).options.ece_cwr);
  EXPECT_FALSE(parse(v4_syn().flags(tcpflag::kSyn | tcpflag::kCwr).build()).options.ece_cwr);
}

TEST(ParseFrame, ReportsReservedBitsAndEcnFieldForTheEnginesEcnDecision) {
  // tcp_ecn_create_request() accepts ECN setup only if the SYN is not ECT or th->res1 is set.
  const ParsedFrame p =
      parse(v4_syn().tos(0x02).reserved_bits(0x1).flags(tcpflag::kSyn | tcpflag::kEce |
                                                        tcpflag::kCwr).build());
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.tcp_res1, 0x1);
  EXPECT_EQ(p.ip_dsfield & kEcnMask, 0x02);
}

// ---------------------------------------------------------------------------------------------
// TCP options, as tcp_parse_options() reads them.

Frame parse_options_frame(const std::vector<uint8_t>& raw) {
  return FrameBuilder().ipv4("198.51.100.1", "192.0.2.1").ports(1, 2).raw_option_bytes(raw)
      .build();
}

ParsedFrame parse_options(const std::vector<uint8_t>& raw) {
  return parse(parse_options_frame(raw));
}

TEST(ParseOptions, LinuxSynLayoutReadsTheSameAsAnyOtherLayoutOfTheSameOptions) {
  // The parser has a fast path for Linux's exact 20-byte SYN layout; it must agree with the
  // general walk, which takes any other arrangement of the same options.
  for (uint16_t mss : {uint16_t{0}, uint16_t{536}, uint16_t{1460}, uint16_t{65535}}) {
    const ParsedFrame linux_layout =
        parse(FrameBuilder().ipv4("198.51.100.1", "192.0.2.1").ports(1, 2)
                  .linux_syn_options(mss, 0xCAFEF00D, 14).build());
    const ParsedFrame other_layout =
        parse(FrameBuilder().ipv4("198.51.100.1", "192.0.2.1").ports(1, 2).nop().wscale(14)
                  .timestamp(0xCAFEF00D, 0).sack_permitted().mss(mss).build());
    ASSERT_EQ(linux_layout.verdict, Verdict::kOk);
    ASSERT_EQ(other_layout.verdict, Verdict::kOk);
    const SynOptions& a = linux_layout.options;
    const SynOptions& b = other_layout.options;
    EXPECT_EQ(a.has_mss, mss != 0);
    EXPECT_EQ(a.has_mss, b.has_mss);
    if (a.has_mss) {
      EXPECT_EQ(a.mss, b.mss);
    }
    EXPECT_EQ(a.sack_permitted, b.sack_permitted);
    EXPECT_EQ(a.has_timestamp, b.has_timestamp);
    EXPECT_EQ(a.tsval, b.tsval);
    EXPECT_EQ(a.tsecr, b.tsecr);
    EXPECT_EQ(a.has_wscale, b.has_wscale);
    EXPECT_EQ(a.wscale, b.wscale);
    EXPECT_TRUE(a.has_timestamp && a.sack_permitted && a.has_wscale);
  }
}

TEST(ParseOptions, UnknownOptionsAreSkippedByLength) {
  // Fast Open cookie request (34, len 2), an experimental option (254, len 6), then MSS.
  const ParsedFrame p = parse_options({34, 2, 254, 6, 0xf9, 0x89, 1, 2, 2, 4, 0x05, 0xb4});
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_TRUE(p.options.has_mss);
  EXPECT_EQ(p.options.mss, 1460);
}

TEST(ParseOptions, EndOfListStopsParsing) {
  const ParsedFrame p = parse_options({2, 4, 0x05, 0xb4, 0, 3, 3, 7});
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_TRUE(p.options.has_mss);
  EXPECT_FALSE(p.options.has_wscale);
}

TEST(ParseOptions, LaterDuplicateWinsLikeTheKernel) {
  const ParsedFrame p = parse_options({2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18});
  EXPECT_EQ(p.options.mss, 536);
}

TEST(ParseOptions, MssOfZeroIsIgnoredLikeTheKernel) {
  const ParsedFrame p = parse_options({2, 4, 0, 0});
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_FALSE(p.options.has_mss);
}

TEST(ParseOptions, KnownOptionsWithTheWrongLengthAreSkippedNotTaken) {
  // MSS of length 5, WS of length 4, SACK_PERM of length 3, TS of length 8.
  const ParsedFrame p = parse_options({2, 5, 5, 0xb4, 0, 3, 4, 7, 0, 4, 3, 0, 8, 8, 1, 2, 3, 4,
                                       5, 6});
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_FALSE(p.options.has_mss);
  EXPECT_FALSE(p.options.has_wscale);
  EXPECT_FALSE(p.options.sack_permitted);
  EXPECT_FALSE(p.options.has_timestamp);
}

TEST(ParseOptions, WindowScaleIsReportedUnclampedForTheEngineToClamp) {
  const ParsedFrame p = parse_options({1, 3, 3, 15});
  EXPECT_TRUE(p.options.has_wscale);
  EXPECT_EQ(p.options.wscale, 15);
}

TEST(ParseOptions, SackBlocksAreCountedAndLocated) {
  const ParsedFrame p =
      parse(FrameBuilder().ipv4("198.51.100.1", "192.0.2.1").ports(1, 2).flags(tcpflag::kAck)
                .nop().nop().timestamp(5, 6).nop().nop().sack({{100, 200}, {300, 400}}).build());
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.sack_blocks, 2);
  EXPECT_EQ(p.sack_offset, 20 + 12 + 2);
  EXPECT_EQ(p.options.tsval, 5u);
  EXPECT_EQ(p.options.tsecr, 6u);
}

TEST(ParseOptions, SackWithAPartialBlockIsIgnored) {
  const ParsedFrame p = parse_options({1, 1, 5, 6, 0, 0, 0, 1});
  ASSERT_EQ(p.verdict, Verdict::kOk);
  EXPECT_EQ(p.sack_blocks, 0);
}

// ---------------------------------------------------------------------------------------------
// Malformed and foreign frames: one row per case, each with the verdict it must get.

struct MalformedCase {
  std::string name;
  std::function<Frame()> make;
  Verdict expected;
  ChecksumPolicy policy = ChecksumPolicy::kSkip;
};

Frame with_byte(Frame f, size_t off, uint8_t value) {
  f.at(off) = value;
  return f;
}
Frame with_be16(Frame f, size_t off, uint16_t value) {
  codec_test::put16_at(f, off, value);
  return f;
}
Frame truncated(Frame f, size_t len) {
  f.resize(len);
  return f;
}

// Offsets in an untagged frame.
constexpr size_t kV4 = 14;            // IPv4 header
constexpr size_t kV4Tcp = 14 + 20;    // TCP header after a 20-byte IPv4 header
constexpr size_t kV6 = 14;
constexpr size_t kV6Tcp = 14 + 40;

std::vector<MalformedCase> malformed_cases() {
  const Frame v4 = v4_syn().build();
  const Frame v6 = v6_syn().build();
  const Frame plain_v4 = FrameBuilder().ipv4("198.51.100.1", "192.0.2.1").ports(1, 2).build();
  return {
      {"empty frame", [] { return Frame{}; }, Verdict::kTruncatedEthernet},
      {"13 bytes", [=] { return truncated(v4, 13); }, Verdict::kTruncatedEthernet},
      {"ARP", [=] { return with_be16(v4, 12, ethertype::kArp); }, Verdict::kNotIp},
      {"802.3 length field", [=] { return with_be16(v4, 12, 0x0040); }, Verdict::kNotIp},
      {"0x9100 is not a VLAN TPID (eth_type_vlan)",
       [] { return v4_syn().vlan(0x9100, 5).build(); }, Verdict::kNotIp},
      {"VLAN tag cut after its TPID",
       [=] { return truncated(v4_syn().vlan(ethertype::kVlan, 5).build(), 16); },
       Verdict::kTruncatedVlan},
      {"second VLAN tag cut",
       [=] {
         return truncated(v4_syn().vlan(ethertype::kQinQ, 5).vlan(ethertype::kVlan, 6).build(),
                          20);
       },
       Verdict::kTruncatedVlan},
      {"three stacked VLAN tags",
       [] {
         return v4_syn().vlan(ethertype::kQinQ, 1).vlan(ethertype::kVlan, 2)
             .vlan(ethertype::kVlan, 3).build();
       },
       Verdict::kTooManyVlanTags},
      {"IPv4 header cut at 19 bytes", [=] { return truncated(v4, kV4 + 19); },
       Verdict::kTruncatedIpHeader},
      {"IPv6 header cut at 39 bytes", [=] { return truncated(v6, kV6 + 39); },
       Verdict::kTruncatedIpHeader},
      {"tagged IPv6 header cut",
       [] { return truncated(v6_syn().vlan(ethertype::kVlan, 9).build(), 18 + 20); },
       Verdict::kTruncatedIpHeader},
      {"IPv4 EtherType, version 6", [=] { return with_byte(v4, kV4, 0x65); },
       Verdict::kBadIpVersion},
      {"IPv6 EtherType, version 4", [=] { return with_byte(v6, kV6, 0x45); },
       Verdict::kBadIpVersion},
      {"IHL 4", [=] { return with_byte(v4, kV4, 0x44); }, Verdict::kBadIhl},
      {"IHL 0", [=] { return with_byte(v4, kV4, 0x40); }, Verdict::kBadIhl},
      {"IHL 15 beyond a short frame",
       [=] { return truncated(with_byte(v4, kV4, 0x4F), kV4 + 40); },
       Verdict::kTruncatedIpOptions},
      {"total length 19", [=] { return with_be16(v4, kV4 + 2, 19); }, Verdict::kBadIpLength},
      {"total length past the frame", [=] { return with_be16(v4, kV4 + 2, 61); },
       Verdict::kIpLengthExceedsFrame},
      {"IPv4 datagram cut inside TCP", [=] { return truncated(v4, kV4Tcp + 10); },
       Verdict::kIpLengthExceedsFrame},
      {"IPv6 payload length past the frame", [=] { return with_be16(v6, kV6 + 4, 41); },
       Verdict::kIpLengthExceedsFrame},
      {"IPv4 total length leaves 4 bytes of TCP", [=] { return with_be16(v4, kV4 + 2, 24); },
       Verdict::kTruncatedTcp},
      {"IPv6 payload length 10 claims TCP", [=] { return with_be16(v6, kV6 + 4, 10); },
       Verdict::kTruncatedTcp},
      {"IPv4 more-fragments flag", [=] { return with_be16(v4, kV4 + 6, kIpv4FlagMf); },
       Verdict::kIpFragment},
      {"IPv4 fragment offset", [=] { return with_be16(v4, kV4 + 6, 0x0010); },
       Verdict::kIpFragment},
      {"UDP over IPv4", [=] { return with_byte(v4, kV4 + 9, ipproto::kUdp); },
       Verdict::kNotTcp},
      {"ICMP over IPv4", [=] { return with_byte(v4, kV4 + 9, ipproto::kIcmp); },
       Verdict::kNotTcp},
      {"ICMPv6", [=] { return with_byte(v6, kV6 + 6, ipproto::kIcmpv6); }, Verdict::kNotTcp},
      {"IPv6 no next header", [=] { return with_byte(v6, kV6 + 6, ipproto::kNoNextHeader); },
       Verdict::kNotTcp},
      {"IPv6 hop-by-hop header", [=] { return with_byte(v6, kV6 + 6, ipproto::kHopByHop); },
       Verdict::kIpv6ExtensionHeader},
      {"IPv6 jumbogram (payload length 0, hop-by-hop)",
       [=] { return with_be16(with_byte(v6, kV6 + 6, ipproto::kHopByHop), kV6 + 4, 0); },
       Verdict::kIpv6ExtensionHeader},
      {"IPv6 routing header", [=] { return with_byte(v6, kV6 + 6, ipproto::kRouting); },
       Verdict::kIpv6ExtensionHeader},
      {"IPv6 fragment header", [=] { return with_byte(v6, kV6 + 6, ipproto::kFragment); },
       Verdict::kIpv6ExtensionHeader},
      {"IPv6 destination options", [=] { return with_byte(v6, kV6 + 6, ipproto::kDestOpts); },
       Verdict::kIpv6ExtensionHeader},
      {"IPv6 AH", [=] { return with_byte(v6, kV6 + 6, ipproto::kAh); },
       Verdict::kIpv6ExtensionHeader},
      {"TCP doff 4", [=] { return with_byte(v4, kV4Tcp + 12, 0x40); }, Verdict::kBadTcpDoff},
      {"TCP doff 0", [=] { return with_byte(v6, kV6Tcp + 12, 0x00); }, Verdict::kBadTcpDoff},
      {"TCP doff 15 past the segment", [=] { return with_byte(v4, kV4Tcp + 12, 0xF0); },
       Verdict::kTruncatedTcpOptions},
      {"IPv6 TCP doff 11 past the segment", [=] { return with_byte(v6, kV6Tcp + 12, 0xB0); },
       Verdict::kTruncatedTcpOptions},
      {"option length 0", [] { return parse_options_frame({2, 0, 0, 0}); },
       Verdict::kBadTcpOption},
      {"option length 1", [] { return parse_options_frame({3, 1, 0, 0}); },
       Verdict::kBadTcpOption},
      {"option length past the header", [] { return parse_options_frame({2, 8, 5, 0xb4}); },
       Verdict::kBadTcpOption},
      {"lone option kind in the last byte",
       [] { return parse_options_frame({1, 1, 1, 8}); }, Verdict::kBadTcpOption},
      {"timestamp running past the header",
       [] { return parse_options_frame({1, 1, 1, 1, 1, 1, 8, 10}); }, Verdict::kBadTcpOption},
      {"bad IPv4 header checksum", [=] { return with_byte(v4, kV4 + 8, 63); },
       Verdict::kBadIpv4Checksum, ChecksumPolicy::kVerify},
      {"bad TCP checksum over IPv4", [=] { return with_byte(v4, kV4Tcp + 14, 0x00); },
       Verdict::kBadTcpChecksum, ChecksumPolicy::kVerify},
      {"bad TCP checksum over IPv6", [=] { return with_byte(v6, kV6Tcp + 4, 0x00); },
       Verdict::kBadTcpChecksum, ChecksumPolicy::kVerify},
      {"pseudo-header mismatch (IPv6 source changed)",
       [=] { return with_byte(v6, kV6 + 8 + 15, 0x99); }, Verdict::kBadTcpChecksum,
       ChecksumPolicy::kVerify},
      {"bad TCP checksum is not looked at when skipping",
       [=] { return with_byte(plain_v4, kV4Tcp + 16, 0x00); }, Verdict::kOk},
  };
}

class MalformedFrames : public ::testing::TestWithParam<size_t> {};

TEST(MalformedFrameTable, HasAtLeastThirtyRowsCoveringEveryMalformedVerdict) {
  const auto cases = malformed_cases();
  EXPECT_GE(cases.size(), 30u);
  std::set<Verdict> seen;
  for (const auto& c : cases) seen.insert(c.expected);
  for (size_t i = 0; i < kVerdictCount; ++i) {
    const auto v = static_cast<Verdict>(i);
    if (v == Verdict::kOk) continue;
    EXPECT_TRUE(seen.count(v)) << "no row for " << verdict_name(v);
  }
}

TEST_P(MalformedFrames, GetsItsVerdict) {
  const MalformedCase c = malformed_cases().at(GetParam());
  const Frame f = c.make();
  ParsedFrame p;
  EXPECT_EQ(parse_frame(f.data(), f.size(), p, c.policy), c.expected)
      << c.name << ": got " << verdict_name(p.verdict) << ", want " << verdict_name(c.expected);
  EXPECT_EQ(p.verdict, c.expected) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedFrames,
                         ::testing::Range<size_t>(0, malformed_cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& param_info) {
                           std::string n = malformed_cases().at(param_info.param).name;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

// ---------------------------------------------------------------------------------------------
// Every truncation point of valid frames: the verdict names the layer the cut falls in.

struct TruncationShape {
  const char* name;
  bool ipv6;
  size_t vlan_tags;
  size_t ip_options_len;
};

class TruncationSweep : public ::testing::TestWithParam<TruncationShape> {};

TEST_P(TruncationSweep, EveryCutGetsTheVerdictOfTheLayerItFallsIn) {
  const TruncationShape s = GetParam();
  FrameBuilder b = s.ipv6 ? v6_syn() : v4_syn();
  if (s.vlan_tags >= 1) b.vlan(ethertype::kQinQ, 100);
  if (s.vlan_tags >= 2) b.vlan(ethertype::kVlan, 200);
  if (s.ip_options_len > 0) b.ipv4_options(std::vector<uint8_t>(s.ip_options_len, 1));  // NOPs
  const Frame full = b.payload({'h', 'i'}).build();
  const size_t l3 = kEthHeaderLen + s.vlan_tags * kVlanTagLen;
  const size_t fixed_ip = s.ipv6 ? kIpv6HeaderLen : kIpv4MinHeaderLen;
  const size_t ip_header = fixed_ip + s.ip_options_len;
  ASSERT_EQ(parse(full, ChecksumPolicy::kVerify).verdict, Verdict::kOk);

  for (size_t n = 0; n < full.size(); ++n) {
    const Frame cut(full.begin(), full.begin() + static_cast<long>(n));
    Verdict want;
    if (n < kEthHeaderLen) want = Verdict::kTruncatedEthernet;
    else if (n < l3) want = Verdict::kTruncatedVlan;
    else if (n < l3 + fixed_ip) want = Verdict::kTruncatedIpHeader;
    else if (n < l3 + ip_header) want = Verdict::kTruncatedIpOptions;
    else want = Verdict::kIpLengthExceedsFrame;  // the IP length still claims the full datagram
    ASSERT_EQ(parse(cut).verdict, want) << s.name << " cut at " << n << " bytes";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, TruncationSweep,
    ::testing::Values(TruncationShape{"v4_untagged", false, 0, 0},
                      TruncationShape{"v4_one_tag", false, 1, 0},
                      TruncationShape{"v4_two_tags", false, 2, 0},
                      TruncationShape{"v4_ip_options", false, 1, 8},
                      TruncationShape{"v6_untagged", true, 0, 0},
                      TruncationShape{"v6_one_tag", true, 1, 0},
                      TruncationShape{"v6_two_tags", true, 2, 0}),
    [](const ::testing::TestParamInfo<TruncationShape>& param_info) { return param_info.param.name; });

TEST(ParseFrame, RandomDamageNeverReadsOutOfBoundsOrReturnsOkWithInconsistentOffsets) {
  // Under ASan this is a bounds check of every path; without it, the invariants still hold.
  std::mt19937 rng(2024);
  const Frame bases[] = {v4_syn().build(), v6_syn().vlan(ethertype::kVlan, 3).build(),
                         v4_syn().ipv4_options({1, 1, 1, 1}).payload({1, 2, 3}).build()};
  for (int round = 0; round < 20000; ++round) {
    Frame f = bases[round % 3];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) f[rng() % f.size()] = static_cast<uint8_t>(rng());
    f.resize(rng() % (f.size() + 1));
    ParsedFrame p;
    if (parse_frame(f.data(), f.size(), p, ChecksumPolicy::kVerify) == Verdict::kOk) {
      ASSERT_LE(size_t{p.payload_offset} + p.payload_len, f.size());
      ASSERT_EQ(p.payload_offset, p.l4_offset + p.tcp_header_len);
      ASSERT_GE(p.tcp_header_len, 20);
    }
  }
}

TEST(ParseFrame, VerdictNamesAreDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < kVerdictCount; ++i) names.insert(verdict_name(static_cast<Verdict>(i)));
  EXPECT_EQ(names.size(), kVerdictCount);
  EXPECT_FALSE(is_malformed(Verdict::kNotTcp));
  EXPECT_FALSE(is_malformed(Verdict::kIpv6ExtensionHeader));
  EXPECT_TRUE(is_malformed(Verdict::kBadTcpOption));
}

// ---------------------------------------------------------------------------------------------
// SYN-ACK option layout: tcp_options_write() for every combination tcp_synack_options() makes.

struct OptionLayout {
  bool sack;
  bool ts;
  bool ws;
  std::vector<uint8_t> wire;  // expected bytes, with tsval 0x01020304, tsecr 0x0A0B0C0D, ws 7
};

TEST(WriteSynAckOptions, FollowsLinuxWireOrderForEveryCombination) {
  const std::vector<uint8_t> mss{2, 4, 0x05, 0xb4};
  const std::vector<uint8_t> ts_body{1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D};
  auto cat = [](std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> v;
    for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
    return v;
  };
  const std::vector<OptionLayout> layouts = {
      {false, false, false, cat({mss})},
      {true, false, false, cat({mss, {1, 1, 4, 2}})},
      {false, true, false, cat({mss, {1, 1, 8, 10}, ts_body})},
      {true, true, false, cat({mss, {4, 2, 8, 10}, ts_body})},
      {false, false, true, cat({mss, {1, 3, 3, 7}})},
      {true, false, true, cat({mss, {1, 1, 4, 2}, {1, 3, 3, 7}})},
      {false, true, true, cat({mss, {1, 1, 8, 10}, ts_body, {1, 3, 3, 7}})},
      {true, true, true, cat({mss, {4, 2, 8, 10}, ts_body, {1, 3, 3, 7}})},
  };
  for (const auto& l : layouts) {
    SynAckPlan plan;
    plan.mss = 1460;
    plan.sack_permitted = l.sack;
    plan.has_timestamp = l.ts;
    plan.tsval = 0x01020304;
    plan.tsecr = 0x0A0B0C0D;
    plan.has_wscale = l.ws;
    plan.wscale = 7;
    uint8_t out[kMaxTcpOptionBytes + 8];
    std::memset(out, 0xEE, sizeof out);
    const size_t n = write_synack_options(plan, out);
    EXPECT_EQ(std::vector<uint8_t>(out, out + n), l.wire)
        << "sack " << l.sack << " ts " << l.ts << " ws " << l.ws;
    EXPECT_EQ(n % 4, 0u);
    EXPECT_EQ(out[n], 0xEE) << "wrote past the returned length";
  }
}

TEST(WriteSynAckOptions, OmitsMssOnlyWhenThePlanHasNone) {
  // tcp_options_write(): "if (unlikely(opts->mss))".
  SynAckPlan plan;
  plan.mss = 0;
  plan.has_wscale = true;
  plan.wscale = 14;
  uint8_t out[kMaxTcpOptionBytes];
  ASSERT_EQ(write_synack_options(plan, out), 4u);
  EXPECT_EQ(std::vector<uint8_t>(out, out + 4), (std::vector<uint8_t>{1, 3, 3, 14}));
}

TEST(WriteSynAckOptions, WrittenOptionsParseBackToThePlan) {
  for (int mask = 0; mask < 8; ++mask) {
    SynAckPlan plan;
    plan.mss = 1400;
    plan.sack_permitted = mask & 1;
    plan.has_timestamp = mask & 2;
    plan.tsval = 123456;
    plan.tsecr = 654321;
    plan.has_wscale = mask & 4;
    plan.wscale = 9;
    uint8_t out[kMaxTcpOptionBytes];
    const size_t n = write_synack_options(plan, out);
    const ParsedFrame p = parse_options(std::vector<uint8_t>(out, out + n));
    ASSERT_EQ(p.verdict, Verdict::kOk);
    EXPECT_EQ(p.options.mss, 1400);
    EXPECT_EQ(p.options.sack_permitted, plan.sack_permitted);
    EXPECT_EQ(p.options.has_timestamp, plan.has_timestamp);
    if (plan.has_timestamp) {
      EXPECT_EQ(p.options.tsval, 123456u);
      EXPECT_EQ(p.options.tsecr, 654321u);
    }
    EXPECT_EQ(p.options.has_wscale, plan.has_wscale);
    if (plan.has_wscale) {
      EXPECT_EQ(p.options.wscale, 9);
    }
  }
}

// ---------------------------------------------------------------------------------------------

TEST(RewriteMacs, SetsDestinationAndSourceAndLeavesTheRestAlone) {
  const Frame original = v4_syn().vlan(ethertype::kVlan, 42).build();
  Frame f = original;
  const MacAddress host = {0x02, 0, 0, 0, 0, 0x10};
  const MacAddress firewall = {0x02, 0, 0, 0, 0, 0x20};
  ASSERT_TRUE(rewrite_macs(f.data(), f.size(), host, firewall));
  EXPECT_TRUE(std::equal(host.begin(), host.end(), f.begin()));
  EXPECT_TRUE(std::equal(firewall.begin(), firewall.end(), f.begin() + 6));
  EXPECT_TRUE(std::equal(original.begin() + 12, original.end(), f.begin() + 12));
  EXPECT_EQ(parse(f, ChecksumPolicy::kVerify).verdict, Verdict::kOk);
}

TEST(RewriteMacs, RefusesARunt) {
  Frame f(13, 0xAB);
  EXPECT_FALSE(rewrite_macs(f.data(), f.size(), MacAddress{}, MacAddress{}));
  EXPECT_EQ(f, Frame(13, 0xAB));
}

}  // namespace
}  // namespace synwarden
