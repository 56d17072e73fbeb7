// oracle_compare (build machine side of the oracle test): replays every SYN that sw_vm_oracle
// sent to the Debian kernel in the VM through synwarden's engine, with the secrets the kernel
// module published, and demands the engine's SYN-ACK frame equal the kernel's byte for byte.
//
// The only inputs the engine does not get from the record are the instants: the kernel built
// its SYN-ACK at some time inside [t_send, t_recv] (guest CLOCK_MONOTONIC). The engine is asked
// for every millisecond of that bracket and for the cookie count of each jiffy within one tick
// of it (the module's clock sample is exact to a jiffy); a record matches if one of those
// readings yields the kernel's frame. Everything else -- cookie, TSval with ts_off, options,
// window, MSS, ECE, IP header, checksums -- must be identical. Two fields are excluded and
// why: the destination MAC (the guest sends to its NOARP device's own address) and the IPv6
// flow label (the kernel derives it from a random per-request hash; see FlowLabelPolicy).
//
// Usage: oracle_compare RECORD_FILE [--min-exchanges N] [--phase NAME | --except-phase NAME]
//   --phase / --except-phase: judge only that phase / every other phase, so a known corner can
//   be its own ctest with its own verdict.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "guest_net.h"
#include "oracle_record.h"
#include "synwarden/clock.h"
#include "synwarden/codec.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/secrets.h"
#include "synwarden/synack_planner.h"

namespace sw = synwarden;
namespace vt = synwarden::vmtest;

namespace {

constexpr size_t kFrameCap = 256;
constexpr uint64_t kMaxBracketMs = 200;  // a slower exchange is reported, not searched

struct PhaseStats {
  unsigned exchanges = 0;
  unsigned matched = 0;
  unsigned matched_late_candidate = 0;  // needed other than the bracket's first reading
  std::set<std::string> synack_shapes;  // distinct option sets the kernel produced
};

std::string shape_of(const sw::ParsedFrame& f) {
  std::string s;
  s += f.family == sw::IpFamily::kIpv6 ? "v6" : "v4";
  s += f.options.has_timestamp ? "+ts" : "";
  s += f.options.sack_permitted ? "+sack" : "";
  s += f.options.has_wscale ? "+ws" : "";
  s += (f.tcp_flags & sw::tcpflag::kEce) ? "+ece" : "";
  return s;
}

// Clears what the engine cannot and need not reproduce (see the file comment).
void normalise(std::vector<uint8_t>& frame, const sw::ParsedFrame& parsed) {
  std::fill(frame.begin(), frame.begin() + 6, uint8_t{0});
  if (parsed.family == sw::IpFamily::kIpv6) {
    uint8_t* ip = frame.data() + parsed.l3_offset;
    ip[1] &= 0xf0;
    ip[2] = ip[3] = 0;
  }
}

std::vector<uint8_t> engine_frame(const sw::HostSecrets& secrets, const sw::ClockReading& clock,
                                  const std::vector<uint8_t>& syn_bytes,
                                  const sw::ParsedFrame& syn, const sw::MacAddress& host_mac,
                                  sw::SynAckPlan& plan) {
  if (syn.family == sw::IpFamily::kIpv4) {
    const sw::Ipv4Flow flow{sw::load_raw32(syn.saddr), sw::load_raw32(syn.daddr), syn.sport,
                            syn.dport};
    plan = sw::plan_synack(secrets, clock, flow, syn.seq, syn.options);
  } else {
    sw::Ipv6Flow flow;
    std::memcpy(flow.client_addr.data(), syn.saddr, 16);
    std::memcpy(flow.host_addr.data(), syn.daddr, 16);
    flow.client_port = syn.sport;
    flow.host_port = syn.dport;
    plan = sw::plan_synack(secrets, clock, flow, syn.seq, syn.options);
  }
  std::vector<uint8_t> frame(kFrameCap, 0);
  std::copy(syn_bytes.begin(), syn_bytes.end(), frame.begin());
  sw::SynAckFrameParams params;
  params.src_mac = host_mac;
  params.flow_label = sw::FlowLabelPolicy::kZero;
  params.pad_to_min_frame = false;
  const size_t len = sw::build_synack_in_place(frame.data(), frame.size(), syn, plan, params);
  frame.resize(len);
  return frame;
}

std::string describe(const sw::ParsedFrame& f) {
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

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: oracle_compare RECORD_FILE [--min-exchanges N] [--phase NAME | "
                 "--except-phase NAME]\n";
    return 2;
  }
  size_t min_exchanges = 1000;
  std::string only_phase, except_phase;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--min-exchanges") {
      min_exchanges = std::stoul(argv[i + 1]);
    } else if (opt == "--phase") {
      only_phase = argv[i + 1];
    } else if (opt == "--except-phase") {
      except_phase = argv[i + 1];
    } else {
      std::cerr << "oracle_compare: unknown option " << opt << "\n";
      return 2;
    }
  }
  const auto judged = [&](const std::string& phase) {
    return (only_phase.empty() || phase == only_phase) && phase != except_phase;
  };
  try {
    std::ifstream in(argv[1]);
    if (!in) throw std::runtime_error(std::string("cannot open ") + argv[1]);
    const vt::RecordFile file = vt::read_records(in);

    std::vector<sw::HostSecrets> secrets;
    for (const auto& p : file.phases)
      secrets.push_back(sw::parse_secrets(p.secrets_json, "phase " + p.name));

    std::map<size_t, PhaseStats> stats;
    unsigned mismatches = 0;
    size_t judged_exchanges = 0;
    for (const auto& r : file.exchanges) {
      if (!judged(file.phases[r.phase].name)) continue;
      ++judged_exchanges;
      PhaseStats& st = stats[r.phase];
      ++st.exchanges;
      sw::ParsedFrame syn, kernel;
      if (sw::parse_frame(r.syn.data(), r.syn.size(), syn) != sw::Verdict::kOk ||
          sw::parse_frame(r.synack.data(), r.synack.size(), kernel,
                          sw::ChecksumPolicy::kVerify) != sw::Verdict::kOk) {
        std::cout << "line " << r.line << ": SYN or kernel SYN-ACK does not parse cleanly\n";
        ++mismatches;
        continue;
      }
      st.synack_shapes.insert(shape_of(kernel));
      sw::MacAddress host_mac{};
      std::memcpy(host_mac.data(), r.synack.data() + 6, 6);
      std::vector<uint8_t> want = r.synack;
      normalise(want, kernel);

      const sw::HostSecrets& s = secrets[r.phase];
      const sw::HostClock clock(s.clock, s.clock.mono_ms, sw::kExactClock);
      const uint64_t first_ms = r.t_send_ns / 1000000;
      const uint64_t last_ms = std::min(r.t_recv_ns / 1000000, first_ms + kMaxBracketMs);
      // Cookie counts of every jiffy from one tick before the bracket to one tick after.
      std::set<uint32_t> counts;
      for (uint64_t j = clock.jiffies_at(first_ms) - 1; j <= clock.jiffies_at(last_ms) + 1; ++j)
        counts.insert(sw::tcp_cookie_time(j, s.clock.hz));

      bool matched = false, first_candidate = true;
      sw::SynAckPlan plan;
      std::vector<uint8_t> got;
      for (uint64_t ms = first_ms; ms <= last_ms && !matched; ++ms) {
        const uint32_t nominal = clock.at(ms).cookie_count;
        std::vector<uint32_t> order{nominal};
        for (uint32_t c : counts)
          if (c != nominal) order.push_back(c);
        for (uint32_t count : order) {
          got = engine_frame(s, sw::ClockReading{count, ms}, r.syn, syn, host_mac, plan);
          if (!got.empty()) normalise(got, kernel);
          if (got == want) {
            matched = true;
            break;
          }
          first_candidate = false;
        }
      }
      if (matched) {
        ++st.matched;
        if (!first_candidate) ++st.matched_late_candidate;
        continue;
      }
      ++mismatches;
      if (mismatches <= 10) {
        sw::ParsedFrame ours;
        const bool ours_ok = !got.empty() && sw::parse_frame(got.data(), got.size(), ours) ==
                                                 sw::Verdict::kOk;
        std::cout << "MISMATCH line " << r.line << " phase " << file.phases[r.phase].name
                  << "\n  SYN     " << describe(syn) << " ece_cwr=" << syn.options.ece_cwr
                  << "\n  kernel  " << describe(kernel) << "\n  engine  "
                  << (ours_ok ? describe(ours) : std::string("(no frame)"))
                  << "\n  kernel  " << vt::to_hex(want.data(), want.size()) << "\n  engine  "
                  << vt::to_hex(got.data(), got.size()) << "\n";
      }
    }

    if (!only_phase.empty() && judged_exchanges == 0)
      std::cout << "oracle: FAILED: the record file has no phase '" << only_phase << "'\n";
    const bool ok = mismatches == 0 && file.missing.empty() && file.complete &&
                    judged_exchanges >= min_exchanges && judged_exchanges > 0;
    for (const auto& [phase, st] : stats) {
      std::cout << "phase " << file.phases[phase].name << ": " << st.matched << "/"
                << st.exchanges << " SYN-ACKs identical to the kernel's ("
                << st.matched_late_candidate << " needed a later clock reading in the bracket); "
                << st.synack_shapes.size() << " SYN-ACK option shapes:";
      for (const auto& shape : st.synack_shapes) std::cout << ' ' << shape;
      std::cout << "\n";
    }
    std::cout << "oracle: " << judged_exchanges << " exchanges judged (of "
              << file.exchanges.size() << "), " << mismatches
              << " mismatches, " << file.missing.size() << " unanswered SYNs, seed " << file.seed
              << (file.complete ? "" : ", record file INCOMPLETE") << "\n";
    if (judged_exchanges < min_exchanges)
      std::cout << "oracle: FAILED: fewer than " << min_exchanges << " exchanges recorded\n";
    std::cout << (ok ? "oracle: PASS" : "oracle: FAIL") << "\n";
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "oracle_compare: FAILED: " << e.what() << "\n";
    return 1;
  }
}
