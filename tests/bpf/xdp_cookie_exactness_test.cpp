// The XDP cookie datapath against the C++ engine, which stays the reference: random SYNs (IPv4
// and IPv6, untagged / 802.1Q / QinQ, IPv4 options, every TCP option combination and odd
// layouts, both ts_off variants, random sysctls, hosts and clocks) run through the XDP program
// with BPF_PROG_TEST_RUN must come out byte for byte as the engine's plan_synack() +
// build_synack_in_place() answer them; ACKs (valid, seq + k, forged, one count too old, previous
// keys inside and after their grace) must get the verdict the worker's logic gives them.
//
// The clock: the program reads bpf_ktime_get_ns() (CLOCK_MONOTONIC), the engine is given the
// CLOCK_MONOTONIC millisecond read just before the run. A run is only judged when the
// millisecond read just after it is the same, so both sides saw the same firewall time; other
// runs are repeated (rare: a run takes microseconds).
#include <time.h>

#include <cstring>
#include <random>

#include "synwarden/bpf_cookie_keys.h"
#include "synwarden/clock_now.h"
#include "synwarden/codec.h"
#include "synwarden/cookie.h"
#include "synwarden/packet_builder.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/synack_planner.h"
#include "xdp_harness.h"

namespace synwarden::test {
namespace {

constexpr std::uint32_t kFlowLabelSeed = 0x5eed1234;
constexpr int kSyns = 10000;
constexpr int kAcks = 4000;
constexpr int kFramesPerHostChange = 250;  // each host rewrite waits for an RCU grace period

// One protected host as the engine and the XDP map both see it.
struct HostModel {
  HostSecrets secrets;
  HostClock clock{HostClockSample{0, 250, 0}, 0};
};

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}
  std::uint64_t u64() { return g_(); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(g_()); }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(g_() % n); }
  bool chance(std::uint32_t percent) { return below(100) < percent; }

 private:
  std::mt19937_64 g_;
};

SipKey random_key(Rng& r) { return SipKey{r.u64(), r.u64()}; }

HostModel random_host(Rng& r, std::uint64_t now_ms) {
  HostModel h;
  HostSecrets& s = h.secrets;
  s.syncookie = {random_key(r), random_key(r)};
  s.syncookie6 = {random_key(r), random_key(r)};
  s.ts_offset = r.chance(50) ? TsOffsetMode::kPerConnection : TsOffsetMode::kPerHost;
  s.ts_key = random_key(r);
  s.sysctls.tcp_timestamps = static_cast<std::uint8_t>(r.chance(80) ? 1 : r.below(3));
  s.sysctls.tcp_sack = static_cast<std::uint8_t>(r.chance(80) ? 1 : 0);
  s.sysctls.tcp_window_scaling = static_cast<std::uint8_t>(r.chance(80) ? 1 : 0);
  s.sysctls.tcp_ecn = static_cast<std::uint8_t>(r.below(3));
  s.mss = static_cast<std::uint16_t>(r.chance(70) ? 1460 : 88 + r.below(9000));
  s.mss6 = static_cast<std::uint16_t>(r.chance(70) ? 1440 : 88 + r.below(9000));
  s.rcv_wscale = static_cast<std::uint8_t>(r.below(15));
  s.rcv_space = r.chance(70) ? HostSecrets::kDefaultRcvSpace : 1 + r.below(1u << 24);
  static constexpr std::uint32_t kHz[] = {100, 250, 300, 1000};
  s.clock.hz = kHz[r.below(4)];
  s.clock.jiffies = r.u64() >> r.below(64);
  s.clock.mono_ms = r.u64() >> (1 + r.below(63));
  // The sample is from the past (usual), up to ~30 days old, or slightly "from the future".
  const std::int64_t age = r.chance(90) ? static_cast<std::int64_t>(r.below(2'600'000'000u))
                                        : -static_cast<std::int64_t>(r.below(100'000));
  ClockSafety safety;
  if (r.chance(30)) safety = ClockSafety{r.below(1000), r.below(10), r.below(5000)};
  h.clock = HostClock(s.clock, now_ms - static_cast<std::uint64_t>(age), safety);
  return h;
}

// A SYN or ACK frame with random L2/L3 decoration.
struct FrameSpec {
  bool v6 = false;
  int vlans = 0;
  std::uint16_t client_port = 0;
};

synwarden::FrameBuilder random_base(Rng& r, FrameSpec& spec) {
  synwarden::FrameBuilder b;
  spec.v6 = r.chance(50);
  spec.vlans = static_cast<int>(r.below(3));
  spec.client_port = static_cast<std::uint16_t>(1024 + r.below(64000));
  b.macs(kRouterMac, kFirewallMac);
  for (int i = 0; i < spec.vlans; ++i) {
    b.vlan(r.chance(50) ? 0x8100 : 0x88a8, static_cast<std::uint16_t>(r.below(65536)));
  }
  if (spec.v6) {
    b.ipv6(kClientV6, kHostV6).flow_label(r.below(1u << 20));
  } else {
    b.ipv4(kClientV4, kHostV4).ip_id(static_cast<std::uint16_t>(r.u32()));
    if (r.chance(20)) {  // IPv4 options: NOPs then an EOL, 4..40 bytes
      std::vector<std::uint8_t> opts(4 * (1 + r.below(10)), 1);
      opts.back() = 0;
      b.ipv4_options(opts);
    }
  }
  b.tos(static_cast<std::uint8_t>(r.u32())).ttl(static_cast<std::uint8_t>(1 + r.below(255)));
  b.ports(spec.client_port, kServicePort);
  if (r.chance(10)) b.reserved_bits(static_cast<std::uint8_t>(r.below(16)));
  if (r.chance(30)) b.pad_to(60 + r.below(40));
  return b;
}

// Random SYN options: any subset of MSS / WS / SACK_PERM / TS / an unknown option, in any
// order, with NOPs between, sometimes duplicated, sometimes exactly Linux's layout, sometimes
// broken (length 0/1 or past the header).
void random_syn_options(Rng& r, synwarden::FrameBuilder& b) {
  if (r.chance(15)) {
    b.linux_syn_options(static_cast<std::uint16_t>(r.below(65536)), r.u32(),
                        static_cast<std::uint8_t>(r.below(16)));
    return;
  }
  std::vector<std::uint8_t> bytes;
  auto add = [&](std::vector<std::uint8_t> o) {
    if (bytes.size() + o.size() <= 40) bytes.insert(bytes.end(), o.begin(), o.end());
  };
  int kinds[] = {0, 1, 2, 3, 4, 5};
  std::shuffle(std::begin(kinds), std::end(kinds), std::mt19937(r.u32()));
  for (int k : kinds) {
    if (!r.chance(60)) continue;
    for (std::uint32_t n = r.chance(20) ? r.below(3) : 0; n > 0; --n) add({1});
    const std::uint32_t v = r.u32();
    switch (k) {
      case 0: add({2, 4, static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}); break;
      case 1: add({3, 3, static_cast<std::uint8_t>(r.below(20))}); break;
      case 2: add({4, 2}); break;
      case 3: {
        std::vector<std::uint8_t> ts{8, 10};
        for (int i = 0; i < 8; ++i) ts.push_back(static_cast<std::uint8_t>(r.u32()));
        add(ts);
        break;
      }
      case 4: add({30, 4, 0xab, 0xcd}); break;                      // unknown: skipped
      case 5: add({2, static_cast<std::uint8_t>(r.chance(50) ? 3 : 6), 1, 2, 3, 4}); break;  // MSS at a wrong length: ignored
    }
    if (r.chance(10)) add({2, 4, 0x05, 0xb4});  // a later duplicate wins
  }
  if (r.chance(3)) add({30, static_cast<std::uint8_t>(r.below(2))});   // "silly" length
  if (r.chance(3)) add({30, 60});                                      // runs past the header
  if (!bytes.empty()) b.raw_option_bytes(bytes);
}

SynAckPlan engine_plan(const HostModel& h, const ClockReading& rd, const ParsedFrame& p) {
  return p.family == IpFamily::kIpv4
             ? plan_synack(h.secrets, rd, ipv4_flow_of(p), p.seq, p.options)
             : plan_synack(h.secrets, rd, ipv6_flow_of(p), p.seq, p.options);
}

class XdpCookieExactness : public FastpathTest {
 protected:
  void SetUp() override {
    FastpathTest::SetUp();
    dataplane::Settings settings;
    settings.firewall_mac = kFirewallMac;
    settings.xdp_cookies = true;
    settings.flow_label_seed = kFlowLabelSeed;
    ASSERT_TRUE(fp().settings().write(settings).ok());
    protect(kHostV4, true);
    protect(kHostV6, true);
  }

  // Writes `current` (and `previous` with its grace end) as both test hosts' cookie data.
  void write_hosts(const HostModel& current, const HostModel* previous = nullptr,
                   std::uint64_t previous_until_ms = 0) {
    std::vector<dataplane::HostCookieTable::Entry> entries;
    for (const std::string& a : {kHostV4, kHostV6}) {
      dataplane::HostCookieTable::Entry e;
      e.addr = *dataplane::IpAddress::parse(a);
      e.value.flags = SW_HC_HAS_KEYS;
      e.value.current = bpf_cookie_keys(current.secrets, current.clock);
      if (previous != nullptr) {
        e.value.flags |= SW_HC_HAS_PREVIOUS;
        e.value.previous = bpf_cookie_keys(previous->secrets, previous->clock);
        e.value.previous_until_ms = previous_until_ms;
      }
      entries.push_back(e);
    }
    auto ok = fp().host_cookies().write(entries);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }

  // Runs `frame` until the firewall millisecond is the same before and after; returns it.
  RunResult run_at_stable_ms(const Bytes& frame, std::uint64_t& now_ms) {
    for (int attempt = 0;; ++attempt) {
      const std::uint64_t before = monotonic_ms();
      RunResult r = run(frame);
      if (monotonic_ms() == before || attempt == 20) {
        EXPECT_LT(attempt, 20) << "the clock never held still for one run";
        now_ms = before;
        return r;
      }
      // Undo what the unjudged run may have done (a valid ACK learns its flow), then repeat.
      EXPECT_TRUE(fp().flows().clear().ok());
    }
  }
};

TEST_F(XdpCookieExactness, RandomSynsGetTheEnginesSynAckByteForByte) {
  Rng r(0x15c0ffee);
  HostModel host;
  int answered = 0, bad_option = 0;
  for (int i = 0; i < kSyns; ++i) {
    if (i % kFramesPerHostChange == 0) {
      host = random_host(r, monotonic_ms());
      write_hosts(host);
    }
    FrameSpec spec;
    synwarden::FrameBuilder b = random_base(r, spec);
    std::uint8_t flags = tcpflag::kSyn;
    if (r.chance(40)) flags |= tcpflag::kEce | tcpflag::kCwr;
    else if (r.chance(10)) flags |= r.chance(50) ? tcpflag::kEce : tcpflag::kCwr;
    b.flags(flags).seq(r.u32()).window(static_cast<std::uint16_t>(r.u32()));
    random_syn_options(r, b);
    const Bytes frame = b.build();

    ParsedFrame p;
    const Verdict v = parse_frame(frame.data(), frame.size(), p, ChecksumPolicy::kVerify);
    std::uint64_t now_ms = 0;
    const RunResult out = run_at_stable_ms(frame, now_ms);
    SCOPED_TRACE("SYN #" + std::to_string(i) + (spec.v6 ? " IPv6" : " IPv4") + " vlans " +
                 std::to_string(spec.vlans));
    if (v == Verdict::kBadTcpOption) {
      ++bad_option;
      ASSERT_EQ(out.verdict, XDP_DROP);
      ASSERT_EQ(out.last.reason, SW_R_DROP_BAD_TCP_OPTION);
      continue;
    }
    ASSERT_EQ(v, Verdict::kOk) << verdict_name(v);
    const SynAckPlan plan = engine_plan(host, host.clock.at(now_ms), p);
    Bytes expected(frame);
    expected.resize(std::max<std::size_t>(frame.size(), 256));
    SynAckFrameParams params;
    params.src_mac = kFirewallMac;
    params.flow_label_seed = kFlowLabelSeed;
    const std::size_t len = build_synack_in_place(expected.data(), expected.size(), p, plan, params);
    ASSERT_GT(len, 0u);
    expected.resize(len);
    ASSERT_EQ(out.verdict, XDP_TX) << verdict_name(out.verdict) << ", reason "
                                   << dataplane::StatsTable::reason_name(
                                          static_cast<sw_reason>(out.last.reason));
    ASSERT_EQ(out.last.reason, SW_R_XDP_SYNACK);
    ASSERT_EQ(out.out, expected) << "seq " << plan.seq << " tsval " << plan.tsval;
    ++answered;
  }
  // The generator must really have produced both kinds (else this test proves little).
  EXPECT_GT(answered, kSyns * 9 / 10);
  EXPECT_GT(bad_option, 0);
}

// How the ACK's cookie was made. kByPreviousKeys ACKs meet the old keys inside their grace in
// even blocks of kFramesPerHostChange ACKs and after it in odd blocks.
enum class AckKind { kValid, kSeqPlusK, kForged, kCountTooOld, kByPreviousKeys, kCount };

TEST_F(XdpCookieExactness, AckVerdictsAreTheWorkersForEveryKindOfAck) {
  Rng r(0xac4c0de);
  HostModel host = random_host(r, monotonic_ms());
  HostModel old = random_host(r, monotonic_ms());
  std::uint64_t until = 0;
  int counted[static_cast<int>(AckKind::kCount)] = {};
  int valid = 0, previous_valid = 0, previous_expired = 0, rejected = 0;
  for (int i = 0; i < kAcks; ++i) {
    if (i % kFramesPerHostChange == 0) {
      old = host;
      host = random_host(r, monotonic_ms());
      // Alternate: previous keys inside their grace, or already expired.
      until = (i / kFramesPerHostChange) % 2 == 0 ? monotonic_ms() + 121'000 : monotonic_ms() - 1;
      write_hosts(host, &old, until);
    }
    const auto kind = static_cast<AckKind>(r.below(static_cast<std::uint32_t>(AckKind::kCount)));
    ++counted[static_cast<int>(kind)];
    FrameSpec spec;
    synwarden::FrameBuilder syn_b = random_base(r, spec);
    const std::uint32_t isn = r.u32();
    syn_b.flags(tcpflag::kSyn).seq(isn);
    if (r.chance(70)) syn_b.linux_syn_options(1460, r.u32(), static_cast<std::uint8_t>(r.below(15)));
    const Bytes syn = syn_b.build();
    ParsedFrame sp;
    ASSERT_EQ(parse_frame(syn.data(), syn.size(), sp), Verdict::kOk);

    const bool by_old = kind == AckKind::kByPreviousKeys;
    const HostModel& minter = by_old ? old : host;
    const ClockReading mint_clock = minter.clock.at(monotonic_ms());
    SynAckPlan plan = engine_plan(minter, mint_clock, sp);
    std::uint32_t seq = isn + 1, ack = plan.seq + 1;
    if (kind == AckKind::kSeqPlusK) seq += 1 + r.below(100000);
    if (kind == AckKind::kForged) ack = r.u32();
    if (kind == AckKind::kCountTooOld) {
      const std::uint32_t count = mint_clock.cookie_count - 2;
      ack = 1 + (sp.family == IpFamily::kIpv4
                     ? make_cookie_v4(minter.secrets.syncookie, ipv4_flow_of(sp), isn, count, 0)
                     : make_cookie_v6(minter.secrets.syncookie6, ipv6_flow_of(sp), isn, count, 0));
    }
    // The ACK: the SYN's VLANs, addresses and ports; NOP NOP TS (Linux), TS NOP NOP, or no
    // option; sometimes data.
    Bytes frame;
    ParsedFrame ap;
    {
      synwarden::FrameBuilder ab;
      ab.macs(kRouterMac, kFirewallMac);
      for (int v = 0; v < sp.vlan_count; ++v) ab.vlan(sp.vlans[v].tpid, sp.vlans[v].tci);
      if (sp.family == IpFamily::kIpv6) ab.ipv6(kClientV6, kHostV6);
      else ab.ipv4(kClientV4, kHostV4);
      ab.ports(spec.client_port, kServicePort).flags(tcpflag::kAck).seq(seq).ack(ack);
      const std::uint32_t tsecr = plan.has_timestamp ? plan.tsval : r.u32();
      if (r.chance(60)) ab.nop().nop().timestamp(r.u32(), tsecr);
      else if (r.chance(50)) ab.timestamp(r.u32(), tsecr).nop().nop();
      if (r.chance(20)) ab.payload(std::vector<std::uint8_t>(1 + r.below(100), 0x61));
      frame = ab.build();
    }
    ASSERT_EQ(parse_frame(frame.data(), frame.size(), ap), Verdict::kOk);

    std::uint64_t now_ms = 0;
    const RunResult out = run_at_stable_ms(frame, now_ms);
    AckSegment seg{ap.seq, ap.ack, ap.options.has_timestamp, ap.options.tsval, ap.options.tsecr};
    auto check = [&](const HostModel& h) {
      const ClockReading rd = h.clock.at(now_ms);
      return ap.family == IpFamily::kIpv4 ? check_ack(h.secrets, rd, ipv4_flow_of(ap), seg)
                                          : check_ack(h.secrets, rd, ipv6_flow_of(ap), seg);
    };
    // PacketHandler::on_ack(): current keys, then the previous ones during their grace.
    AckVerdict verdict = check(host);
    sw_reason expected = SW_R_XDP_ACK_VALID;
    if (!verdict.valid() && now_ms < until && check(old).valid()) {
      expected = SW_R_XDP_ACK_VALID_PREVIOUS;
    } else if (!verdict.valid()) {
      expected = verdict.status == AckStatus::kCookieOutOfWindow ? SW_R_DROP_COOKIE_EXPIRED
                 : verdict.status == AckStatus::kOptionDisabled  ? SW_R_DROP_COOKIE_OPTION
                                                                 : SW_R_DROP_COOKIE_BAD;
    }
    SCOPED_TRACE("ACK #" + std::to_string(i) + " kind " + std::to_string(static_cast<int>(kind)));
    ASSERT_EQ(out.last.reason, static_cast<__u32>(expected))
        << "got " << dataplane::StatsTable::reason_name(static_cast<sw_reason>(out.last.reason))
        << ", engine says " << ack_status_name(verdict.status);
    if (expected == SW_R_XDP_ACK_VALID || expected == SW_R_XDP_ACK_VALID_PREVIOUS) {
      ASSERT_EQ(out.verdict, XDP_TX);
      Bytes forwarded(frame);
      std::memcpy(forwarded.data(), kHostMac.data(), 6);
      std::memcpy(forwarded.data() + 6, kFirewallMac.data(), 6);
      ASSERT_EQ(out.out, forwarded);
      dataplane::FlowKey key = client_flow(spec.v6, sp.vlan_count > 0 ? sp.vlans[0].tci & 0xfff : 0,
                                           sp.vlan_count > 1 ? sp.vlans[1].tci & 0xfff : 0,
                                           spec.client_port);
      auto learned = fp().flows().lookup(key);
      ASSERT_TRUE(learned.ok() && learned->has_value()) << "valid cookie ACK's flow not learned";
      EXPECT_EQ((*learned)->origin, dataplane::FlowOrigin::cookie);
      ASSERT_TRUE(fp().flows().erase(key).ok());  // the next ACK on this tuple is judged again
      (expected == SW_R_XDP_ACK_VALID ? valid : previous_valid)++;
    } else {
      ASSERT_EQ(out.verdict, XDP_DROP);
      ++rejected;
      if (by_old && now_ms >= until) ++previous_expired;
    }
  }
  // Every kind occurred, and the outcomes are not all of one sort.
  for (int c : counted) EXPECT_GT(c, 0);
  EXPECT_GT(valid, kAcks / 10);
  EXPECT_GT(previous_valid, kAcks / 40);
  EXPECT_GT(previous_expired, kAcks / 40);
  EXPECT_GT(rejected, kAcks / 4);
}

}  // namespace
}  // namespace synwarden::test
