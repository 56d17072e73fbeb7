// Frames an attacker (or a broken NIC) can send: truncated at every byte, inconsistent IP/TCP
// length fields, fragments, IPv6 extension header chains, impossible TCP flags. The rule they
// specify: what cannot be parsed far enough to know its destination goes to the stack (which
// drops it); anything malformed for a protected host is dropped and counted; fragments and
// extension headers follow the policy in bpf/README.md.
#include <functional>
#include <ostream>
#include <string>

#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using namespace tcp_flags;
using dataplane::HostPolicy;

FrameBuilder v4_to_host() {
  FrameBuilder b;
  b.eth(kFirewallMac, kRouterMac).ipv4(kClientV4, kHostV4);
  return b;
}
FrameBuilder v6_to_host() {
  FrameBuilder b;
  b.eth(kFirewallMac, kRouterMac).ipv6(kClientV6, kHostV6);
  return b;
}

// ---------------------------------------------------------------- truncation at every byte

struct TruncationBase {
  const char* name;
  std::function<FrameBuilder()> make;
};

const TruncationBase kTruncationBases[] = {
    {"Ipv4SynUntagged", [] { return v4_to_host().tcp(kClientPort, kServicePort, SYN, 20); }},
    {"Ipv4AckWithIpOptionsDot1Q",
     [] { auto b = v4_to_host(); b.vlan(100).ipv4_options(8).tcp(kClientPort, kServicePort, ACK, 12).payload(10); return b; }},
    {"Ipv4SynQinQ",
     [] { auto b = v4_to_host(); b.vlan(100, 0x88a8).vlan(200).tcp(kClientPort, kServicePort, SYN, 20); return b; }},
    {"Ipv6SynWithExtHeadersUntagged",
     [] { return v6_to_host().ipv6_ext(0, 8).ipv6_ext(60, 16).tcp(kClientPort, kServicePort, SYN, 20); }},
    {"Ipv6AckDot1Q", [] { auto b = v6_to_host(); b.vlan(100).tcp(kClientPort, kServicePort, ACK, 12); return b; }},
    {"Ipv6FirstFragmentUntagged",
     [] { return v6_to_host().ipv6_fragment(0, true).tcp(kClientPort, kServicePort, ACK).payload(64); }},
};

void PrintTo(const TruncationBase& b, std::ostream* os) { *os << b.name; }

class Truncation : public FastpathTest, public ::testing::WithParamInterface<TruncationBase> {};

// BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header (the kernel's ETH_HLEN
// minimum in bpf_test_init), so truncation starts at 14 bytes; parse_l2 still checks those
// bounds because the verifier demands it.
TEST_P(Truncation, EveryTruncationPointIsPassedUnparsedOrDropped) {
  Layout layout;
  const Bytes full = GetParam().make().build(&layout);
  for (bool on : {true, false}) {
    protect(kHostV4, on);
    protect(kHostV6, on);
    for (std::size_t len = 14; len < full.size(); ++len) {
      SCOPED_TRACE("protection " + std::string(on ? "on" : "off") + ", truncated to " +
                   std::to_string(len) + " of " + std::to_string(full.size()) + " bytes");
      const Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
      const RunResult r = run(cut);
      if (len < layout.l3_fixed) {
        // Destination address not in the frame: the stack's business.
        EXPECT_EQ(verdict_name(r.verdict), "XDP_PASS");
        expect_only_reason(r, SW_R_PASS_MALFORMED, cut.size());
      } else {
        // The IP length fields promise more than the frame holds.
        EXPECT_EQ(verdict_name(r.verdict), "XDP_DROP");
        expect_only_reason(r, SW_R_DROP_MALFORMED, cut.size());
      }
      EXPECT_EQ(r.out, cut) << "a refused frame must leave untouched";
    }
  }
}

TEST_P(Truncation, TruncatedFramesToUnprotectedAddressesGoToTheStack) {
  Layout layout;
  const Bytes full = GetParam().make().build(&layout);
  // No host protected at all: every frame is somebody else's.
  for (std::size_t len = 14; len < full.size(); ++len) {
    SCOPED_TRACE("truncated to " + std::to_string(len));
    const Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
    const RunResult r = run(cut);
    EXPECT_EQ(verdict_name(r.verdict), "XDP_PASS");
    expect_only_reason(r, len < layout.l3_fixed ? SW_R_PASS_MALFORMED : SW_R_PASS_NOT_PROTECTED,
                       cut.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Frames, Truncation, ::testing::ValuesIn(kTruncationBases),
                         [](const auto& p) { return std::string(p.param.name); });

// ---------------------------------------------------------------- header field cases

enum class Mode { protect, pass };

struct FieldCase {
  const char* name;
  std::function<Bytes()> frame;
  Mode mode;
  sw_reason reason;
  std::uint32_t verdict;
  HostPolicy policy = {};
};

void PrintTo(const FieldCase& c, std::ostream* os) { *os << c.name; }

HostPolicy deny_non_tcp() {
  HostPolicy p;
  p.forward_icmp = p.forward_udp = p.forward_other = false;
  return p;
}
HostPolicy allow_tcp_fragments() {
  HostPolicy p;
  p.forward_tcp_fragments = true;
  return p;
}

// clang-format off
const FieldCase kFieldCases[] = {
  // -- IPv4 header --
  {"Ipv4IhlZero",  [] { return v4_to_host().ihl(0).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4IhlFour",  [] { return v4_to_host().ihl(4).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4IhlFourPassModeStillDropped", [] { return v4_to_host().ihl(4).tcp(kClientPort, kServicePort, ACK).build(); }, Mode::pass, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4IhlBeyondTotalLength", [] { return v4_to_host().ihl(15).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4VersionSix", [] { return v4_to_host().ip_version(6).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4TotalLengthBelowHeader", [] { return v4_to_host().ip_length(19).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4TotalLengthBeyondFrame", [] { return v4_to_host().ip_length(20 + 20 + 1).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4TcpHeaderCutByTotalLength", [] { return v4_to_host().ip_length(20 + 10).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv4EthernetPaddingIsNotMalformed", [] { return v4_to_host().tcp(kClientPort, kServicePort, ACK).pad_to(60).build(); }, Mode::protect, SW_R_XSK_ACK_NO_SOCKET, XDP_DROP},
  {"Ipv4OptionsAreSkipped", [] { return v4_to_host().ipv4_options(12).tcp(kClientPort, kServicePort, SYN, 20).build(); }, Mode::protect, SW_R_XSK_SYN_NO_SOCKET, XDP_DROP},
  {"Ipv4DontFragmentIsNotAFragment", [] { return v4_to_host().tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_XSK_SYN_NO_SOCKET, XDP_DROP},
  // -- TCP header --
  {"TcpDoffZero", [] { return v4_to_host().tcp_doff(0).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"TcpDoffFour", [] { return v6_to_host().tcp_doff(4).tcp(kClientPort, kServicePort, ACK).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"TcpDoffBeyondSegment", [] { return v4_to_host().tcp_doff(15).tcp(kClientPort, kServicePort, SYN).payload(20).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"TcpDoffBeyondSegmentPassMode", [] { return v6_to_host().tcp_doff(6).tcp(kClientPort, kServicePort, ACK).build(); }, Mode::pass, SW_R_DROP_MALFORMED, XDP_DROP},
  {"TcpSynFin", [] { return v4_to_host().tcp(kClientPort, kServicePort, SYN | FIN).build(); }, Mode::protect, SW_R_DROP_BAD_FLAGS, XDP_DROP},
  {"TcpSynRst", [] { return v6_to_host().tcp(kClientPort, kServicePort, SYN | RST).build(); }, Mode::protect, SW_R_DROP_BAD_FLAGS, XDP_DROP},
  {"TcpNoFlags", [] { return v4_to_host().tcp(kClientPort, kServicePort, 0).build(); }, Mode::protect, SW_R_DROP_BAD_FLAGS, XDP_DROP},
  {"TcpPshWithoutAck", [] { return v6_to_host().tcp(kClientPort, kServicePort, PSH).payload(10).build(); }, Mode::protect, SW_R_DROP_BAD_FLAGS, XDP_DROP},
  {"TcpSynFinPassModeForwarded", [] { return v4_to_host().tcp(kClientPort, kServicePort, SYN | FIN).build(); }, Mode::pass, SW_R_FWD_PASS_MODE, XDP_TX},
  // -- IPv4 fragments --
  {"Ipv4TcpFirstFragmentDropped", [] { return v4_to_host().ipv4_fragment(0, true).tcp(kClientPort, kServicePort, SYN).payload(64).build(); }, Mode::protect, SW_R_DROP_TCP_FRAGMENT, XDP_DROP},
  {"Ipv4TcpLaterFragmentDropped", [] { return v4_to_host().ipv4_fragment(100, false).protocol(6).payload(64).build(); }, Mode::protect, SW_R_DROP_TCP_FRAGMENT, XDP_DROP},
  {"Ipv4TcpFragmentForwardedByPolicy", [] { return v4_to_host().ipv4_fragment(100, true).protocol(6).payload(64).build(); }, Mode::protect, SW_R_FWD_TCP_FRAGMENT, XDP_TX, allow_tcp_fragments()},
  {"Ipv4TcpFragmentPassModeForwarded", [] { return v4_to_host().ipv4_fragment(0, true).tcp(kClientPort, kServicePort, ACK).payload(64).build(); }, Mode::pass, SW_R_FWD_PASS_MODE, XDP_TX},
  {"Ipv4UdpFragmentFollowsUdpPolicy", [] { return v4_to_host().ipv4_fragment(185, false).protocol(17).payload(64).build(); }, Mode::protect, SW_R_FWD_NON_TCP, XDP_TX},
  {"Ipv4UdpFragmentDeniedByPolicy", [] { return v4_to_host().ipv4_fragment(0, true).udp(5000, 53).payload(64).build(); }, Mode::protect, SW_R_DROP_NON_TCP_POLICY, XDP_DROP, deny_non_tcp()},
  // -- IPv6 header and extension headers --
  {"Ipv6VersionFour", [] { return v6_to_host().ip_version(4).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv6PayloadLengthZeroJumbogram", [] { return v6_to_host().ip_length(0).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv6PayloadLengthBeyondFrame", [] { return v6_to_host().ip_length(21).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv6TcpHeaderCutByPayloadLength", [] { return v6_to_host().ip_length(12).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv6ExtHeaderBeyondPayloadLength", [] { return v6_to_host().ipv6_ext(60, 16).ip_length(8).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_MALFORMED, XDP_DROP},
  {"Ipv6HopRoutingDestChainWalked", [] { return v6_to_host().ipv6_ext(0, 8).ipv6_ext(43, 24).ipv6_ext(60, 16).tcp(kClientPort, kServicePort, SYN, 20).build(); }, Mode::protect, SW_R_XSK_SYN_NO_SOCKET, XDP_DROP},
  {"Ipv6AuthHeaderWalked", [] { return v6_to_host().ipv6_ext(51, 24).tcp(kClientPort, kServicePort, ACK).build(); }, Mode::protect, SW_R_XSK_ACK_NO_SOCKET, XDP_DROP},
  {"Ipv6SixExtHeadersWalked", [] { auto b = v6_to_host(); for (int i = 0; i < 6; ++i) b.ipv6_ext(60, 8); return b.tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_XSK_SYN_NO_SOCKET, XDP_DROP},
  {"Ipv6SevenExtHeadersDropped", [] { auto b = v6_to_host(); for (int i = 0; i < 7; ++i) b.ipv6_ext(60, 8); return b.tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_IPV6_EXT_HEADERS, XDP_DROP},
  {"Ipv6SevenExtHeadersPassModeForwarded", [] { auto b = v6_to_host(); for (int i = 0; i < 7; ++i) b.ipv6_ext(60, 8); return b.tcp(kClientPort, kServicePort, ACK).build(); }, Mode::pass, SW_R_FWD_PASS_MODE, XDP_TX},
  {"Ipv6EspIsOtherProtocol", [] { return v6_to_host().protocol(50).payload(40).build(); }, Mode::protect, SW_R_DROP_NON_TCP_POLICY, XDP_DROP},
  {"Ipv6NoNextHeaderIsOtherProtocol", [] { return v6_to_host().ipv6_ext(60, 8).protocol(59).build(); }, Mode::protect, SW_R_DROP_NON_TCP_POLICY, XDP_DROP},
  {"Ipv6CarryingIcmpv4IsOtherProtocol", [] { return v6_to_host().protocol(1).payload(8).build(); }, Mode::protect, SW_R_DROP_NON_TCP_POLICY, XDP_DROP},
  {"Ipv6Icmpv6BehindHopByHopFollowsIcmpPolicy", [] { return v6_to_host().ipv6_ext(0, 8).icmp_echo().build(); }, Mode::protect, SW_R_FWD_NON_TCP, XDP_TX},
  // -- IPv6 fragments --
  {"Ipv6TcpFirstFragmentDropped", [] { return v6_to_host().ipv6_fragment(0, true).tcp(kClientPort, kServicePort, SYN).payload(64).build(); }, Mode::protect, SW_R_DROP_TCP_FRAGMENT, XDP_DROP},
  {"Ipv6TcpLaterFragmentDropped", [] { return v6_to_host().ipv6_fragment(10, false).protocol(6).payload(64).build(); }, Mode::protect, SW_R_DROP_TCP_FRAGMENT, XDP_DROP},
  {"Ipv6TcpFragmentBehindDestOptsDropped", [] { return v6_to_host().ipv6_fragment(0, true).ipv6_ext(60, 8).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_DROP_TCP_FRAGMENT, XDP_DROP},
  {"Ipv6AtomicFragmentIsNotAFragment", [] { return v6_to_host().ipv6_fragment(0, false).tcp(kClientPort, kServicePort, SYN).build(); }, Mode::protect, SW_R_XSK_SYN_NO_SOCKET, XDP_DROP},
  {"Ipv6TcpFragmentForwardedByPolicy", [] { return v6_to_host().ipv6_fragment(10, true).protocol(6).payload(64).build(); }, Mode::protect, SW_R_FWD_TCP_FRAGMENT, XDP_TX, allow_tcp_fragments()},
  {"Ipv6UdpFragmentFollowsUdpPolicy", [] { return v6_to_host().ipv6_fragment(10, false).protocol(17).payload(64).build(); }, Mode::protect, SW_R_FWD_NON_TCP, XDP_TX},
  {"Ipv6TcpFragmentPassModeForwarded", [] { return v6_to_host().ipv6_fragment(10, false).protocol(6).payload(64).build(); }, Mode::pass, SW_R_FWD_PASS_MODE, XDP_TX},
  // -- layer 2 --
  {"ArpPassesToStack", [] { FrameBuilder b; b.eth(kFirewallMac, kRouterMac).raw_ethertype(0x0806, 28); return b.build(); }, Mode::protect, SW_R_PASS_NON_IP, XDP_PASS},
  {"ArpInVlanPassesToStack", [] { FrameBuilder b; b.eth(kFirewallMac, kRouterMac).vlan(100).raw_ethertype(0x0806, 28); return b.build(); }, Mode::protect, SW_R_PASS_NON_IP, XDP_PASS},
  {"LldpPassesToStack", [] { FrameBuilder b; b.eth(kFirewallMac, kRouterMac).raw_ethertype(0x88cc, 40); return b.build(); }, Mode::protect, SW_R_PASS_NON_IP, XDP_PASS},
  {"ThreeVlanTagsPassToStack", [] { auto b = v4_to_host(); b.vlan(1, 0x88a8).vlan(2).vlan(3).tcp(kClientPort, kServicePort, SYN); return b.build(); }, Mode::protect, SW_R_PASS_NON_IP, XDP_PASS},
};
// clang-format on

class HeaderField : public FastpathTest, public ::testing::WithParamInterface<FieldCase> {};

TEST_P(HeaderField, IsClassifiedAsSpecified) {
  const FieldCase& c = GetParam();
  protect(kHostV4, c.mode == Mode::protect, c.policy);
  protect(kHostV6, c.mode == Mode::protect, c.policy);
  const Bytes in = c.frame();
  const RunResult r = run(in);
  EXPECT_EQ(verdict_name(r.verdict), verdict_name(c.verdict));
  expect_only_reason(r, c.reason, in.size());
  Bytes expected = in;
  if (c.verdict == XDP_TX) {
    std::copy(kHostMac.begin(), kHostMac.end(), expected.begin());
    std::copy(kFirewallMac.begin(), kFirewallMac.end(), expected.begin() + 6);
  }
  EXPECT_EQ(r.out, expected);
  EXPECT_EQ(*fp().flows().count(), 0u) << "no malformed frame may create a flow";
}

INSTANTIATE_TEST_SUITE_P(Cases, HeaderField, ::testing::ValuesIn(kFieldCases),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace synwarden::test
