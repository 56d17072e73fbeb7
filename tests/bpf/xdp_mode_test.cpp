// Per-host modes in the XDP program (bpf/fastpath/mode.bpf.h, docs/modes.md): monitor judges
// every frame as protect would and forwards it as pass does; its would-counters equal what
// protect counts for the same frames, in both datapaths. Auto counts SYNs per host and accepts
// the first ACK of a SYN it forwarded in pass after a switch to protect.
#include <time.h>

#include <map>
#include <tuple>

#include "synwarden/bpf_cookie_keys.h"
#include "synwarden/clock_now.h"
#include "synwarden/packet_builder.h"
#include "cookie_test_keys.h"
#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using dataplane::FlowOrigin;
using dataplane::HostCookieTable;
using dataplane::IpAddress;

enum class Mode { kPass, kProtect, kMonitor, kAuto, kAutoProtect };

synwarden::FrameBuilder tcp(bool v6, std::uint16_t sport, std::uint8_t flags) {
  synwarden::FrameBuilder b;
  b.macs(kRouterMac, kFirewallMac).ports(sport, kServicePort).flags(flags).seq(1000).ack(77777);
  if (v6) b.ipv6(kClientV6, kHostV6);
  else b.ipv4(kClientV4, kHostV4);
  return b;
}

// Every kind of frame the classifier tells apart for a host, each on its own client port so a
// flow one of them makes (monitor learns pure ACKs, as pass does) never changes another's fate.
std::vector<Bytes> frame_set(bool v6) {
  std::uint16_t port = 41000;
  std::vector<Bytes> out;
  out.push_back(tcp(v6, port++, tcpflag::kSyn).linux_syn_options(1460, 5, 7).build());
  out.push_back(tcp(v6, port++, tcpflag::kSyn).mss(1460).build());
  out.push_back(tcp(v6, port++, tcpflag::kAck).build());  // no flow, no valid cookie (expired)
  out.push_back(tcp(v6, port++, tcpflag::kAck).nop().nop().timestamp(9, 12345).build());
  out.push_back(tcp(v6, port++, tcpflag::kRst).build());
  out.push_back(tcp(v6, port++, tcpflag::kFin | tcpflag::kAck).build());
  out.push_back(tcp(v6, port++, tcpflag::kSyn | tcpflag::kFin).build());
  out.push_back(tcp(v6, port++, 0).build());                                  // no ACK
  out.push_back(tcp(v6, port++, tcpflag::kSyn | tcpflag::kAck).build());  // SYN-ACK
  out.push_back(tcp(v6, port++, tcpflag::kPsh | tcpflag::kAck).payload({1, 2, 3}).build());
  out.push_back(tcp(v6, port++, tcpflag::kSyn).payload({1}).build());  // XDP leaves it
  auto udp = tcp(v6, port++, 0);
  out.push_back(udp.ip_protocol(17).build());
  auto gre = tcp(v6, port++, 0);
  out.push_back(gre.ip_protocol(47).build());  // "other": dropped by the default policy
  return out;
}

class XdpMode : public FastpathTest {
 protected:
  void set_mode(const std::string& addr, Mode m) {
    dataplane::HostEntry e;
    e.mac = kHostMac;
    e.protect = m == Mode::kProtect || m == Mode::kAutoProtect;
    e.monitor = m == Mode::kMonitor;
    e.auto_mode = m == Mode::kAuto || m == Mode::kAutoProtect;
    auto ok = fp().hosts().upsert(*IpAddress::parse(addr), e);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }
  void use_datapath(bool xdp) {
    dataplane::Settings s;
    s.firewall_mac = kFirewallMac;
    s.xdp_cookies = xdp;
    ASSERT_TRUE(fp().settings().write(s).ok());
    if (!xdp) return;
    std::vector<HostCookieTable::Entry> entries;
    for (const auto& addr : {kHostV4, kHostV6}) {
      HostCookieTable::Entry e;
      e.addr = *IpAddress::parse(addr);
      e.value.flags = SW_HC_HAS_KEYS;
      e.value.counter_slot = SW_NO_COUNTER_SLOT;
      e.value.current =
          bpf_cookie_keys(fixed_secrets(), HostClock(fixed_secrets().clock, monotonic_ms()));
      entries.push_back(e);
    }
    auto ok = fp().host_cookies().write(entries);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }
  // Runs the frame set of both families in `mode`, from a clean flow table and fresh stats.
  // Returns per reason what the program counted (real) and what monitor recorded (would).
  std::pair<std::map<int, std::uint64_t>, std::map<int, std::uint64_t>> run_set(Mode mode) {
    EXPECT_TRUE(fp().flows().clear().ok());
    EXPECT_TRUE(fp().outbound_unverified().clear().ok());
    EXPECT_TRUE(fp().stats().reset().ok());
    set_mode(kHostV4, mode);
    set_mode(kHostV6, mode);
    std::map<int, std::uint64_t> real;
    std::map<int, std::uint64_t> would;
    for (bool v6 : {false, true}) {
      int index = 0;
      for (const auto& frame : frame_set(v6)) {
        RunResult r = run(frame);
        SCOPED_TRACE("frame " + std::to_string(index++) + (v6 ? " (IPv6)" : " (IPv4)") +
                     ", reason " + std::to_string(r.last.reason));
        for (int i = 0; i < SW_REASON_COUNT; ++i) {
          if (r.counters.by_reason[i].packets) real[i] += r.counters.by_reason[i].packets;
          if (r.counters.would[i]) would[i] += r.counters.would[i];
        }
        if (mode == Mode::kMonitor && r.last.reason == SW_R_DROP_MALFORMED) {
          EXPECT_EQ(r.verdict, XDP_DROP) << "malformed: dropped, as in pass mode";
        } else if (mode == Mode::kMonitor) {
          // Monitor forwards everything else, and changes nothing but the two MACs.
          EXPECT_EQ(r.verdict, XDP_TX);
          EXPECT_EQ(r.out.size(), frame.size());
          EXPECT_TRUE(std::equal(frame.begin() + 12, frame.end(), r.out.begin() + 12))
              << "monitor rewrote more than the Ethernet addresses";
        }
      }
    }
    return {real, would};
  }
};

std::string describe(const std::map<int, std::uint64_t>& m) {
  std::string s;
  for (const auto& [r, n] : m) {
    s += std::string(dataplane::StatsTable::reason_name(static_cast<sw_reason>(r))) + "=" +
         std::to_string(n) + " ";
  }
  return s;
}

TEST_F(XdpMode, MonitorWouldCountersEqualProtectCountersInBothDatapaths) {
  for (bool xdp : {false, true}) {
    SCOPED_TRACE(xdp ? "datapath xdp" : "datapath afxdp");
    use_datapath(xdp);
    const auto [protect_real, protect_would] = run_set(Mode::kProtect);
    const auto [monitor_real, monitor_would] = run_set(Mode::kMonitor);
    EXPECT_TRUE(protect_would.empty()) << "protect records no would-counters";
    EXPECT_EQ(monitor_would, protect_real)
        << "protect: " << describe(protect_real) << "\nmonitor would: " << describe(monitor_would);
    // The frame set exercises answers, drops and steering, not just forwarding.
    if (xdp) {
      EXPECT_GT(protect_real.count(SW_R_XDP_SYNACK), 0u);
      EXPECT_GT(protect_real.count(SW_R_DROP_COOKIE_EXPIRED), 0u);
    } else {
      EXPECT_GT(protect_real.count(SW_R_XSK_SYN_NO_SOCKET), 0u);
    }
    EXPECT_GT(protect_real.count(SW_R_DROP_UNKNOWN_RST_FIN), 0u);
    EXPECT_GT(protect_real.count(SW_R_DROP_NON_TCP_POLICY), 0u);
    // What monitor really did: forwarded; nothing answered, steered or dropped but the
    // malformed frames pass mode drops too (the IPv6 UDP and GRE frames of this set are
    // classified drop_malformed in every mode).
    for (const auto& [reason, n] : monitor_real) {
      const std::string name(dataplane::StatsTable::reason_name(static_cast<sw_reason>(reason)));
      EXPECT_TRUE(name.rfind("fwd_", 0) == 0 || reason == SW_R_DROP_MALFORMED)
          << name << " counted " << n << " in monitor";
    }
    EXPECT_GT(monitor_real.count(SW_R_FWD_MONITOR), 0u);
  }
}

TEST_F(XdpMode, MonitorLearnsPureAcksLikePassMode) {
  use_datapath(true);
  set_mode(kHostV4, Mode::kMonitor);
  RunResult r = run(tcp(false, 42000, tcpflag::kAck).build());
  EXPECT_EQ(r.last.reason, SW_R_FWD_MONITOR);
  EXPECT_EQ(r.counters.would[SW_R_DROP_COOKIE_EXPIRED], 1u);
  auto flow = fp().flows().lookup(client_flow(false, 0, 0, 42000));
  ASSERT_TRUE(flow.ok());
  ASSERT_TRUE(flow->has_value()) << "monitor must learn flows as pass mode does";
  EXPECT_EQ((*flow)->origin, FlowOrigin::learned);
  // ... so turning protection on later keeps the connection.
  set_mode(kHostV4, Mode::kProtect);
  EXPECT_EQ(run(tcp(false, 42000, tcpflag::kAck).build()).last.reason, SW_R_FWD_ESTABLISHED);
}

TEST_F(XdpMode, MonitorDropsMalformedFramesAsPassModeDoes) {
  use_datapath(true);
  synwarden::FrameBuilder bad = tcp(false, 42100, tcpflag::kAck);
  bad.ipv4_options({1, 1, 1, 1});
  Bytes frame = bad.build();
  frame[14] = 0x44;  // IHL 4 (< 5): malformed
  for (Mode m : {Mode::kPass, Mode::kMonitor}) {
    set_mode(kHostV4, m);
    RunResult r = run(frame);
    EXPECT_EQ(r.verdict, XDP_DROP);
    EXPECT_EQ(r.last.reason, SW_R_DROP_MALFORMED);
    EXPECT_EQ(r.counters.would[SW_R_DROP_MALFORMED], m == Mode::kMonitor ? 1u : 0u);
  }
}

TEST_F(XdpMode, PassAndProtectRecordNoWouldCounters) {
  use_datapath(true);
  for (Mode m : {Mode::kPass, Mode::kProtect, Mode::kAuto}) {
    const auto [real, would] = run_set(m);
    EXPECT_TRUE(would.empty()) << describe(would);
    EXPECT_FALSE(real.empty());
  }
}

TEST_F(XdpMode, AutoHostSynsAreCountedOnlyWhenTracked) {
  use_datapath(true);
  const auto host = *IpAddress::parse(kHostV4);
  set_mode(kHostV4, Mode::kAuto);
  run(tcp(false, 43000, tcpflag::kSyn).mss(1460).build());
  EXPECT_EQ(fp().host_syns().read(host).ok(), false) << "untracked: no entry, no count";
  ASSERT_TRUE(fp().host_syns().track(host).ok());
  for (int p : {43001, 43002, 43003}) run(tcp(false, static_cast<std::uint16_t>(p), tcpflag::kSyn).mss(1460).build());
  set_mode(kHostV4, Mode::kAutoProtect);  // counted in protect too: the rate decides going back
  run(tcp(false, 43010, tcpflag::kSyn).mss(1460).build());
  run(tcp(false, 43011, tcpflag::kAck).build());  // not a SYN
  auto n = fp().host_syns().read(host);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 4u);
  ASSERT_TRUE(fp().host_syns().track(host).ok());  // tracking again keeps the count
  EXPECT_EQ(*fp().host_syns().read(host), 4u);
  // A host in plain pass mode is not counted.
  ASSERT_TRUE(fp().host_syns().untrack(host).ok());
  ASSERT_TRUE(fp().host_syns().track(host).ok());
  set_mode(kHostV4, Mode::kPass);
  run(tcp(false, 43020, tcpflag::kSyn).mss(1460).build());
  EXPECT_EQ(*fp().host_syns().read(host), 0u);
}

TEST_F(XdpMode, AutoAcceptsTheFirstAckOfASynForwardedInPassAfterTheSwitch) {
  for (bool xdp : {false, true}) {
    SCOPED_TRACE(xdp ? "datapath xdp" : "datapath afxdp");
    use_datapath(xdp);
    EXPECT_TRUE(fp().flows().clear().ok());
    set_mode(kHostV4, Mode::kAuto);
    const std::uint16_t port = xdp ? std::uint16_t{44100} : std::uint16_t{44000};
    EXPECT_EQ(run(tcp(false, port, tcpflag::kSyn).mss(1460).build()).last.reason,
              SW_R_FWD_PASS_MODE);
    set_mode(kHostV4, Mode::kAutoProtect);  // the controller switched
    RunResult r = run(tcp(false, port, tcpflag::kAck).build());
    EXPECT_EQ(r.last.reason, SW_R_FWD_PASS_HANDSHAKE);
    EXPECT_EQ(r.verdict, XDP_TX);
    auto flow = fp().flows().lookup(client_flow(false, 0, 0, port));
    ASSERT_TRUE(flow.ok() && flow->has_value()) << "the accepted handshake's flow is learnt";
    // An ACK on a 4-tuple whose SYN was not forwarded in pass is judged as usual.
    const sw_reason judged = xdp ? SW_R_DROP_COOKIE_EXPIRED : SW_R_XSK_ACK_NO_SOCKET;
    EXPECT_EQ(run(tcp(false, static_cast<std::uint16_t>(port + 1), tcpflag::kAck).build()).last.reason, judged);
    // The entry vouched once: with the flow forgotten, the same ACK is judged again.
    ASSERT_TRUE(fp().flows().clear().ok());
    EXPECT_EQ(run(tcp(false, port, tcpflag::kAck).build()).last.reason, judged);
  }
}

TEST_F(XdpMode, OnlyAutoHostsRememberPassModeSyns) {
  use_datapath(true);
  set_mode(kHostV4, Mode::kPass);
  run(tcp(false, 45000, tcpflag::kSyn).mss(1460).build());
  set_mode(kHostV4, Mode::kAutoProtect);
  EXPECT_EQ(run(tcp(false, 45000, tcpflag::kAck).build()).last.reason, SW_R_DROP_COOKIE_EXPIRED);
  // And a protect (non-auto) host never consults the table.
  set_mode(kHostV4, Mode::kAuto);
  run(tcp(false, 45001, tcpflag::kSyn).mss(1460).build());
  set_mode(kHostV4, Mode::kProtect);
  EXPECT_EQ(run(tcp(false, 45001, tcpflag::kAck).build()).last.reason, SW_R_DROP_COOKIE_EXPIRED);
}

}  // namespace
}  // namespace synwarden::test
