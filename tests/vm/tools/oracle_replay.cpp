#include "oracle_replay.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include "guest_net.h"
#include "synwarden/clock.h"
#include "synwarden/codec.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/synack_planner.h"

namespace synwarden::vmtest {
namespace {

constexpr size_t kFrameCap = 256;
constexpr uint64_t kMaxBracketMs = 200;  // a slower exchange is reported, not searched

std::string shape_of(const ParsedFrame& f) {
  std::string s;
  s += f.family == IpFamily::kIpv6 ? "v6" : "v4";
  s += f.options.has_timestamp ? "+ts" : "";
  s += f.options.sack_permitted ? "+sack" : "";
  s += f.options.has_wscale ? "+ws" : "";
  s += (f.tcp_flags & tcpflag::kEce) ? "+ece" : "";
  return s;
}

// Clears what the engine cannot and need not reproduce (see the header).
void normalise(std::vector<uint8_t>& frame, const ParsedFrame& parsed) {
  std::fill(frame.begin(), frame.begin() + 6, uint8_t{0});
  if (parsed.family == IpFamily::kIpv6) {
    uint8_t* ip = frame.data() + parsed.l3_offset;
    ip[1] &= 0xf0;
    ip[2] = ip[3] = 0;
  }
}

std::vector<uint8_t> engine_frame(const HostSecrets& secrets, const ClockReading& clock,
                                  const std::vector<uint8_t>& syn_bytes, const ParsedFrame& syn,
                                  const MacAddress& host_mac) {
  const SynAckPlan plan = plan_for_syn(secrets, clock, syn);
  std::vector<uint8_t> frame(kFrameCap, 0);
  std::copy(syn_bytes.begin(), syn_bytes.end(), frame.begin());
  SynAckFrameParams params;
  params.src_mac = host_mac;
  params.flow_label = FlowLabelPolicy::kZero;
  params.pad_to_min_frame = false;
  const size_t len = build_synack_in_place(frame.data(), frame.size(), syn, plan, params);
  frame.resize(len);
  return frame;
}

std::string describe(const ParsedFrame& f) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "seq=%u ack=%u win=%u flags=0x%02x mss=%s ws=%s sack=%d ts=%s tsval=%u "
                "tsecr=%u ttl=%u tos=0x%02x",
                f.seq, f.ack, f.window, f.tcp_flags,
                f.options.has_mss ? std::to_string(f.options.mss).c_str() : "-",
                f.options.has_wscale ? std::to_string(f.options.wscale).c_str() : "-",
                f.options.sack_permitted ? 1 : 0, f.options.has_timestamp ? "yes" : "no",
                f.options.tsval, f.options.tsecr, f.ttl, f.ip_dsfield);
  return buf;
}

}  // namespace

SynAckPlan plan_for_syn(const HostSecrets& secrets, const ClockReading& clock,
                        const ParsedFrame& syn) {
  if (syn.family == IpFamily::kIpv4) {
    const Ipv4Flow flow{load_raw32(syn.saddr), load_raw32(syn.daddr), syn.sport, syn.dport};
    return plan_synack(secrets, clock, flow, syn.seq, syn.options);
  }
  Ipv6Flow flow;
  std::memcpy(flow.client_addr.data(), syn.saddr, 16);
  std::memcpy(flow.host_addr.data(), syn.daddr, 16);
  flow.client_port = syn.sport;
  flow.host_port = syn.dport;
  return plan_synack(secrets, clock, flow, syn.seq, syn.options);
}

ReplayOutcome replay_exchange(const HostSecrets& s, const ExchangeRecord& r) {
  ReplayOutcome out;
  ParsedFrame syn, kernel;
  if (parse_frame(r.syn.data(), r.syn.size(), syn) != Verdict::kOk ||
      parse_frame(r.synack.data(), r.synack.size(), kernel, ChecksumPolicy::kVerify) !=
          Verdict::kOk) {
    out.report = "SYN or kernel SYN-ACK does not parse cleanly";
    return out;
  }
  out.shape = shape_of(kernel);
  MacAddress host_mac{};
  std::memcpy(host_mac.data(), r.synack.data() + 6, 6);
  std::vector<uint8_t> want = r.synack;
  normalise(want, kernel);

  const HostClock clock(s.clock, s.clock.mono_ms, kExactClock);
  const uint64_t first_ms = r.t_send_ns / 1000000;
  const uint64_t last_ms = std::min(r.t_recv_ns / 1000000, first_ms + kMaxBracketMs);
  // Cookie counts of every jiffy from one tick before the bracket to one tick after.
  std::set<uint32_t> counts;
  for (uint64_t j = clock.jiffies_at(first_ms) - 1; j <= clock.jiffies_at(last_ms) + 1; ++j)
    counts.insert(tcp_cookie_time(j, s.clock.hz));

  bool first_candidate = true;
  std::vector<uint8_t> got;
  for (uint64_t ms = first_ms; ms <= last_ms; ++ms) {
    const uint32_t nominal = clock.at(ms).cookie_count;
    std::vector<uint32_t> order{nominal};
    for (uint32_t c : counts)
      if (c != nominal) order.push_back(c);
    for (uint32_t count : order) {
      got = engine_frame(s, ClockReading{count, ms}, r.syn, syn, host_mac);
      if (!got.empty()) normalise(got, kernel);
      if (got == want) {
        out.matched = true;
        out.needed_later_candidate = !first_candidate;
        return out;
      }
      first_candidate = false;
    }
  }
  ParsedFrame ours;
  const bool ours_ok =
      !got.empty() && parse_frame(got.data(), got.size(), ours) == Verdict::kOk;
  out.report = "  SYN     " + describe(syn) + " ece_cwr=" + std::to_string(syn.options.ece_cwr) +
               "\n  kernel  " + describe(kernel) + "\n  engine  " +
               (ours_ok ? describe(ours) : std::string("(no frame)")) + "\n  kernel  " +
               to_hex(want.data(), want.size()) + "\n  engine  " + to_hex(got.data(), got.size());
  return out;
}

}  // namespace synwarden::vmtest
