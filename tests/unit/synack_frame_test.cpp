// SYN -> SYN-ACK in place: the frame build_synack_in_place() makes from a SYN must be the one
// the host's kernel would send (docs/kernel-cookies.md "What the SYN-ACK must carry"). Each built
// frame is parsed back and every field checked, checksums are recomputed by a naive
// implementation, and the frames are written to a pcap that scapy dissects and re-checksums on
// its own (that test fails, not skips, when /usr/bin/python3 cannot import scapy).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "data/codec_test_support.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"
#include "synwarden/packet_bytes.h"

namespace synwarden {
namespace {

using Frame = std::vector<uint8_t>;
using codec_test::be16_at;
using codec_test::be32_at;

const MacAddress kClientMac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
const MacAddress kRouterMac = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
const MacAddress kFirewallMac = {0x02, 0xf1, 0x4e, 0x00, 0x00, 0x01};

// Which options the client's SYN carries.
enum class SynOpts { kNone, kMssOnly, kLinux, kTsNoSack, kSackNoTs, kWsOnly };

struct Shape {
  bool ipv6 = false;
  size_t vlan_tags = 0;
  bool ip_options = false;
  SynOpts opts = SynOpts::kLinux;
  bool ecn = false;
  bool syn_payload = false;  // a SYN with data (Fast Open style): the SYN-ACK carries none

  std::string name() const {
    static const char* const kOpt[] = {"none", "mss", "linux", "ts_nosack", "sack_nots", "ws"};
    return std::string(ipv6 ? "v6" : "v4") + "_vlan" + std::to_string(vlan_tags) +
           (ip_options ? "_ipopt" : "") + "_" + kOpt[static_cast<int>(opts)] +
           (ecn ? "_ecn" : "") + (syn_payload ? "_data" : "");
  }
};

Frame make_syn(const Shape& s) {
  FrameBuilder b;
  b.macs(kClientMac, kRouterMac);
  if (s.vlan_tags >= 1) b.vlan(ethertype::kQinQ, 0x3123);
  if (s.vlan_tags >= 2) b.vlan(ethertype::kVlan, 0x0456);
  if (s.ipv6) {
    b.ipv6("2001:db8:c::17", "2001:db8:5::443").flow_label(0x12345);
  } else {
    b.ipv4("203.0.113.17", "192.0.2.44").ip_id(0x4242);
  }
  if (s.ip_options) b.ipv4_options({7, 7, 4, 0, 0, 0, 0});  // record route
  b.tos(0xB9).ttl(55).ports(51515, 443).seq(0x89ABCDEF).window(65535);
  b.flags(s.ecn ? tcpflag::kSyn | tcpflag::kEce | tcpflag::kCwr : tcpflag::kSyn);
  switch (s.opts) {
    case SynOpts::kNone: break;
    case SynOpts::kMssOnly: b.mss(1400); break;
    case SynOpts::kLinux: b.linux_syn_options(1460, 0x01020304, 8); break;
    case SynOpts::kTsNoSack: b.mss(1460).nop().nop().timestamp(0x01020304, 0); break;
    case SynOpts::kSackNoTs: b.mss(1460).nop().nop().sack_permitted(); break;
    case SynOpts::kWsOnly: b.nop().wscale(3); break;
  }
  if (s.syn_payload) b.payload({'G', 'E', 'T', ' ', '/'});
  return b.build();
}

// A fixed plan of the kind the engine produces for this SYN (the engine is tested on its own).
SynAckPlan make_plan(const ParsedFrame& syn) {
  SynAckPlan plan;
  plan.seq = 0xC0FFEE01;
  plan.ack = syn.seq + 1;
  plan.window = 65160;
  plan.mss = syn.family == IpFamily::kIpv6 ? 1440 : 1460;
  plan.sack_permitted = syn.options.sack_permitted;
  plan.has_timestamp = syn.options.has_timestamp;
  plan.tsval = 0x5EED0027;
  plan.tsecr = syn.options.tsval;
  plan.has_wscale = syn.options.has_wscale;
  plan.wscale = 7;
  plan.ece = syn.options.ece_cwr && syn.options.has_timestamp;
  return plan;
}

// The option list of tcp_options_write(), spelled the way scapy names options.
std::vector<std::string> expected_scapy_options(const SynAckPlan& plan) {
  std::vector<std::string> v{"MSS=" + std::to_string(plan.mss)};
  const std::string ts =
      "Timestamp=" + std::to_string(plan.tsval) + "," + std::to_string(plan.tsecr);
  if (plan.has_timestamp && plan.sack_permitted) v.insert(v.end(), {"SAckOK", ts});
  if (plan.has_timestamp && !plan.sack_permitted) v.insert(v.end(), {"NOP", "NOP", ts});
  if (!plan.has_timestamp && plan.sack_permitted) v.insert(v.end(), {"NOP", "NOP", "SAckOK"});
  if (plan.has_wscale) v.insert(v.end(), {"NOP", "WScale=" + std::to_string(plan.wscale)});
  return v;
}

struct Built {
  Shape shape;
  ParsedFrame syn;
  SynAckPlan plan;
  SynAckFrameParams params;
  Frame synack;
};

SynAckFrameParams default_params() {
  SynAckFrameParams params;
  params.src_mac = kFirewallMac;
  params.flow_label_seed = 0x5EED;
  return params;
}

Built build(const Shape& s, const SynAckFrameParams& params = default_params()) {
  Built b{s, {}, {}, params, make_syn(s)};
  EXPECT_EQ(parse_frame(b.synack.data(), b.synack.size(), b.syn, ChecksumPolicy::kVerify),
            Verdict::kOk);
  b.plan = make_plan(b.syn);
  b.synack.resize(2048, 0xCC);  // an AF_XDP frame: room behind the SYN, garbage in it
  const size_t n = build_synack_in_place(b.synack.data(), b.synack.size(), b.syn, b.plan, params);
  EXPECT_NE(n, 0u) << s.name();
  b.synack.resize(n);
  return b;
}

std::vector<Shape> all_shapes() {
  std::vector<Shape> v;
  for (bool ipv6 : {false, true}) {
    for (size_t tags : {0u, 1u, 2u}) {
      for (SynOpts o : {SynOpts::kNone, SynOpts::kMssOnly, SynOpts::kLinux, SynOpts::kTsNoSack,
                        SynOpts::kSackNoTs, SynOpts::kWsOnly}) {
        v.push_back(Shape{ipv6, tags, false, o, false, false});
      }
    }
    v.push_back(Shape{ipv6, 0, false, SynOpts::kLinux, true, false});
    v.push_back(Shape{ipv6, 1, false, SynOpts::kLinux, true, true});
    v.push_back(Shape{ipv6, 0, false, SynOpts::kSackNoTs, true, false});  // ECN without TS
  }
  v.push_back(Shape{false, 0, true, SynOpts::kLinux, false, false});
  v.push_back(Shape{false, 2, true, SynOpts::kMssOnly, false, true});
  return v;
}

class SynAckRoundTrip : public ::testing::TestWithParam<Shape> {};

TEST_P(SynAckRoundTrip, ParsesBackWithEveryFieldTheKernelWouldSend) {
  const Built b = build(GetParam());
  const Frame& f = b.synack;
  const ParsedFrame& syn = b.syn;
  const SynAckPlan& plan = b.plan;

  ParsedFrame p;
  ASSERT_EQ(parse_frame(f.data(), f.size(), p, ChecksumPolicy::kVerify), Verdict::kOk)
      << verdict_name(p.verdict);

  // Ethernet: back to the client's MAC, from the configured MAC, tags untouched.
  EXPECT_TRUE(std::equal(kClientMac.begin(), kClientMac.end(), f.begin()));
  EXPECT_TRUE(std::equal(kFirewallMac.begin(), kFirewallMac.end(), f.begin() + 6));
  ASSERT_EQ(p.vlan_count, syn.vlan_count);
  for (size_t i = 0; i < syn.vlan_count; ++i) {
    EXPECT_EQ(p.vlans[i].tpid, syn.vlans[i].tpid);
    EXPECT_EQ(p.vlans[i].tci, syn.vlans[i].tci);
  }
  EXPECT_EQ(p.l3_offset, syn.l3_offset);

  // IP: addresses swapped; TTL 64; TOS 0 (listener default, the SYN's DSCP/ECN not copied).
  const size_t addr_len = syn.family == IpFamily::kIpv4 ? 4 : 16;
  EXPECT_EQ(std::memcmp(p.saddr, syn.daddr, addr_len), 0);
  EXPECT_EQ(std::memcmp(p.daddr, syn.saddr, addr_len), 0);
  EXPECT_EQ(p.ttl, 64);
  EXPECT_EQ(p.ip_dsfield, 0);
  const size_t ip = p.l3_offset;
  uint8_t want_opts[kMaxTcpOptionBytes];
  const size_t opt_len = write_synack_options(plan, want_opts);
  const size_t tcp_len = 20 + opt_len;
  if (syn.family == IpFamily::kIpv4) {
    EXPECT_EQ(f[ip], 0x45) << "IP options must be dropped";
    EXPECT_EQ(be16_at(f, ip + 2), 20 + tcp_len);
    EXPECT_EQ(be16_at(f, ip + 4), 0) << "IP ID 0 with DF, like ip_build_and_send_pkt()";
    EXPECT_EQ(be16_at(f, ip + 6), kIpv4FlagDf);
    EXPECT_EQ(f[ip + 9], ipproto::kTcp);
  } else {
    EXPECT_EQ(f[ip] >> 4, 6);
    EXPECT_EQ(be16_at(f, ip + 4), tcp_len);
    EXPECT_EQ(f[ip + 6], ipproto::kTcp);
    EXPECT_EQ(p.ipv6_flow_label, auto_flow_label(syn, b.params.flow_label_seed));
  }

  // TCP: ports swapped, numbers and window from the plan, SYN|ACK (+ECE), no payload.
  EXPECT_EQ(p.sport, syn.dport);
  EXPECT_EQ(p.dport, syn.sport);
  EXPECT_EQ(p.seq, plan.seq);
  EXPECT_EQ(p.ack, plan.ack);
  EXPECT_EQ(p.window, plan.window);
  EXPECT_EQ(p.tcp_flags, tcpflag::kSyn | tcpflag::kAck | (plan.ece ? tcpflag::kEce : 0));
  EXPECT_EQ(p.tcp_res1, 0);
  EXPECT_EQ(be16_at(f, p.l4_offset + 18), 0) << "urgent pointer";
  EXPECT_EQ(p.tcp_header_len, tcp_len);
  EXPECT_EQ(p.payload_len, 0);

  // Options: parsed back to the plan, byte-identical to write_synack_options().
  EXPECT_TRUE(p.options.has_mss);
  EXPECT_EQ(p.options.mss, plan.mss);
  EXPECT_EQ(p.options.sack_permitted, plan.sack_permitted);
  EXPECT_EQ(p.options.has_timestamp, plan.has_timestamp);
  if (plan.has_timestamp) {
    EXPECT_EQ(p.options.tsval, plan.tsval);
    EXPECT_EQ(p.options.tsecr, plan.tsecr);
  }
  EXPECT_EQ(p.options.has_wscale, plan.has_wscale);
  if (plan.has_wscale) {
    EXPECT_EQ(p.options.wscale, plan.wscale);
  }
  EXPECT_EQ(0, std::memcmp(f.data() + p.l4_offset + 20, want_opts, opt_len));

  // Length: headers only, padded with zeros to the 60-byte Ethernet minimum.
  const size_t datagram_end = ip + (syn.family == IpFamily::kIpv4 ? 20 : 40) + tcp_len;
  EXPECT_EQ(f.size(), std::max<size_t>(datagram_end, kEthMinFrameLen));
  for (size_t i = datagram_end; i < f.size(); ++i) EXPECT_EQ(f[i], 0) << "padding byte " << i;

  // Checksums by the naive implementation.
  const uint8_t* tcp = f.data() + p.l4_offset;
  if (syn.family == IpFamily::kIpv4) {
    std::vector<uint8_t> iph = codec_test::slice(f.data() + ip, 20);
    EXPECT_EQ(codec_test::naive_fold(iph), 0xFFFF) << "IPv4 header checksum";
  }
  std::vector<uint8_t> input =
      codec_test::tcp_checksum_input(p.saddr, p.daddr, addr_len, tcp, tcp_len);
  EXPECT_EQ(codec_test::naive_checksum(input), be16_at(f, p.l4_offset + 16)) << "TCP checksum";
}

INSTANTIATE_TEST_SUITE_P(Shapes, SynAckRoundTrip, ::testing::ValuesIn(all_shapes()),
                         [](const ::testing::TestParamInfo<Shape>& param_info) {
                           return param_info.param.name();
                         });

// ---------------------------------------------------------------------------------------------
// IP-level policies of tcp_v4_send_synack() / tcp_v6_send_synack().

TEST(SynAckIpFields, ListenerTosIsUsedAndTheSynsIsIgnoredByDefault) {
  SynAckFrameParams params = default_params();
  params.tos = 0x10;
  for (bool ipv6 : {false, true}) {
    const Built b = build(Shape{ipv6}, params);  // the SYN carries 0xB9: DSCP 0x2E, ECT(1)
    ParsedFrame p;
    ASSERT_EQ(parse_frame(b.synack.data(), b.synack.size(), p), Verdict::kOk);
    EXPECT_EQ(p.ip_dsfield, 0x10);
  }
}

TEST(SynAckIpFields, ReflectTosTakesTheSynsDscpAndTheListenersEcnBits) {
  SynAckFrameParams params = default_params();
  params.reflect_tos = true;
  params.tos = 0x02;  // listener ECN bits ECT(0); its DSCP must not survive
  for (bool ipv6 : {false, true}) {
    const Built b = build(Shape{ipv6}, params);
    ParsedFrame p;
    ASSERT_EQ(parse_frame(b.synack.data(), b.synack.size(), p), Verdict::kOk);
    EXPECT_EQ(p.ip_dsfield, (0xB9 & ~kEcnMask) | 0x02);
  }
}

TEST(SynAckIpFields, TtlAndHopLimitFollowTheHostSetting) {
  SynAckFrameParams params = default_params();
  params.ttl = 128;
  for (bool ipv6 : {false, true}) {
    const Built b = build(Shape{ipv6}, params);
    ParsedFrame p;
    ASSERT_EQ(parse_frame(b.synack.data(), b.synack.size(), p), Verdict::kOk);
    EXPECT_EQ(p.ttl, 128);
  }
}

TEST(SynAckIpFields, FlowLabelPolicies) {
  SynAckFrameParams params = default_params();
  params.flow_label = FlowLabelPolicy::kReflect;
  ParsedFrame p;
  Built b = build(Shape{true}, params);
  ASSERT_EQ(parse_frame(b.synack.data(), b.synack.size(), p), Verdict::kOk);
  EXPECT_EQ(p.ipv6_flow_label, 0x12345u);

  params.flow_label = FlowLabelPolicy::kZero;
  b = build(Shape{true}, params);
  ASSERT_EQ(parse_frame(b.synack.data(), b.synack.size(), p), Verdict::kOk);
  EXPECT_EQ(p.ipv6_flow_label, 0u);
}

TEST(SynAckIpFields, AutoFlowLabelIsStablePerFlowAndDiffersAcrossFlowsAndSeeds) {
  ParsedFrame syn;
  Frame f = make_syn(Shape{true});
  ASSERT_EQ(parse_frame(f.data(), f.size(), syn), Verdict::kOk);
  const uint32_t label = auto_flow_label(syn, 1);
  EXPECT_EQ(label, auto_flow_label(syn, 1));
  EXPECT_LE(label, kIpv6FlowLabelMask);
  EXPECT_NE(label, auto_flow_label(syn, 2));
  ParsedFrame other = syn;
  other.sport = static_cast<uint16_t>(other.sport + 1);
  EXPECT_NE(label, auto_flow_label(other, 1));
  other = syn;
  other.saddr[15] ^= 1;
  EXPECT_NE(label, auto_flow_label(other, 1));
}

// ---------------------------------------------------------------------------------------------
// Refusals.

TEST(SynAckBuild, RefusesAFrameThatDidNotParse) {
  Frame f = make_syn(Shape{});
  ParsedFrame syn;
  ASSERT_EQ(parse_frame(f.data(), f.size(), syn), Verdict::kOk);
  syn.verdict = Verdict::kBadTcpOption;
  const Frame before = f;
  EXPECT_EQ(build_synack_in_place(f.data(), f.size(), syn, make_plan(syn), default_params()), 0u);
  EXPECT_EQ(f, before);
}

TEST(SynAckBuild, NeedsRoomForOptionsTheSynDidNotHaveAndLeavesTheFrameAloneWithout) {
  // A bare SYN is 54 bytes; the SYN-ACK with MSS, NOP NOP TS, NOP WS is 14+20+20+20 = 74.
  Frame f = make_syn(Shape{false, 0, false, SynOpts::kNone});
  ASSERT_EQ(f.size(), 54u);
  ParsedFrame syn;
  ASSERT_EQ(parse_frame(f.data(), f.size(), syn), Verdict::kOk);
  SynAckPlan plan = make_plan(syn);
  plan.has_timestamp = true;
  plan.has_wscale = true;
  f.resize(73, 0xCC);
  const Frame before = f;
  EXPECT_EQ(build_synack_in_place(f.data(), f.size(), syn, plan, default_params()), 0u);
  EXPECT_EQ(f, before);
  f.resize(74, 0xCC);
  EXPECT_EQ(build_synack_in_place(f.data(), f.size(), syn, plan, default_params()), 74u);
}

TEST(SynAckBuild, PaddingCanBeLeftToTheNic) {
  SynAckFrameParams params = default_params();
  params.pad_to_min_frame = false;
  const Built b = build(Shape{false, 0, false, SynOpts::kMssOnly}, params);
  EXPECT_EQ(b.synack.size(), 14u + 20 + 24);
}

// ---------------------------------------------------------------------------------------------
// Independent verification by scapy.

void write_pcap(const std::string& path, const std::vector<Frame>& frames) {
  std::ofstream out(path, std::ios::binary);
  ASSERT_TRUE(out) << "cannot create " << path;
  auto put32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto put16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  put32(0xA1B2C3D4);  // classic pcap, microseconds, native byte order
  put16(2);
  put16(4);
  put32(0);
  put32(0);
  put32(65535);
  put32(1);  // LINKTYPE_ETHERNET
  uint32_t t = 0;
  for (const Frame& f : frames) {
    put32(1700000000);
    put32(t++);
    put32(static_cast<uint32_t>(f.size()));
    put32(static_cast<uint32_t>(f.size()));
    out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
  }
  ASSERT_TRUE(out.good()) << "short write to " << path;
}

// Debian's interpreter: python3-scapy installs there. A python3 earlier on PATH (pyenv, venv)
// usually lacks scapy, so PATH is not consulted; SYNWARDEN_PYTHON overrides.
std::string python_interpreter() {
  const char* env = std::getenv("SYNWARDEN_PYTHON");
  return env != nullptr ? env : "/usr/bin/python3";
}

std::string run_and_capture(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return output;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  status = pclose(pipe);
  return output;
}

std::string mac_text(const MacAddress& m) {
  char s[18];
  std::snprintf(s, sizeof s, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return s;
}

std::string addr_text(const uint8_t* addr, bool ipv6) {
  char s[INET6_ADDRSTRLEN];
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, addr, s, sizeof s);
  return s;
}

TEST(SynAckScapy, ScapyDissectsEveryBuiltFrameAsTheKernelsSynAckWithValidChecksums) {
  std::vector<Built> built;
  std::vector<Frame> frames;
  for (const Shape& s : all_shapes()) {
    built.push_back(build(s));
    frames.push_back(built.back().synack);
  }
  const std::string pcap = ::testing::TempDir() + "codec_synack_" + std::to_string(getpid()) +
                           ".pcap";
  write_pcap(pcap, frames);
  const std::string script = std::string(SYNWARDEN_TEST_DATA) + "/codec_verify_synack.py";
  int status = 0;
  const std::string out =
      run_and_capture(python_interpreter() + " " + script + " " + pcap + " 2>&1", status);
  std::remove(pcap.c_str());
  ASSERT_EQ(status, 0) << "scapy verification could not run (" << python_interpreter() << " "
                       << script << "); install python3-scapy or set SYNWARDEN_PYTHON. Output:\n"
                       << out;
  const nlohmann::json result = nlohmann::json::parse(out);
  ASSERT_EQ(result.size(), built.size());

  for (size_t i = 0; i < built.size(); ++i) {
    const Built& b = built[i];
    const nlohmann::json& d = result[i];
    const bool ipv6 = b.syn.family == IpFamily::kIpv6;
    SCOPED_TRACE(b.shape.name());
    EXPECT_EQ(d["len"], b.synack.size());
    EXPECT_EQ(d["eth_dst"], mac_text(kClientMac));
    EXPECT_EQ(d["eth_src"], mac_text(kFirewallMac));
    ASSERT_EQ(d["vlans"].size(), b.syn.vlan_count);
    for (size_t t = 0; t < b.syn.vlan_count; ++t) {
      EXPECT_EQ(d["vlans"][t][1], b.syn.vlans[t].tci);
    }
    if (b.syn.vlan_count > 0) {
      EXPECT_EQ(d["vlans"][0][0], b.syn.vlans[0].tpid);
    }
    EXPECT_EQ(d["src"], addr_text(b.syn.daddr, ipv6));
    EXPECT_EQ(d["dst"], addr_text(b.syn.saddr, ipv6));
    if (ipv6) {
      EXPECT_EQ(d["family"], 6);
      EXPECT_EQ(d["tc"], 0);
      EXPECT_EQ(d["fl"], auto_flow_label(b.syn, b.params.flow_label_seed));
      EXPECT_EQ(d["nh"], 6);
      EXPECT_EQ(d["hlim"], 64);
    } else {
      EXPECT_EQ(d["family"], 4);
      EXPECT_EQ(d["ihl"], 5);
      EXPECT_EQ(d["ip_options"], 0);
      EXPECT_EQ(d["tos"], 0);
      EXPECT_EQ(d["ip_id"], 0);
      EXPECT_EQ(d["df"], true);
      EXPECT_EQ(d["mf"], false);
      EXPECT_EQ(d["frag"], 0);
      EXPECT_EQ(d["ttl"], 64);
      EXPECT_EQ(d["proto"], 6);
      EXPECT_EQ(d["ip_checksum_ok"], true);
    }
    EXPECT_EQ(d["sport"], from_be16(b.syn.dport));
    EXPECT_EQ(d["dport"], from_be16(b.syn.sport));
    EXPECT_EQ(d["seq"], b.plan.seq);
    EXPECT_EQ(d["ack"], b.plan.ack);
    EXPECT_EQ(d["flags"], b.plan.ece ? "SAE" : "SA");
    EXPECT_EQ(d["window"], b.plan.window);
    EXPECT_EQ(d["urgptr"], 0);
    EXPECT_EQ(d["payload_len"], 0);
    EXPECT_EQ(d["options"].get<std::vector<std::string>>(), expected_scapy_options(b.plan));
    EXPECT_EQ(d["tcp_checksum_ok"], true);
    for (const auto& byte : d["padding"]) EXPECT_EQ(byte, 0);
  }
}

}  // namespace
}  // namespace synwarden
