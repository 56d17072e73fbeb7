// Specification of a worker's per-frame decision (PacketHandler), on crafted frames: what it
// transmits, what it drops, what it counts and which flows it registers.
#include "packet_handler.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/synack_planner.h"

// Counts heap allocations on this thread, to check that the per-frame path makes none.
thread_local size_t g_allocations = 0;
void* operator new(size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// noinline: once GCC inlines these into a new-expression it pairs the replaced operator new
// with free() and reports a mismatch (-Wmismatched-new-delete) that is not one here.
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace synwarden::daemon {
namespace {

const MacAddress kClientMac{0x02, 0x53, 0x57, 0, 0, 0x01};
const MacAddress kFirewallMac{0x02, 0x53, 0x57, 0, 0, 0x03};
const MacAddress kHostMac{0x02, 0x53, 0x57, 0, 0, 0x10};
constexpr uint64_t kLocalMs = 5'000'000;  // firewall CLOCK_MONOTONIC when the sample was valid
constexpr uint64_t kNowNs = (kLocalMs + 1500) * 1'000'000;
constexpr uint32_t kCapacity = 4096 - 256;  // a copy-mode chunk after XDP_PACKET_HEADROOM

class RecordingFlows : public FlowSink {
 public:
  bool insert(const sw_flow_key& key) noexcept override {
    keys.push_back(key);
    return !fail;
  }
  bool pending(const sw_flow_key& key) const noexcept override {
    for (const auto& k : pending_keys) {
      if (std::memcmp(&k, &key, sizeof key) == 0) return true;
    }
    return false;
  }
  std::vector<sw_flow_key> keys;
  std::vector<sw_flow_key> pending_keys;
  bool fail = false;
};

HostSecrets test_secrets() {
  HostSecrets s;
  s.syncookie = {SipKey{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull},
                 SipKey{0x1716151413121110ull, 0x1f1e1d1c1b1a1918ull}};
  s.syncookie6 = {SipKey{0x2726252423222120ull, 0x2f2e2d2c2b2a2928ull},
                  SipKey{0x3736353433323130ull, 0x3f3e3d3c3b3a3938ull}};
  s.ts_key = SipKey{0x4746454443424140ull, 0x4f4e4d4c4b4a4948ull};
  s.clock = HostClockSample{4'300'000'000ull, 250, 9'000'000};
  return s;
}

HostEntry host(const char* address, std::vector<uint16_t> ports = {}, bool keys = true) {
  HostEntry h;
  h.address = *IpAddress::parse(address);
  h.mac = kHostMac;
  h.ports = std::move(ports);
  if (keys) h.keys.emplace(HostKeys{test_secrets(), HostClock(test_secrets().clock, kLocalMs)});
  return h;
}

FrameBuilder syn_from_client(bool v6 = false) {
  FrameBuilder b;
  b.macs(kClientMac, kFirewallMac);
  if (v6) b.ipv6("2001:db8::1", "2001:db8::10");
  else b.ipv4("192.0.2.1", "192.0.2.10");
  b.ports(40000, 8080).seq(1000).flags(tcpflag::kSyn).linux_syn_options(1460, 777, 7);
  return b;
}

class PacketHandlerTest : public ::testing::Test {
 protected:
  PacketHandlerTest() { use_hosts({host("192.0.2.10"), host("2001:db8::10")}); }

  void use_hosts(std::vector<HostEntry> hosts, HandlerSettings settings = {}) {
    snapshot_ = std::make_unique<Snapshot>(std::move(hosts), kFirewallMac, 1);
    handler_ = std::make_unique<PacketHandler>(settings, counters_, flows_);
    handler_->begin_batch(*snapshot_, kNowNs);
  }

  // Runs the handler on `frame` (resized to the chunk capacity like a UMEM frame).
  FrameAction run(std::vector<uint8_t>& frame) {
    uint32_t len = static_cast<uint32_t>(frame.size());
    frame.resize(kCapacity);
    const FrameAction action = handler_->handle(frame.data(), len, kCapacity);
    frame.resize(len);
    return action;
  }

  ParsedFrame parse_verified(const std::vector<uint8_t>& frame) {
    ParsedFrame p;
    EXPECT_EQ(parse_frame(frame.data(), frame.size(), p, ChecksumPolicy::kVerify), Verdict::kOk);
    return p;
  }

  uint64_t count(const std::atomic<uint64_t>& c) { return c.load(); }

  WorkerCounters counters_;
  RecordingFlows flows_;
  std::unique_ptr<Snapshot> snapshot_;
  std::unique_ptr<PacketHandler> handler_;
};

TEST_F(PacketHandlerTest, SynIsAnsweredInPlaceWithTheHostsCookieSynAck) {
  std::vector<uint8_t> frame = syn_from_client().build();
  ASSERT_EQ(run(frame), FrameAction::kTransmit);
  const ParsedFrame p = parse_verified(frame);  // checksums verified
  EXPECT_EQ(p.tcp_flags, tcpflag::kSyn | tcpflag::kAck);
  EXPECT_EQ(0, std::memcmp(frame.data(), kClientMac.data(), 6)) << "back to the SYN's source MAC";
  EXPECT_EQ(0, std::memcmp(frame.data() + 6, kFirewallMac.data(), 6)) << "from the firewall";
  EXPECT_EQ(from_be16(p.sport), 8080);
  EXPECT_EQ(from_be16(p.dport), 40000);
  // Exactly what the engine plans for this host, flow and clock.
  const HostSecrets secrets = test_secrets();
  const ClockReading clock = HostClock(secrets.clock, kLocalMs).at(kNowNs / 1'000'000);
  ParsedFrame syn;
  const auto original = syn_from_client().build();
  parse_frame(original.data(), original.size(), syn);
  const SynAckPlan plan = plan_synack(secrets, clock, ipv4_flow_of(syn), syn.seq, syn.options);
  EXPECT_EQ(p.seq, plan.seq);
  EXPECT_EQ(p.ack, 1001u);
  EXPECT_EQ(p.options.tsval, plan.tsval);
  EXPECT_EQ(p.options.tsecr, 777u);
  EXPECT_EQ(p.options.mss, 1460);
  EXPECT_EQ(p.options.wscale, 7);
  EXPECT_EQ(count(counters_.syn_received), 1u);
  EXPECT_EQ(count(counters_.synack_built), 1u);
  EXPECT_TRUE(flows_.keys.empty()) << "a SYN never creates state";
}

TEST_F(PacketHandlerTest, ValidCookieAckIsForwardedToTheHostAndItsFlowRegistered) {
  std::vector<uint8_t> synack = syn_from_client().build();
  ASSERT_EQ(run(synack), FrameAction::kTransmit);
  const ParsedFrame sa = parse_verified(synack);
  std::vector<uint8_t> ack = FrameBuilder()
                                 .macs(kClientMac, kFirewallMac)
                                 .ipv4("192.0.2.1", "192.0.2.10")
                                 .ports(40000, 8080)
                                 .seq(1001)
                                 .ack(sa.seq + 1)
                                 .flags(tcpflag::kAck)
                                 .nop().nop().timestamp(778, sa.options.tsval)
                                 .payload({'h', 'i'})
                                 .build();
  const std::vector<uint8_t> before = ack;
  ASSERT_EQ(run(ack), FrameAction::kTransmit);
  EXPECT_EQ(0, std::memcmp(ack.data(), kHostMac.data(), 6)) << "to the host's MAC";
  EXPECT_EQ(0, std::memcmp(ack.data() + 6, kFirewallMac.data(), 6)) << "from the firewall";
  EXPECT_TRUE(std::equal(ack.begin() + 12, ack.end(), before.begin() + 12))
      << "only the MACs change: the host must see the client's exact segment";
  ASSERT_EQ(flows_.keys.size(), 1u);
  const sw_flow_key& key = flows_.keys[0];
  EXPECT_EQ(key.family, SW_FAMILY_IPV4);
  EXPECT_EQ(from_be16(key.sport), 40000);
  EXPECT_EQ(from_be16(key.dport), 8080);
  EXPECT_EQ(key.vlan_outer, 0);
  EXPECT_EQ(count(counters_.ack_valid), 1u);
}

TEST_F(PacketHandlerTest, LaterSegmentOfAPendingFlowFollowsItsAckThroughTheWorker) {
  // The client's second data segment (seq moved on, so not a cookie itself) reaches the worker
  // while its handshake ACK is still leaving: it is sent behind the ACK, not dropped.
  std::vector<uint8_t> synack = syn_from_client().build();
  ASSERT_EQ(run(synack), FrameAction::kTransmit);
  const ParsedFrame sa = parse_verified(synack);
  auto segment = [&](uint32_t seq) {
    return FrameBuilder()
        .macs(kClientMac, kFirewallMac)
        .ipv4("192.0.2.1", "192.0.2.10")
        .ports(40000, 8080).seq(seq).ack(sa.seq + 1)
        .flags(tcpflag::kAck).nop().nop().timestamp(779, sa.options.tsval)
        .payload({'m', 'o', 'r', 'e'})
        .build();
  };
  std::vector<uint8_t> second = segment(1001 + 200);
  EXPECT_EQ(run(second), FrameAction::kDrop) << "no handshake seen: a forged segment";
  EXPECT_EQ(count(counters_.ack_bad_cookie) + count(counters_.ack_cookie_expired), 1u);

  flows_.pending_keys.push_back(flow_key_of(parse_verified(second)));
  std::vector<uint8_t> again = segment(1001 + 200);
  EXPECT_EQ(run(again), FrameAction::kTransmit);
  EXPECT_EQ(0, std::memcmp(again.data(), kHostMac.data(), 6)) << "to the host's MAC";
  EXPECT_EQ(count(counters_.forwarded_pending_flow), 1u);
  EXPECT_EQ(count(counters_.ack_bad_cookie) + count(counters_.ack_cookie_expired), 1u);
  EXPECT_TRUE(flows_.keys.empty()) << "only the ACK's completion learns the flow";
}

TEST_F(PacketHandlerTest, ForgottenFlowIsRecoveredFromItsTimestampAndForgedEchoesAreNot) {
  // A firewall restarted without its established map meets a segment of a connection it once
  // validated: not a cookie (seq moved on), but its TSecr echoes the host's clock + ts_off.
  HostEntry h = host("192.0.2.10");
  h.recovery_window_ms = 300'000;
  use_hosts({h});
  std::vector<uint8_t> synack = syn_from_client().build();
  ASSERT_EQ(run(synack), FrameAction::kTransmit);
  const ParsedFrame sa = parse_verified(synack);
  auto segment = [&](uint32_t tsecr, uint16_t port) {
    return FrameBuilder()
        .macs(kClientMac, kFirewallMac)
        .ipv4("192.0.2.1", "192.0.2.10")
        .ports(port, 8080).seq(1001 + 5000).ack(sa.seq + 1 + 777)
        .flags(tcpflag::kAck).nop().nop().timestamp(900, tsecr)
        .payload({'l', 'a', 't', 'e', 'r'})
        .build();
  };
  std::vector<uint8_t> live = segment(sa.options.tsval, 40000);
  EXPECT_EQ(run(live), FrameAction::kTransmit);
  EXPECT_EQ(0, std::memcmp(live.data(), kHostMac.data(), 6)) << "to the host's MAC";
  EXPECT_EQ(count(counters_.flow_recovered_timestamp), 1u);
  ASSERT_EQ(flows_.keys.size(), 1u) << "learnt again (when the segment has left)";

  // The same echo on another 4-tuple: per-connection ts_off differs, so it does not fit.
  std::vector<uint8_t> moved = segment(sa.options.tsval, 40001);
  EXPECT_EQ(run(moved), FrameAction::kDrop);
  // An echo from the host's far past (an hour before the clock sample) does not fit either.
  std::vector<uint8_t> stale = segment(sa.options.tsval - 3'600'000, 40000);
  EXPECT_EQ(run(stale), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.recovery_out_of_window), 2u);
  EXPECT_EQ(count(counters_.flow_recovered_timestamp), 1u);
  EXPECT_EQ(flows_.keys.size(), 1u);

  // Recovery off (window 0): the live echo is just a failed cookie.
  use_hosts({host("192.0.2.10")});
  std::vector<uint8_t> off = segment(sa.options.tsval, 40000);
  EXPECT_EQ(run(off), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.flow_recovered_timestamp), 1u);
}

TEST_F(PacketHandlerTest, WrongCookieAckIsDroppedCountedAndLeavesNoState) {
  std::vector<uint8_t> ack = FrameBuilder()
                                 .macs(kClientMac, kFirewallMac)
                                 .ipv4("203.0.113.9", "192.0.2.10")
                                 .ports(40001, 8080)
                                 .seq(5000)
                                 .ack(0x12345678)
                                 .flags(tcpflag::kAck)
                                 .build();
  const std::vector<uint8_t> before = ack;
  EXPECT_EQ(run(ack), FrameAction::kDrop);
  EXPECT_EQ(ack, before);
  EXPECT_TRUE(flows_.keys.empty());
  EXPECT_EQ(count(counters_.ack_bad_cookie) + count(counters_.ack_cookie_expired), 1u);
  EXPECT_EQ(count(counters_.ack_valid), 0u);
}

TEST_F(PacketHandlerTest, CookieFromThreeMinutesAgoIsExpired) {
  std::vector<uint8_t> synack = syn_from_client().build();
  ASSERT_EQ(run(synack), FrameAction::kTransmit);
  const ParsedFrame sa = parse_verified(synack);
  handler_->begin_batch(*snapshot_, kNowNs + 180'000'000'000ull);
  std::vector<uint8_t> ack = FrameBuilder()
                                 .macs(kClientMac, kFirewallMac)
                                 .ipv4("192.0.2.1", "192.0.2.10")
                                 .ports(40000, 8080).seq(1001).ack(sa.seq + 1)
                                 .flags(tcpflag::kAck).nop().nop().timestamp(900, sa.options.tsval)
                                 .build();
  EXPECT_EQ(run(ack), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.ack_cookie_expired), 1u);
}

TEST_F(PacketHandlerTest, Ipv6AndVlanTaggedFramesKeepTheirTagAndKeyTheFlowByIt) {
  std::vector<uint8_t> synack = syn_from_client(true).vlan(ethertype::kVlan, 0x2064).build();
  // FrameBuilder puts tags right after the MACs, whatever the call order.
  ASSERT_EQ(run(synack), FrameAction::kTransmit);
  const ParsedFrame sa = parse_verified(synack);
  ASSERT_EQ(sa.vlan_count, 1);
  EXPECT_EQ(sa.vlans[0].tci, 0x2064) << "the SYN-ACK leaves on the SYN's VLAN, priority kept";
  EXPECT_EQ(sa.family, IpFamily::kIpv6);
  std::vector<uint8_t> ack = FrameBuilder()
                                 .macs(kClientMac, kFirewallMac)
                                 .vlan(ethertype::kVlan, 0x2064)
                                 .ipv6("2001:db8::1", "2001:db8::10")
                                 .ports(40000, 8080).seq(1001).ack(sa.seq + 1)
                                 .flags(tcpflag::kAck).nop().nop().timestamp(778, sa.options.tsval)
                                 .build();
  ASSERT_EQ(run(ack), FrameAction::kTransmit);
  ASSERT_EQ(flows_.keys.size(), 1u);
  EXPECT_EQ(flows_.keys[0].family, SW_FAMILY_IPV6);
  EXPECT_EQ(flows_.keys[0].vlan_outer, 0x064) << "VLAN id only, as the XDP program keys it";
  EXPECT_EQ(flows_.keys[0].vlan_inner, 0);
}

TEST_F(PacketHandlerTest, PortsOutsideTheHostsListAreForwardedUntouched) {
  use_hosts({host("192.0.2.10", {443})});
  std::vector<uint8_t> frame = syn_from_client().build();
  ASSERT_EQ(run(frame), FrameAction::kTransmit);
  const ParsedFrame p = parse_verified(frame);
  EXPECT_EQ(p.tcp_flags, tcpflag::kSyn) << "still the client's SYN, now addressed to the host";
  EXPECT_EQ(0, std::memcmp(frame.data(), kHostMac.data(), 6));
  EXPECT_EQ(count(counters_.forwarded_unprotected_port), 1u);
  EXPECT_EQ(count(counters_.synack_built), 0u);
}

TEST_F(PacketHandlerTest, HostWithoutSecretsFollowsItsFailPolicy) {
  HostEntry open = host("192.0.2.10", {}, false);
  open.policy = FailPolicy::kOpen;
  use_hosts({open});
  std::vector<uint8_t> frame = syn_from_client().build();
  EXPECT_EQ(run(frame), FrameAction::kTransmit);
  EXPECT_EQ(0, std::memcmp(frame.data(), kHostMac.data(), 6));
  EXPECT_EQ(count(counters_.forwarded_fail_open), 1u);

  HostEntry closed = host("192.0.2.10", {}, false);
  closed.policy = FailPolicy::kClosed;
  use_hosts({closed});
  frame = syn_from_client().build();
  EXPECT_EQ(run(frame), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.dropped_fail_closed), 1u);
}

TEST_F(PacketHandlerTest, PassModeHostGetsFramesForwarded) {
  HostEntry pass = host("192.0.2.10");
  pass.protection = false;
  use_hosts({pass});
  std::vector<uint8_t> frame = syn_from_client().build();
  EXPECT_EQ(run(frame), FrameAction::kTransmit);
  EXPECT_EQ(0, std::memcmp(frame.data(), kHostMac.data(), 6));
  EXPECT_EQ(count(counters_.forwarded_pass_mode), 1u);
}

TEST_F(PacketHandlerTest, RstFinImpossibleFlagsUnknownHostsAndJunkAreDropped) {
  auto with_flags = [](uint8_t flags, const char* dst = "192.0.2.10") {
    return FrameBuilder().macs(kClientMac, kFirewallMac).ipv4("192.0.2.1", dst)
        .ports(40000, 8080).seq(1).ack(2).flags(flags).build();
  };
  std::vector<uint8_t> f = with_flags(tcpflag::kRst | tcpflag::kAck);
  EXPECT_EQ(run(f), FrameAction::kDrop);
  f = with_flags(tcpflag::kFin | tcpflag::kAck);
  EXPECT_EQ(run(f), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.dropped_rst_fin), 2u);
  f = with_flags(tcpflag::kSyn | tcpflag::kAck);
  EXPECT_EQ(run(f), FrameAction::kDrop);
  f = with_flags(tcpflag::kPsh);
  EXPECT_EQ(run(f), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.dropped_bad_flags), 2u);
  f = with_flags(tcpflag::kSyn, "192.0.2.99");
  EXPECT_EQ(run(f), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.dropped_unknown_host), 1u);
  f = std::vector<uint8_t>(10, 0xff);
  EXPECT_EQ(run(f), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.dropped_unparsable), 1u);
  EXPECT_TRUE(flows_.keys.empty());
}

TEST_F(PacketHandlerTest, SynWithABadChecksumIsNotAnswered) {
  std::vector<uint8_t> frame = syn_from_client().build();
  frame[frame.size() - 1] ^= 0x01;  // last option byte: the TCP checksum no longer matches
  EXPECT_EQ(run(frame), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.dropped_bad_checksum), 1u);
  EXPECT_EQ(count(counters_.synack_built), 0u);
}

TEST_F(PacketHandlerTest, SynAckRateLimitAllowsTheBurstThenRefillsWithTime) {
  HandlerSettings settings;
  settings.synack_pps = 1000;  // one per ms
  settings.synack_burst = 2;
  use_hosts({host("192.0.2.10")}, settings);
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> f = syn_from_client().build();
    run(f);
  }
  EXPECT_EQ(count(counters_.synack_built), 2u);
  EXPECT_EQ(count(counters_.syn_rate_limited), 1u);
  handler_->begin_batch(*snapshot_, kNowNs + 1'000'000);  // 1 ms later: one more token
  std::vector<uint8_t> f = syn_from_client().build();
  EXPECT_EQ(run(f), FrameAction::kTransmit);
  f = syn_from_client().build();
  EXPECT_EQ(run(f), FrameAction::kDrop);
  EXPECT_EQ(count(counters_.synack_built), 3u);
}

TEST_F(PacketHandlerTest, HandlingSynsAndAcksAllocatesNothing) {
  std::vector<uint8_t> synack = syn_from_client().build();
  std::vector<uint8_t> syn = synack;
  synack.resize(kCapacity);
  uint32_t len = static_cast<uint32_t>(syn.size());
  flows_.keys.reserve(4);
  const size_t before = g_allocations;
  handler_->begin_batch(*snapshot_, kNowNs);
  ASSERT_EQ(handler_->handle(synack.data(), len, kCapacity), FrameAction::kTransmit);
  const size_t after_syn = g_allocations;
  synack.resize(len);
  const ParsedFrame sa = parse_verified(synack);
  std::vector<uint8_t> ack = FrameBuilder().macs(kClientMac, kFirewallMac)
                                 .ipv4("192.0.2.1", "192.0.2.10").ports(40000, 8080).seq(1001)
                                 .ack(sa.seq + 1).flags(tcpflag::kAck)
                                 .nop().nop().timestamp(778, sa.options.tsval).build();
  len = static_cast<uint32_t>(ack.size());
  ack.resize(kCapacity);
  const size_t before_ack = g_allocations;
  ASSERT_EQ(handler_->handle(ack.data(), len, kCapacity), FrameAction::kTransmit);
  EXPECT_EQ(after_syn - before, 0u) << "SYN -> SYN-ACK allocated";
  EXPECT_EQ(g_allocations - before_ack, 0u) << "cookie ACK allocated";
}

TEST_F(PacketHandlerTest, FailedFlowInsertIsCountedButTheAckStillReachesTheHost) {
  flows_.fail = true;
  std::vector<uint8_t> synack = syn_from_client().build();
  run(synack);
  const ParsedFrame sa = parse_verified(synack);
  std::vector<uint8_t> ack = FrameBuilder().macs(kClientMac, kFirewallMac)
                                 .ipv4("192.0.2.1", "192.0.2.10").ports(40000, 8080).seq(1001)
                                 .ack(sa.seq + 1).flags(tcpflag::kAck)
                                 .nop().nop().timestamp(778, sa.options.tsval).build();
  EXPECT_EQ(run(ack), FrameAction::kTransmit);
  EXPECT_EQ(count(counters_.flow_insert_failed), 1u);
  EXPECT_EQ(count(counters_.ack_valid), 1u);
}

TEST_F(PacketHandlerTest, AnAckFailingTheCookieIsReportedForSocketConfirmationOfConfirmingHostsOnly) {
  CandidateQueue candidates(2000);
  HostEntry confirming = host("192.0.2.10");
  confirming.socket_confirm = true;
  HandlerSettings settings;
  settings.candidates = &candidates;
  use_hosts({confirming, host("2001:db8::10")}, settings);
  auto ack = [](bool v6) {
    FrameBuilder b;
    b.macs(kClientMac, kFirewallMac);
    if (v6) b.ipv6("2001:db8::1", "2001:db8::10");
    else b.ipv4("192.0.2.1", "192.0.2.10");
    return b.ports(40000, 8080).seq(5000).ack(123456).flags(tcpflag::kAck).build();
  };
  std::vector<uint8_t> v4 = ack(false);
  const sw_flow_key expected = flow_key_of(parse_verified(v4));
  EXPECT_EQ(run(v4), FrameAction::kDrop);
  std::vector<uint8_t> v6 = ack(true);
  EXPECT_EQ(run(v6), FrameAction::kDrop) << "the IPv6 host has no confirming agent";
  std::vector<uint8_t> syn = syn_from_client().build();
  EXPECT_EQ(run(syn), FrameAction::kTransmit);
  std::vector<sw_flow_key> reported;
  candidates.drain([&](const sw_flow_key& k) { reported.push_back(k); });
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(0, std::memcmp(&reported[0], &expected, sizeof expected));
  EXPECT_EQ(candidates.counters().reported, 1u);
}

}  // namespace
}  // namespace synwarden::daemon
