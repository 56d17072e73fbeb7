// The packet-flow table of docs/packet-flow.md as an executable specification: one row per cell
// (protection on / pass mode), each run for IPv4 and IPv6, untagged, 802.1Q and QinQ. Every
// row states the frame, the expected verdict and reason, the expected output bytes (forwarded
// frames: same bytes with dst = host MAC and src = firewall MAC; anything else: untouched)
// and the expected change to the established-flow map.
#include <ctime>
#include <ostream>
#include <string>
#include <tuple>

#include "xdp_harness.h"
#include "synwarden/clock_now.h"

namespace synwarden::test {
namespace {

using dataplane::FlowOrigin;
using dataplane::HostPolicy;

enum class Dest { protected_host, other };
enum class Mode { protect, pass };
enum class Seg { syn, ack, ack_data, synack, rst, rst_ack, fin_ack, icmp, udp, gre };
// Precondition: the frame's flow is in the established map (yes), or in the outbound table of
// flows the host opened itself (outbound).
enum class Known { no, yes, outbound };
enum class Policy { defaults, deny_all };
// learned: into the established map; synack_learned: into the outbound table only.
enum class Effect { none, learned, synack_learned };

struct Cell {
  const char* name;
  Dest dest;
  Mode mode;
  Seg seg;
  Known known;
  Policy policy;
  sw_reason reason;
  std::uint32_t verdict;
  Effect effect;
};

// clang-format off
const Cell kCells[] = {
  // -- frame not for a protected IP: the firewall's own stack, whatever the mode --
  {"OtherDestSynPassesToStack",        Dest::other, Mode::protect, Seg::syn, Known::no, Policy::defaults, SW_R_PASS_NOT_PROTECTED, XDP_PASS, Effect::none},
  {"OtherDestAckPassesToStack",        Dest::other, Mode::protect, Seg::ack, Known::no, Policy::defaults, SW_R_PASS_NOT_PROTECTED, XDP_PASS, Effect::none},
  {"OtherDestUdpPassesToStack",        Dest::other, Mode::pass,    Seg::udp, Known::no, Policy::defaults, SW_R_PASS_NOT_PROTECTED, XDP_PASS, Effect::none},
  // -- TCP SYN --
  // The XSKMAP is empty here, so the redirect falls back to a drop; the recorded decision
  // shows the program steered it (xdp_lifecycle_test covers a bound socket).
  {"ProtectedSynSteeredToWorker",      Dest::protected_host, Mode::protect, Seg::syn, Known::no,  Policy::defaults, SW_R_XSK_SYN_NO_SOCKET, XDP_DROP, Effect::none},
  // A known 4-tuple is a client reusing its port: only the host can judge it against its
  // TIME_WAIT socket, so the SYN goes to the host (which answers with its own SYN-ACK).
  {"ProtectedSynOfKnownFlowForwardedToHost", Dest::protected_host, Mode::protect, Seg::syn, Known::yes, Policy::defaults, SW_R_FWD_SYN_REUSE, XDP_TX, Effect::none},
  {"ProtectedSynOfOutboundFlowStillSteered", Dest::protected_host, Mode::protect, Seg::syn, Known::outbound, Policy::defaults, SW_R_XSK_SYN_NO_SOCKET, XDP_DROP, Effect::none},
  {"PassModeSynForwarded",             Dest::protected_host, Mode::pass,    Seg::syn, Known::no,  Policy::defaults, SW_R_FWD_PASS_MODE, XDP_TX, Effect::none},
  // -- segment of a flow in the established map --
  {"ProtectedEstablishedAckForwarded",  Dest::protected_host, Mode::protect, Seg::ack,      Known::yes, Policy::defaults, SW_R_FWD_ESTABLISHED, XDP_TX, Effect::none},
  {"ProtectedEstablishedDataForwarded", Dest::protected_host, Mode::protect, Seg::ack_data, Known::yes, Policy::defaults, SW_R_FWD_ESTABLISHED, XDP_TX, Effect::none},
  {"ProtectedEstablishedFinForwarded",  Dest::protected_host, Mode::protect, Seg::fin_ack,  Known::yes, Policy::defaults, SW_R_FWD_ESTABLISHED, XDP_TX, Effect::none},
  {"ProtectedEstablishedRstForwarded",  Dest::protected_host, Mode::protect, Seg::rst_ack,  Known::yes, Policy::defaults, SW_R_FWD_ESTABLISHED, XDP_TX, Effect::none},
  {"PassModeEstablishedDataForwarded",  Dest::protected_host, Mode::pass,    Seg::ack_data, Known::yes, Policy::defaults, SW_R_FWD_ESTABLISHED, XDP_TX, Effect::none},
  // -- segment of a flow the host opened (outbound table) --
  {"ProtectedOutboundDataForwarded",    Dest::protected_host, Mode::protect, Seg::ack_data, Known::outbound, Policy::defaults, SW_R_FWD_OUTBOUND, XDP_TX, Effect::none},
  {"ProtectedOutboundFinForwarded",     Dest::protected_host, Mode::protect, Seg::fin_ack,  Known::outbound, Policy::defaults, SW_R_FWD_OUTBOUND, XDP_TX, Effect::none},
  {"PassModeOutboundAckForwarded",      Dest::protected_host, Mode::pass,    Seg::ack,      Known::outbound, Policy::defaults, SW_R_FWD_OUTBOUND, XDP_TX, Effect::none},
  // -- ACK of no known flow --
  {"ProtectedUnknownAckSteeredToWorker",  Dest::protected_host, Mode::protect, Seg::ack,      Known::no, Policy::defaults, SW_R_XSK_ACK_NO_SOCKET, XDP_DROP, Effect::none},
  {"ProtectedUnknownDataSteeredToWorker", Dest::protected_host, Mode::protect, Seg::ack_data, Known::no, Policy::defaults, SW_R_XSK_ACK_NO_SOCKET, XDP_DROP, Effect::none},
  {"PassModeUnknownAckForwardedAndLearned",  Dest::protected_host, Mode::pass, Seg::ack,      Known::no, Policy::defaults, SW_R_FWD_LEARNED, XDP_TX, Effect::learned},
  {"PassModeUnknownDataForwardedAndLearned", Dest::protected_host, Mode::pass, Seg::ack_data, Known::no, Policy::defaults, SW_R_FWD_LEARNED, XDP_TX, Effect::learned},
  // -- SYN-ACK answering the host's own outbound connection --
  {"ProtectedSynAckForwardedAndLearned", Dest::protected_host, Mode::protect, Seg::synack, Known::no, Policy::defaults, SW_R_FWD_SYNACK,  XDP_TX, Effect::synack_learned},
  {"PassModeSynAckForwardedAndLearned",  Dest::protected_host, Mode::pass,    Seg::synack, Known::no, Policy::defaults, SW_R_FWD_LEARNED, XDP_TX, Effect::synack_learned},
  // -- RST / FIN of no known flow --
  {"ProtectedUnknownRstDropped",    Dest::protected_host, Mode::protect, Seg::rst,     Known::no, Policy::defaults, SW_R_DROP_UNKNOWN_RST_FIN, XDP_DROP, Effect::none},
  {"ProtectedUnknownRstAckDropped", Dest::protected_host, Mode::protect, Seg::rst_ack, Known::no, Policy::defaults, SW_R_DROP_UNKNOWN_RST_FIN, XDP_DROP, Effect::none},
  {"ProtectedUnknownFinDropped",    Dest::protected_host, Mode::protect, Seg::fin_ack, Known::no, Policy::defaults, SW_R_DROP_UNKNOWN_RST_FIN, XDP_DROP, Effect::none},
  {"PassModeUnknownRstForwardedNotLearned", Dest::protected_host, Mode::pass, Seg::rst,     Known::no, Policy::defaults, SW_R_FWD_PASS_MODE, XDP_TX, Effect::none},
  {"PassModeUnknownFinForwardedNotLearned", Dest::protected_host, Mode::pass, Seg::fin_ack, Known::no, Policy::defaults, SW_R_FWD_PASS_MODE, XDP_TX, Effect::none},
  // -- non-TCP to a protected IP --
  {"ProtectedIcmpForwardedByPolicy",   Dest::protected_host, Mode::protect, Seg::icmp, Known::no, Policy::defaults, SW_R_FWD_NON_TCP, XDP_TX, Effect::none},
  {"ProtectedUdpForwardedByPolicy",    Dest::protected_host, Mode::protect, Seg::udp,  Known::no, Policy::defaults, SW_R_FWD_NON_TCP, XDP_TX, Effect::none},
  {"ProtectedOtherProtoDroppedByDefaultPolicy", Dest::protected_host, Mode::protect, Seg::gre, Known::no, Policy::defaults, SW_R_DROP_NON_TCP_POLICY, XDP_DROP, Effect::none},
  {"ProtectedIcmpDroppedByPolicy",     Dest::protected_host, Mode::protect, Seg::icmp, Known::no, Policy::deny_all, SW_R_DROP_NON_TCP_POLICY, XDP_DROP, Effect::none},
  {"ProtectedUdpDroppedByPolicy",      Dest::protected_host, Mode::protect, Seg::udp,  Known::no, Policy::deny_all, SW_R_DROP_NON_TCP_POLICY, XDP_DROP, Effect::none},
  {"PassModeIcmpForwardedDespitePolicy", Dest::protected_host, Mode::pass,  Seg::icmp, Known::no, Policy::deny_all, SW_R_FWD_PASS_MODE, XDP_TX, Effect::none},
  {"PassModeUdpForwardedDespitePolicy",  Dest::protected_host, Mode::pass,  Seg::udp,  Known::no, Policy::deny_all, SW_R_FWD_PASS_MODE, XDP_TX, Effect::none},
};
// clang-format on

enum class Family { v4, v6 };
enum class Tags { untagged, dot1q, qinq };

// Readable parameters in failure messages.
void PrintTo(const Cell& c, std::ostream* os) { *os << c.name; }
void PrintTo(Family f, std::ostream* os) { *os << (f == Family::v4 ? "IPv4" : "IPv6"); }
void PrintTo(Tags t, std::ostream* os) {
  *os << (t == Tags::untagged ? "untagged" : t == Tags::dot1q ? "802.1Q" : "QinQ");
}

constexpr std::uint16_t kOuterVid = 100;
constexpr std::uint16_t kInnerVid = 200;

// The cell's frame with the given Ethernet addresses: called once with the router's MACs (the
// input) and once with host/firewall MACs (the expected output of a forward).
Bytes make_frame(const Cell& cell, Family fam, Tags tags, const Mac& dst, const Mac& src) {
  FrameBuilder b;
  b.eth(dst, src);
  if (tags == Tags::dot1q) b.vlan(kOuterVid);
  if (tags == Tags::qinq) b.vlan(kOuterVid, 0x88a8).vlan(kInnerVid);
  const bool v6 = fam == Family::v6;
  const std::string& to = cell.dest == Dest::other ? (v6 ? kOtherV6 : kOtherV4) : (v6 ? kHostV6 : kHostV4);
  if (v6) b.ipv6(kClientV6, to); else b.ipv4(kClientV4, to);
  using namespace tcp_flags;
  switch (cell.seg) {
    case Seg::syn: b.tcp(kClientPort, kServicePort, SYN, 20); break;  // options like Linux's
    case Seg::ack: b.tcp(kClientPort, kServicePort, ACK, 12); break;
    case Seg::ack_data: b.tcp(kClientPort, kServicePort, ACK | PSH, 12).payload(100); break;
    case Seg::synack: b.tcp(kClientPort, kServicePort, SYN | ACK, 20); break;
    case Seg::rst: b.tcp(kClientPort, kServicePort, RST); break;
    case Seg::rst_ack: b.tcp(kClientPort, kServicePort, RST | ACK); break;
    case Seg::fin_ack: b.tcp(kClientPort, kServicePort, FIN | ACK, 12); break;
    case Seg::icmp: b.icmp_echo().payload(56); break;
    case Seg::udp: b.udp(53000, 53).payload(40); break;
    case Seg::gre: b.protocol(47).payload(24); break;
  }
  b.pad_to(60);  // what a NIC delivers for short frames
  return b.build();
}

using Param = std::tuple<Cell, Family, Tags>;

class PacketFlow : public FastpathTest, public ::testing::WithParamInterface<Param> {};

TEST_P(PacketFlow, FollowsTheDesignTable) {
  const auto& [cell, fam, tags] = GetParam();
  const bool v6 = fam == Family::v6;
  const std::uint16_t outer = tags == Tags::untagged ? 0 : kOuterVid;
  const std::uint16_t inner = tags == Tags::qinq ? kInnerVid : 0;

  HostPolicy policy;  // defaults: ICMP and UDP forwarded, other protocols and TCP fragments not
  if (cell.policy == Policy::deny_all) policy.forward_icmp = policy.forward_udp = false;
  protect(v6 ? kHostV6 : kHostV4, cell.mode == Mode::protect, policy);
  // The other family's host is protected too, so a family mix-up in the key would show.
  protect(v6 ? kHostV4 : kHostV6, cell.mode == Mode::protect, policy);

  const dataplane::FlowKey key = client_flow(v6, outer, inner);
  if (cell.known == Known::yes) {
    ASSERT_TRUE(fp().flows().insert(key, FlowOrigin::admin).ok());
  }
  if (cell.known == Known::outbound) {
    ASSERT_TRUE(fp().outbound().insert(key, FlowOrigin::admin).ok());
  }
  const std::uint64_t flows_before = *fp().flows().count();
  // SYN-ACKs without a stamp (these frames carry none) are learnt in the unverified table;
  // Known::outbound flows sit in the stamped one. Both count as "the outbound tables".
  auto outbound_count = [] {
    return *fp().outbound().count() + *fp().outbound_unverified().count();
  };
  const std::uint64_t outbound_before = outbound_count();

  const Bytes in = make_frame(cell, fam, tags, kFirewallMac, kRouterMac);
  const std::uint64_t t0 = monotonic_ns();
  const RunResult r = run(in);
  const std::uint64_t t1 = monotonic_ns();

  EXPECT_EQ(verdict_name(r.verdict), verdict_name(cell.verdict));
  expect_only_reason(r, cell.reason, in.size());
  const Bytes expected_out =
      cell.verdict == XDP_TX ? make_frame(cell, fam, tags, kHostMac, kFirewallMac) : in;
  EXPECT_EQ(r.out, expected_out) << "output bytes differ";

  auto in_flows = fp().flows().lookup(key);
  auto in_outbound = cell.known == Known::outbound ? fp().outbound().lookup(key)
                                                   : fp().outbound_unverified().lookup(key);
  ASSERT_TRUE(in_flows.ok()) << in_flows.error().message;
  ASSERT_TRUE(in_outbound.ok()) << in_outbound.error().message;
  const std::uint64_t flows_after = *fp().flows().count();
  const std::uint64_t outbound_after = outbound_count();
  if (cell.effect != Effect::learned) {
    EXPECT_EQ(flows_after, flows_before) << "the established map changed";
    EXPECT_EQ(in_flows->has_value(), cell.known == Known::yes);
  }
  if (cell.effect != Effect::synack_learned) {
    EXPECT_EQ(outbound_after, outbound_before) << "the outbound table changed";
    EXPECT_EQ(in_outbound->has_value(), cell.known == Known::outbound);
  }
  auto& found = cell.effect == Effect::synack_learned ? in_outbound : in_flows;
  switch (cell.effect) {
    case Effect::none:
      if (found->has_value()) {
        EXPECT_EQ((*found)->origin, FlowOrigin::admin);
      }
      break;
    case Effect::learned:
    case Effect::synack_learned:
      EXPECT_EQ(cell.effect == Effect::learned ? flows_after : outbound_after,
                (cell.effect == Effect::learned ? flows_before : outbound_before) + 1);
      ASSERT_TRUE(found->has_value()) << "flow not inserted under the inbound key";
      EXPECT_EQ((*found)->origin,
                cell.effect == Effect::learned ? FlowOrigin::learned : FlowOrigin::synack);
      // Inserted during this run, on the CLOCK_MONOTONIC time base user space reads.
      EXPECT_GE((*found)->created_ns, t0);
      EXPECT_LE((*found)->created_ns, t1);
      break;
  }
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [cell, fam, tags] = info.param;
  static const char* const kTags[] = {"Untagged", "Dot1Q", "QinQ"};
  return std::string(cell.name) + (fam == Family::v4 ? "_IPv4_" : "_IPv6_") +
         kTags[static_cast<int>(tags)];
}

INSTANTIATE_TEST_SUITE_P(DesignTable, PacketFlow,
                         ::testing::Combine(::testing::ValuesIn(kCells),
                                            ::testing::Values(Family::v4, Family::v6),
                                            ::testing::Values(Tags::untagged, Tags::dot1q,
                                                              Tags::qinq)),
                         param_name);

}  // namespace
}  // namespace synwarden::test
