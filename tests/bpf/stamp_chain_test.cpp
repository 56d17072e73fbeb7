// The outbound SYN stamp end to end, in BPF_PROG_TEST_RUN: the host's tc egress program stamps
// SYNs exactly as synwarden/outbound_stamp.h says (random tuples, IPv4 and IPv6), keeping the TCP
// checksum valid; the firewall's XDP program forwards a SYN-ACK echoing that stamp without the
// SYN-ACK budget and into the stamped table, and charges every other SYN-ACK to the budget and
// the unverified table; the host's tc ingress program gives the SYN-ACK's TSecr the SYN's real
// TSval back and leaves anything else alone.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include <cstring>
#include <random>

#include "stamp_program.h"
#include "synwarden/checksum.h"
#include "synwarden/outbound_stamp.h"
#include "xdp_harness.h"

namespace synwarden::test {
namespace {

using namespace tcp_flags;

struct Seg {
  bool v6 = false;
  std::string src, dst;
  uint16_t sport = 0, dport = 0;
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0, tsval = 0, tsecr = 0;
  bool timestamp = true;
};

uint32_t rd32(const Bytes& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}
void wr32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// A frame with Linux's SYN option layout (MSS, SACK_PERM, TS, NOP, WS), or without TS, and a
// correct TCP checksum. `layout` reports where the TCP header is.
Bytes make(const Seg& s, const Mac& dst, const Mac& src, Layout* layout) {
  FrameBuilder b;
  b.eth(dst, src);
  if (s.v6) b.ipv6(s.src, s.dst); else b.ipv4(s.src, s.dst);
  b.tcp(s.sport, s.dport, s.flags, 20);
  Bytes f = b.build(layout);
  const size_t t = layout->l4;
  wr32(f, t + 4, s.seq);
  wr32(f, t + 8, s.ack);
  const uint8_t opts[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
  std::memcpy(&f[t + 20], opts, sizeof opts);
  if (s.timestamp) {
    wr32(f, t + 28, s.tsval);
    wr32(f, t + 32, s.tsecr);
  } else {
    std::memset(&f[t + 26], 1, 10);  // NOPs in place of the timestamp
  }
  f[t + 16] = f[t + 17] = 0;
  const size_t len = f.size() - t;
  const uint16_t c = s.v6 ? tcp_checksum_v6(&f[layout->l3 + 8], &f[layout->l3 + 24], &f[t], len)
                          : tcp_checksum_v4(&f[layout->l3 + 12], &f[layout->l3 + 16], &f[t], len);
  f[t + 16] = static_cast<uint8_t>(c >> 8);
  f[t + 17] = static_cast<uint8_t>(c);
  return f;
}

bool checksum_ok(const Bytes& f, const Layout& l, bool v6) {
  const size_t len = f.size() - l.l4;
  return v6 ? tcp_checksum_ok_v6(&f[l.l3 + 8], &f[l.l3 + 24], &f[l.l4], len)
            : tcp_checksum_ok_v4(&f[l.l3 + 12], &f[l.l3 + 16], &f[l.l4], len);
}

OutboundTuple tuple_of(const Seg& syn) {  // syn: host -> remote
  OutboundTuple t;
  t.v6 = syn.v6;
  const int af = syn.v6 ? AF_INET6 : AF_INET;
  inet_pton(af, syn.src.c_str(), t.host.data());
  inet_pton(af, syn.dst.c_str(), t.remote.data());
  t.host_port = htons(syn.sport);
  t.remote_port = htons(syn.dport);
  return t;
}

// One tc program run; returns the output frame.
Bytes run_tc(int prog_fd, const Bytes& in, int* retval = nullptr) {
  Bytes out(in.size() + 64);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = in.data();
  opts.data_size_in = static_cast<__u32>(in.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<__u32>(out.size());
  const int ret = bpf_prog_test_run_opts(prog_fd, &opts);
  EXPECT_EQ(ret, 0) << "BPF_PROG_TEST_RUN: " << std::strerror(-ret);
  out.resize(opts.data_size_out);
  if (retval) *retval = static_cast<int>(opts.retval);
  return out;
}

class OutboundStamp : public FastpathTest {
 protected:
  static void SetUpTestSuite() {
    FastpathTest::SetUpTestSuite();
    StampProgramOptions o;
    o.pin_dir.clear();  // no pins, no attach: test runs only
    o.syn_table_size = 4096;
    stamp_ = new StampProgram(o);
  }
  static void TearDownTestSuite() {
    delete stamp_;
    stamp_ = nullptr;
    FastpathTest::TearDownTestSuite();
  }
  static StampProgram& stamp() { return *stamp_; }

  // Host side: a SYN from the protected host to a remote server, through tc egress.
  Seg host_syn(bool v6, uint16_t sport, uint32_t isn, uint32_t tsval) const {
    Seg s;
    s.v6 = v6;
    s.src = v6 ? kHostV6 : kHostV4;
    s.dst = v6 ? kClientV6 : kClientV4;  // the remote server
    s.sport = sport;
    s.dport = 443;
    s.flags = SYN;
    s.seq = isn;
    s.tsval = tsval;
    return s;
  }
  // The remote's answer, echoing `tsecr`.
  static Seg synack_for(const Seg& syn, uint32_t tsecr) {
    Seg a = syn;
    std::swap(a.src, a.dst);
    std::swap(a.sport, a.dport);
    a.flags = SYN | ACK;
    a.seq = 777;
    a.ack = syn.seq + 1;
    a.tsval = 4242;
    a.tsecr = tsecr;
    return a;
  }
  void give_firewall_the_key(bool v6) {
    const SipKey k = stamp().key();
    ASSERT_TRUE(fp().outbound_keys()
                    .sync({{dataplane::IpAddress::parse(v6 ? kHostV6 : kHostV4).value(),
                            sw_sip_key{k.k0, k.k1}}})
                    .ok());
  }

 private:
  static StampProgram* stamp_;
};
StampProgram* OutboundStamp::stamp_ = nullptr;

TEST_F(OutboundStamp, EgressStampsEverySynAsTheReferenceSaysAndKeepsTheChecksum) {
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    const bool v6 = (i & 1) != 0;
    const Seg syn = host_syn(v6, static_cast<uint16_t>(1024 + rng() % 60000),
                             static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()));
    Layout l;
    const Bytes in = make(syn, kRouterMac, kHostMac, &l);
    int rv = -1;
    const Bytes out = run_tc(stamp().egress_fd(), in, &rv);
    ASSERT_EQ(rv, TC_ACT_UNSPEC);
    ASSERT_EQ(out.size(), in.size());
    const uint32_t mac = outbound_stamp_mac(stamp().key(), tuple_of(syn), syn.seq);
    const uint32_t want = outbound_stamp_tsval(syn.tsval, mac);
    ASSERT_EQ(rd32(out, l.l4 + 28), want) << "case " << i;
    ASSERT_TRUE(checksum_ok(out, l, v6)) << "case " << i;
    Bytes rest_in = in, rest_out = out;  // everything but TSval and the checksum is untouched
    for (Bytes* b : {&rest_in, &rest_out}) {
      wr32(*b, l.l4 + 28, 0);
      (*b)[l.l4 + 16] = (*b)[l.l4 + 17] = 0;
    }
    ASSERT_EQ(rest_in, rest_out) << "case " << i;
  }
}

TEST_F(OutboundStamp, SegmentsOtherThanATimestampedSynPassUntouched) {
  for (uint8_t flags : {uint8_t(SYN | ACK), uint8_t(ACK), uint8_t(RST), uint8_t(FIN | ACK)}) {
    Seg s = host_syn(false, 5000, 1, 2);
    s.flags = flags;
    s.ack = 9;
    Layout l;
    const Bytes in = make(s, kRouterMac, kHostMac, &l);
    EXPECT_EQ(run_tc(stamp().egress_fd(), in), in) << int(flags);
  }
  Seg no_ts = host_syn(false, 5001, 1, 2);
  no_ts.timestamp = false;
  Layout l;
  const Bytes in = make(no_ts, kRouterMac, kHostMac, &l);
  EXPECT_EQ(run_tc(stamp().egress_fd(), in), in);
  EXPECT_GE(stamp().counters()[SW_SC_SYN_NO_TIMESTAMP], 1u);
}

TEST_F(OutboundStamp, StampedSynAckIsVerifiedForwardedOutsideTheBudgetAndRestored) {
  for (bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
    SetUp();
    protect(v6 ? kHostV6 : kHostV4, true);
    give_firewall_the_key(v6);
    dataplane::Settings s;
    s.firewall_mac = kFirewallMac;
    s.synack_rate_pps = 1;  // a budget the flood below has long used up
    s.synack_burst = 1;
    ASSERT_TRUE(fp().settings().write(s).ok());

    const Seg syn = host_syn(v6, 41000, 0x12345678, 0x00abcdef);
    Layout sl;
    const Bytes wire_syn = run_tc(stamp().egress_fd(), make(syn, kRouterMac, kHostMac, &sl));
    const uint32_t stamped = rd32(wire_syn, sl.l4 + 28);
    ASSERT_NE(stamped, syn.tsval) << "this TSval's low bits are not already the MAC";

    // Unstamped SYN-ACKs first: they use up the budget.
    for (int i = 0; i < 3; ++i) run_raw(fp().program_fd(), make(synack_for(host_syn(v6, static_cast<uint16_t>(42000 + i), 5, 6), 99), kFirewallMac, kRouterMac, &sl));

    Layout al;
    const Seg synack = synack_for(syn, stamped);
    const RunResult r = run(make(synack, kFirewallMac, kRouterMac, &al));
    EXPECT_EQ(verdict_name(r.verdict), "XDP_TX");
    EXPECT_EQ(r.counters[SW_R_FWD_SYNACK_VERIFIED].packets, 1u);
    const dataplane::FlowKey key = client_flow(v6, 0, 0, 443);
    dataplane::FlowKey k = key;
    k.local_port = syn.sport;
    auto in_stamped = fp().outbound().lookup(k);
    ASSERT_TRUE(in_stamped.ok());
    EXPECT_TRUE(in_stamped->has_value()) << "learnt in the stamped outbound table";

    // The same SYN-ACK with a TSecr one off, or an ACK number that is not ISN + 1: unverified.
    for (Seg bad : {synack_for(syn, stamped ^ 1), synack_for(syn, stamped)}) {
      if (bad.tsecr == stamped) bad.ack += 1;
      // Same 4-tuple as the verified one: forget what was learnt so the tables do not answer.
      ASSERT_TRUE(fp().outbound().clear().ok());
      ASSERT_TRUE(fp().outbound_unverified().clear().ok());
      const RunResult rb = run(make(bad, kFirewallMac, kRouterMac, &al));
      EXPECT_EQ(rb.counters[SW_R_FWD_SYNACK_VERIFIED].packets, 0u) << "reason " << rb.last.reason;
      EXPECT_EQ(rb.counters[SW_R_DROP_SYNACK_RATE].packets + rb.counters[SW_R_FWD_SYNACK].packets, 1u);
    }

    // Host side: the SYN-ACK's TSecr becomes the SYN's real TSval, checksum still right.
    const Bytes at_host = run_tc(stamp().ingress_fd(), make(synack, kHostMac, kFirewallMac, &al));
    EXPECT_EQ(rd32(at_host, al.l4 + 32), syn.tsval);
    EXPECT_TRUE(checksum_ok(at_host, al, v6));
    // A SYN-ACK with another ACK number is left for the kernel to judge.
    Seg other = synack;
    other.ack += 7;
    const Bytes untouched = make(other, kHostMac, kFirewallMac, &al);
    EXPECT_EQ(run_tc(stamp().ingress_fd(), untouched), untouched);
  }
}

TEST_F(OutboundStamp, RetransmittedSynRestoresTheFirstSynsTimestamp) {
  const Seg first = host_syn(false, 43000, 1000, 50'000);
  Seg again = first;
  again.tsval = 51'000;  // the retransmission a second later
  Layout l;
  run_tc(stamp().egress_fd(), make(first, kRouterMac, kHostMac, &l));
  const Bytes wire2 = run_tc(stamp().egress_fd(), make(again, kRouterMac, kHostMac, &l));
  const uint32_t stamped2 = rd32(wire2, l.l4 + 28);
  const Bytes at_host =
      run_tc(stamp().ingress_fd(), make(synack_for(again, stamped2), kHostMac, kFirewallMac, &l));
  EXPECT_EQ(rd32(at_host, l.l4 + 32), first.tsval)
      << "the kernel accepts TSecr from its first SYN's timestamp on";
}

}  // namespace
}  // namespace synwarden::test
