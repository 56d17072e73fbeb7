// Fuzz target "frame": any byte string as a received Ethernet frame, through what a worker does
// with it -- parse_frame() (codec), the cookie SYN-ACK (plan_synack() + build_synack_in_place()),
// and the host's decision on the client's answering ACK (check_ack()).
//
// Properties checked on every input (a violation aborts, so libFuzzer keeps the input):
//  1. parse_frame() agrees with frame_reference.h, a plain second implementation of codec.h's
//     contract, on the verdict of every frame and on every parsed field of a kOk frame.
//  2. With checksum verification the verdict is the same, or a checksum verdict exactly when the
//     textbook RFC 1071 sum says the IPv4 header or TCP segment is corrupt.
//  3. For every kOk frame, under three host configurations: the SYN-ACK built in place fits
//     exactly when its computed length fits the buffer; parsed back (checksums verified) it is
//     kOk, addressed back to the sender (MACs, addresses, ports swapped; VLAN tags kept), and
//     carries exactly the plan's seq/ack/window/flags/options in Linux's option layout.
//  4. The client ACK completing that handshake is accepted by check_ack() with the options the
//     SYN-ACK promised, still in the next cookie minute, and refused two minutes later and one
//     minute earlier.
//  5. rewrite_macs() touches only the 12 MAC bytes and refuses frames shorter than Ethernet.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "frame_reference.h"
#include "fuzz_support.h"
#include "synwarden/codec.h"
#include "synwarden/cookie.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/synack_planner.h"

namespace synwarden::fuzz {
namespace {

struct HostCase {
  const char* name;
  HostSecrets secrets;
  ClockReading clock;
  SynAckFrameParams params;
};

HostSecrets make_secrets(uint64_t seed, TsOffsetMode mode, TcpSysctls sysctls, uint16_t mss,
                         uint16_t mss6, uint8_t rcv_wscale, uint32_t rcv_space) {
  HostSecrets s;
  s.syncookie = {SipKey{seed ^ 0x0706050403020100ULL, seed ^ 0x0F0E0D0C0B0A0908ULL},
                 SipKey{seed ^ 0x1716151413121110ULL, seed ^ 0x1F1E1D1C1B1A1918ULL}};
  s.syncookie6 = {SipKey{seed ^ 0x2726252423222120ULL, seed ^ 0x2F2E2D2C2B2A2928ULL},
                  SipKey{seed ^ 0x3736353433323130ULL, seed ^ 0x3F3E3D3C3B3A3938ULL}};
  s.ts_offset = mode;
  s.ts_key = SipKey{seed ^ 0x4746454443424140ULL, seed ^ 0x4F4E4D4C4B4A4948ULL};
  s.sysctls = sysctls;
  s.mss = mss;
  s.mss6 = mss6;
  s.rcv_wscale = rcv_wscale;
  s.rcv_space = rcv_space;
  return s;
}

// Three hosts that between them switch every sysctl and SYN-ACK parameter both ways, with clocks
// at awkward values: a 64-bit ms clock, one below 64 ms (cookie_init_timestamp()'s step back
// wraps), and a cookie count about to wrap.
const std::array<HostCase, 3>& host_cases() {
  static const std::array<HostCase, 3> cases = {{
      {"linux-default",
       make_secrets(0x5EED0001, TsOffsetMode::kPerConnection, TcpSysctls{1, 1, 1, 2}, 1460, 1440,
                    7, HostSecrets::kDefaultRcvSpace),
       ClockReading{0x00C0FFEE, 0x0000000123456789ULL},
       SynAckFrameParams{MacAddress{0x02, 0, 0, 0, 0, 0x01}, 0, false, 64, FlowLabelPolicy::kAuto,
                         0xA5A5A5A5, true}},
      {"old-kernel-no-options",
       make_secrets(0x5EED0002, TsOffsetMode::kPerHost, TcpSysctls{2, 0, 0, 0}, 536, 1220, 14,
                    1000),
       ClockReading{0x00000001, 5},
       SynAckFrameParams{MacAddress{0x02, 0, 0, 0, 0, 0x02}, 0xB9, true, 255,
                         FlowLabelPolicy::kReflect, 0, true}},
      {"timestamps-off",
       make_secrets(0x5EED0003, TsOffsetMode::kPerConnection, TcpSysctls{0, 1, 1, 1}, 65535, 88,
                    0, 0x7FFFFFFF),
       ClockReading{0xFFFFFFFF, 0xFFFFFFFFFFFFFFC0ULL},
       SynAckFrameParams{MacAddress{0x02, 0, 0, 0, 0, 0x03}, 0x02, false, 1,
                         FlowLabelPolicy::kZero, 0, false}},
  }};
  return cases;
}

void check_matches_reference(const uint8_t* data, size_t size, const ParsedFrame& p) {
  const RefFrame r = ref_parse(data, size);
  FUZZ_CHECK(p.verdict == r.verdict, "parse_frame says %s, the reference parser %s",
             verdict_name(p.verdict), verdict_name(r.verdict));
  if (p.verdict != Verdict::kOk) return;
  FUZZ_CHECK(p.vlan_count == r.vlan_count, "vlan_count %u vs %u", p.vlan_count, r.vlan_count);
  for (size_t i = 0; i < r.vlan_count; ++i) {
    FUZZ_CHECK(p.vlans[i].tpid == r.vlans[i].tpid && p.vlans[i].tci == r.vlans[i].tci,
               "VLAN tag %zu differs", i);
  }
  FUZZ_CHECK(p.family == (r.ipv6 ? IpFamily::kIpv6 : IpFamily::kIpv4), "family");
  FUZZ_CHECK(p.ethertype == (r.ipv6 ? ethertype::kIpv6 : ethertype::kIpv4), "ethertype %04x",
             p.ethertype);
  FUZZ_CHECK(p.l3_offset == r.l3 && p.ip_header_len == r.ip_header_len && p.l4_offset == r.l4,
             "offsets l3 %u/%zu iphl %u/%zu l4 %u/%zu", p.l3_offset, r.l3, p.ip_header_len,
             r.ip_header_len, p.l4_offset, r.l4);
  FUZZ_CHECK(p.ip_total_len == r.ip_header_len + r.segment_len, "ip_total_len %u", p.ip_total_len);
  FUZZ_CHECK(p.l3_offset + p.ip_total_len <= size, "IP datagram runs past the frame");
  const uint8_t* ip = data + r.l3;
  const size_t addr_len = r.ipv6 ? 16 : 4;
  const uint8_t* saddr = ip + (r.ipv6 ? 8 : 12);
  FUZZ_CHECK(std::memcmp(p.saddr, saddr, addr_len) == 0 &&
                 std::memcmp(p.daddr, saddr + addr_len, addr_len) == 0,
             "addresses differ from the header bytes");
  FUZZ_CHECK(p.ip_protocol == ipproto::kTcp, "protocol %u", p.ip_protocol);
  FUZZ_CHECK(p.ttl == ip[r.ipv6 ? 7 : 8], "ttl");
  if (r.ipv6) {
    FUZZ_CHECK(p.ip_dsfield == static_cast<uint8_t>(ref_be32(ip) >> 20) &&
                   p.ipv6_flow_label == (ref_be32(ip) & 0xFFFFF),
               "traffic class / flow label");
  } else {
    FUZZ_CHECK(p.ip_dsfield == ip[1] && p.ipv4_frag == ref_be16(ip + 6), "TOS / frag field");
  }
  const uint8_t* tcp = data + r.l4;
  FUZZ_CHECK(std::memcmp(&p.sport, tcp, 2) == 0 && std::memcmp(&p.dport, tcp + 2, 2) == 0,
             "ports are not the raw header bytes");
  FUZZ_CHECK(p.seq == ref_be32(tcp + 4) && p.ack == ref_be32(tcp + 8) &&
                 p.window == ref_be16(tcp + 14) && p.tcp_flags == tcp[13] &&
                 p.tcp_res1 == (tcp[12] & 0x0F),
             "TCP fixed header fields");
  FUZZ_CHECK(p.tcp_header_len == r.tcp_header_len &&
                 p.payload_offset == r.l4 + r.tcp_header_len &&
                 p.payload_len == r.segment_len - r.tcp_header_len,
             "TCP header %u / payload %u+%u", p.tcp_header_len, p.payload_offset, p.payload_len);
  const SynOptions& o = p.options;
  const SynOptions& e = r.options;
  FUZZ_CHECK(o.has_mss == e.has_mss && o.mss == e.mss, "MSS %d/%u vs %d/%u", o.has_mss, o.mss,
             e.has_mss, e.mss);
  FUZZ_CHECK(o.has_wscale == e.has_wscale && o.wscale == e.wscale, "window scale");
  FUZZ_CHECK(o.sack_permitted == e.sack_permitted, "SACK_PERM");
  FUZZ_CHECK(o.has_timestamp == e.has_timestamp && o.tsval == e.tsval && o.tsecr == e.tsecr,
             "timestamp");
  FUZZ_CHECK(o.ece_cwr == e.ece_cwr && o.ip_ecn == e.ip_ecn && o.tcp_res1 == e.tcp_res1,
             "ECN inputs: ECE+CWR %d/%d, IP ECN %u/%u, reserved bits %d/%d", o.ece_cwr,
             e.ece_cwr, o.ip_ecn, e.ip_ecn, o.tcp_res1, e.tcp_res1);
  FUZZ_CHECK(p.sack_blocks == r.sack_blocks && p.sack_offset == r.sack_offset, "SACK blocks");
}

void check_checksum_policy(const uint8_t* data, size_t size, const ParsedFrame& skip) {
  ParsedFrame v;
  const Verdict verified = parse_frame(data, size, v, ChecksumPolicy::kVerify);
  if (skip.verdict != Verdict::kOk) {
    // Verification may only turn a later structural verdict into a checksum one.
    FUZZ_CHECK(verified == skip.verdict || verified == Verdict::kBadIpv4Checksum ||
                   verified == Verdict::kBadTcpChecksum,
               "kVerify says %s where kSkip says %s", verdict_name(verified),
               verdict_name(skip.verdict));
    return;
  }
  const uint8_t* ip = data + skip.l3_offset;
  const uint8_t* tcp = data + skip.l4_offset;
  const size_t seg = skip.ip_total_len - skip.ip_header_len;
  Verdict expect = Verdict::kOk;
  if (skip.family == IpFamily::kIpv4) {
    if (!ref_csum_ok(0, ip, skip.ip_header_len)) {
      expect = Verdict::kBadIpv4Checksum;
    } else if (!ref_csum_ok(ref_pseudo_v4(ip + 12, ip + 16, seg), tcp, seg)) {
      expect = Verdict::kBadTcpChecksum;
    }
  } else if (!ref_csum_ok(ref_pseudo_v6(ip + 8, ip + 24, seg), tcp, seg)) {
    expect = Verdict::kBadTcpChecksum;
  }
  FUZZ_CHECK(verified == expect, "kVerify says %s, RFC 1071 says %s", verdict_name(verified),
             verdict_name(expect));
}

uint8_t expected_dsfield(const ParsedFrame& syn, const SynAckFrameParams& params) {
  if (!params.reflect_tos) return params.tos;
  return static_cast<uint8_t>((syn.ip_dsfield & ~kEcnMask) | (params.tos & kEcnMask));
}

// Builds the SYN-ACK for `syn` (a kOk parse of `frame`) into a buffer of `capacity` bytes and
// checks it (or that the builder refused, if it cannot fit).
void check_synack(const std::vector<uint8_t>& frame, const ParsedFrame& syn,
                  const HostCase& host, const SynAckPlan& plan, size_t capacity) {
  std::vector<uint8_t> buf(std::max(capacity, frame.size()));
  std::copy(frame.begin(), frame.end(), buf.begin());
  buf.resize(capacity);  // the builder may use exactly `capacity` bytes, not one more

  uint8_t opts[kMaxTcpOptionBytes];
  const size_t opt_len = write_synack_options(plan, opts);
  FUZZ_CHECK(opt_len % 4 == 0 && opt_len <= kMaxTcpOptionBytes, "option length %zu", opt_len);
  const bool v4 = syn.family == IpFamily::kIpv4;
  const size_t tcp_len = kTcpMinHeaderLen + opt_len;
  const size_t needed = syn.l3_offset + (v4 ? kIpv4MinHeaderLen : kIpv6HeaderLen) + tcp_len;
  const SynAckFrameParams& params = host.params;

  const size_t len = build_synack_in_place(buf.data(), capacity, syn, plan, params);
  if (needed > capacity) {
    FUZZ_CHECK(len == 0, "[%s] SYN-ACK of %zu bytes built into %zu", host.name, needed, capacity);
    return;
  }
  const size_t expect_len =
      params.pad_to_min_frame && needed < kEthMinFrameLen && capacity >= kEthMinFrameLen
          ? kEthMinFrameLen
          : needed;
  FUZZ_CHECK(len == expect_len, "[%s] built %zu bytes, expected %zu", host.name, len, expect_len);
  for (size_t i = needed; i < len; ++i) FUZZ_CHECK(buf[i] == 0, "padding byte %zu not zero", i);

  ParsedFrame a;
  const Verdict v = parse_frame(buf.data(), len, a, ChecksumPolicy::kVerify);
  FUZZ_CHECK(v == Verdict::kOk, "[%s] own SYN-ACK parses as %s", host.name, verdict_name(v));
  FUZZ_CHECK(std::memcmp(buf.data(), frame.data() + 6, 6) == 0 &&
                 std::memcmp(buf.data() + 6, params.src_mac.data(), 6) == 0,
             "SYN-ACK MACs are not (SYN source, firewall)");
  FUZZ_CHECK(a.vlan_count == syn.vlan_count && a.l3_offset == syn.l3_offset &&
                 a.ethertype == syn.ethertype,
             "VLAN stack / EtherType not kept");
  for (size_t i = 0; i < syn.vlan_count; ++i) {
    FUZZ_CHECK(a.vlans[i].tpid == syn.vlans[i].tpid && a.vlans[i].tci == syn.vlans[i].tci,
               "VLAN tag %zu changed", i);
  }
  const size_t addr_len = v4 ? 4 : 16;
  FUZZ_CHECK(std::memcmp(a.saddr, syn.daddr, addr_len) == 0 &&
                 std::memcmp(a.daddr, syn.saddr, addr_len) == 0,
             "addresses not swapped");
  FUZZ_CHECK(a.sport == syn.dport && a.dport == syn.sport, "ports not swapped");
  FUZZ_CHECK(a.ttl == params.ttl && a.ip_dsfield == expected_dsfield(syn, params),
             "TTL %u / dsfield %02x", a.ttl, a.ip_dsfield);
  FUZZ_CHECK(a.ip_total_len == (v4 ? kIpv4MinHeaderLen : kIpv6HeaderLen) + tcp_len,
             "IP length %u", a.ip_total_len);
  if (v4) {
    FUZZ_CHECK(a.ip_header_len == kIpv4MinHeaderLen && a.ipv4_frag == kIpv4FlagDf &&
                   ref_be16(buf.data() + a.l3_offset + 4) == 0,
               "IPv4 SYN-ACK must be IHL 5, DF, ID 0");
  } else {
    uint32_t label = 0;
    if (params.flow_label == FlowLabelPolicy::kAuto) label = auto_flow_label(syn, params.flow_label_seed);
    if (params.flow_label == FlowLabelPolicy::kReflect) label = syn.ipv6_flow_label;
    FUZZ_CHECK(a.ipv6_flow_label == label, "flow label %05x, expected %05x", a.ipv6_flow_label,
               label);
  }
  const uint8_t flags = static_cast<uint8_t>(tcpflag::kSyn | tcpflag::kAck |
                                             (plan.ece ? tcpflag::kEce : 0));
  FUZZ_CHECK(a.tcp_flags == flags && a.tcp_res1 == 0, "flags %02x, expected %02x", a.tcp_flags,
             flags);
  FUZZ_CHECK(a.seq == plan.seq && a.ack == plan.ack && a.window == plan.window,
             "seq/ack/window differ from the plan");
  FUZZ_CHECK(a.tcp_header_len == tcp_len && a.payload_len == 0, "TCP header %u, payload %u",
             a.tcp_header_len, a.payload_len);
  FUZZ_CHECK(std::memcmp(buf.data() + a.l4_offset + kTcpMinHeaderLen, opts, opt_len) == 0,
             "TCP options differ from write_synack_options()");
  FUZZ_CHECK(ref_be16(buf.data() + a.l4_offset + 18) == 0, "urgent pointer not zero");
  const SynOptions& o = a.options;
  FUZZ_CHECK(o.has_mss == (plan.mss != 0) && o.mss == plan.mss, "MSS option");
  FUZZ_CHECK(o.sack_permitted == plan.sack_permitted, "SACK_PERM option");
  FUZZ_CHECK(o.has_wscale == plan.has_wscale && o.wscale == plan.wscale, "WS option");
  FUZZ_CHECK(o.has_timestamp == plan.has_timestamp && o.tsval == plan.tsval &&
                 o.tsecr == plan.tsecr,
             "TS option");
}

template <typename Flow>
void check_handshake(const ParsedFrame& syn, const HostCase& host, const Flow& flow,
                     const SynAckPlan& plan) {
  const HostSecrets& s = host.secrets;
  const auto& table = syn.family == IpFamily::kIpv4 ? kMssTableV4 : kMssTableV6;
  // The client's third packet: seq = ISN + 1, ack = cookie + 1, TSecr = our TSval.
  AckSegment ack{syn.seq + 1, plan.seq + 1, plan.has_timestamp, syn.options.tsval + 1, plan.tsval};
  for (const uint32_t later : {0u, 1u}) {
    ClockReading clock = host.clock;
    clock.cookie_count += later;
    const AckVerdict v = check_ack(s, clock, flow, ack);
    if (plan.has_timestamp && plan.tsval == 0) {
      // The kernel only subtracts ts_off from a non-zero TSecr and then decodes option bits 0:
      // window scaling 0 on, SACK and ECN off (cookie_v4_check()). Accepted iff scaling is on.
      FUZZ_CHECK(v.status == (s.sysctls.tcp_window_scaling != 0 ? AckStatus::kAccepted
                                                                : AckStatus::kOptionDisabled),
                 "[%s] TSecr 0: %s", host.name, ack_status_name(v.status));
      continue;
    }
    FUZZ_CHECK(v.status == AckStatus::kAccepted, "[%s] our own cookie refused (+%u min): %s",
               host.name, later, ack_status_name(v.status));
    FUZZ_CHECK(v.mss_index == plan.mss_index && v.mss == table[plan.mss_index],
               "[%s] cookie MSS index %u, planned %u", host.name, v.mss_index, plan.mss_index);
    FUZZ_CHECK(v.tstamp_ok == plan.has_timestamp && v.sack_ok == plan.sack_permitted &&
                   v.wscale_ok == plan.has_wscale && v.ecn_ok == plan.ece,
               "[%s] ACK decodes ts %d sack %d ws %d ecn %d, SYN-ACK promised %d %d %d %d",
               host.name, v.tstamp_ok, v.sack_ok, v.wscale_ok, v.ecn_ok, plan.has_timestamp,
               plan.sack_permitted, plan.has_wscale, plan.ece);
    if (v.wscale_ok) {
      FUZZ_CHECK(v.snd_wscale == std::min(syn.options.wscale, kMaxWscale),
                 "[%s] client window scale %u decoded as %u", host.name, syn.options.wscale,
                 v.snd_wscale);
    }
  }
  for (const uint32_t off : {2u, 0xFFFFFFFFu}) {  // two minutes later, one minute earlier
    ClockReading clock = host.clock;
    clock.cookie_count += off;
    const AckVerdict v = check_ack(s, clock, flow, ack);
    FUZZ_CHECK(v.status == AckStatus::kCookieOutOfWindow, "[%s] cookie at count%+d: %s",
               host.name, static_cast<int>(off), ack_status_name(v.status));
  }
}

template <typename Flow>
void check_frame_for_host(const std::vector<uint8_t>& frame, const ParsedFrame& p,
                          const HostCase& host, const Flow& flow) {
  const auto& table = p.family == IpFamily::kIpv4 ? kMssTableV4 : kMssTableV6;
  if (!p.is_syn()) {
    // An ACK (or anything else) judged as the returning ACK: the decision is arbitrary, but an
    // accepted cookie must name a table entry.
    const AckSegment ack{p.seq, p.ack, p.options.has_timestamp, p.options.tsval, p.options.tsecr};
    const AckVerdict v = check_ack(host.secrets, host.clock, flow, ack);
    if (v.valid()) FUZZ_CHECK(v.mss_index < 4 && v.mss == table[v.mss_index], "accepted MSS");
  }
  // The builder must cope with any kOk frame; the engine only hands it SYNs.
  const SynAckPlan plan = plan_synack(host.secrets, host.clock, flow, p.seq, p.options);
  check_synack(frame, p, host, plan, frame.size());  // in place, in the SYN's own buffer
  check_synack(frame, p, host, plan, 2048);           // an AF_XDP UMEM chunk
  check_handshake(p, host, flow, plan);
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden;
  using namespace synwarden::fuzz;
  ParsedFrame p;
  const Verdict v = parse_frame(data, size, p);
  FUZZ_CHECK(v == p.verdict, "returned verdict differs from out.verdict");
  check_matches_reference(data, size, p);
  check_checksum_policy(data, size, p);

  {
    std::vector<uint8_t> copy(data, data + size);
    const MacAddress dst{1, 2, 3, 4, 5, 6}, src{7, 8, 9, 10, 11, 12};
    const bool ok = rewrite_macs(copy.data(), copy.size(), dst, src);
    FUZZ_CHECK(ok == (size >= kEthHeaderLen), "rewrite_macs on %zu bytes returned %d", size, ok);
    if (ok) {
      FUZZ_CHECK(std::memcmp(copy.data(), dst.data(), 6) == 0 &&
                     std::memcmp(copy.data() + 6, src.data(), 6) == 0 &&
                     std::memcmp(copy.data() + 12, data + 12, size - 12) == 0,
                 "rewrite_macs changed more than the MACs");
    }
  }

  if (v != Verdict::kOk) return 0;
  const std::vector<uint8_t> frame(data, data + size);
  for (const HostCase& host : host_cases()) {
    if (p.family == IpFamily::kIpv4) {
      const Ipv4Flow flow{load_raw32(p.saddr), load_raw32(p.daddr), p.sport, p.dport};
      check_frame_for_host(frame, p, host, flow);
    } else {
      Ipv6Flow flow;
      std::memcpy(flow.client_addr.data(), p.saddr, 16);
      std::memcpy(flow.host_addr.data(), p.daddr, 16);
      flow.client_port = p.sport;
      flow.host_port = p.dport;
      check_frame_for_host(frame, p, host, flow);
    }
  }
  return 0;
}
