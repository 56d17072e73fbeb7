// Fuzz target: a worker's per-frame decision (userspace/daemon PacketHandler) on arbitrary frames
// under an arbitrary snapshot state (fuzz_cases.h HandlerCase: protection, keys or not, fail
// policy, previous keys, port filter, SYN shedding, SYN-ACK rate limit, clock, buffer headroom).
// Snapshot hosts: 192.0.2.10 and 2001:db8::10. Properties, for every handled frame:
//  1. Exactly one outcome counter moves (the frame's reason), at most one input counter
//     (syn_received / ack_received), and the action agrees with the outcome: transmit for a
//     SYN-ACK or a forward, drop for every drop reason. With per-host counters attached, the
//     host's counters move the same way (one outcome, for a frame that reached a host).
//  2. Nothing is written beyond the buffer's capacity (the buffer is a heap block of exactly
//     that size, so ASan reports any write past it) and only a SYN-ACK changes the length.
//  3. A forward rewrites the MACs only (destination = host, source = firewall), bytes 12.. stay.
//  4. A SYN-ACK fits the capacity, parses back kOk with verified checksums, is addressed back to
//     the SYN's sender, and the client's ACK completing that handshake, handled in the same
//     batch, is accepted (ack_valid), forwarded to the host and registers the flow whose key the
//     XDP program would compute for the SYN's direction.
//  5. A flow is registered exactly for a valid cookie ACK or an ACK forwarded under fail-open,
//     with flow_key_of() of that ACK.
#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "fuzz_cases.h"
#include "fuzz_support.h"
#include "packet_handler.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"
#include "synwarden/packet_bytes.h"

namespace synwarden::fuzz {
namespace {

using daemon::FrameAction;
using daemon::HostCounter;
using daemon::WorkerCounters;

const MacAddress kFirewallMac{0x02, 0x53, 0x57, 0, 0, 0x03};
const MacAddress kHostMac{0x02, 0x53, 0x57, 0, 0, 0x10};
constexpr uint64_t kSampleMs = 5'000'000;  // firewall CLOCK_MONOTONIC of the secrets' sample

HostSecrets secrets(uint64_t seed) {
  HostSecrets s;
  s.syncookie = {SipKey{seed ^ 0x0706050403020100ULL, seed ^ 0x0F0E0D0C0B0A0908ULL},
                 SipKey{seed ^ 0x1716151413121110ULL, seed ^ 0x1F1E1D1C1B1A1918ULL}};
  s.syncookie6 = {SipKey{seed ^ 0x2726252423222120ULL, seed ^ 0x2F2E2D2C2B2A2928ULL},
                  SipKey{seed ^ 0x3736353433323130ULL, seed ^ 0x3F3E3D3C3B3A3938ULL}};
  s.ts_key = SipKey{seed ^ 0x4746454443424140ULL, seed ^ 0x4F4E4D4C4B4A4948ULL};
  s.clock = HostClockSample{4'300'000'000ULL, 250, 9'000'000};
  return s;
}

const std::array<SynAckFrameParams, 3> kParams = {{
    {kFirewallMac, 0, false, 64, FlowLabelPolicy::kAuto, 0xA5A5A5A5, true},
    {kFirewallMac, 0xB9, true, 255, FlowLabelPolicy::kReflect, 0, true},
    {kFirewallMac, 0x02, false, 1, FlowLabelPolicy::kZero, 0, false},
}};

// Outcome counters: every frame that reaches handle() ends in exactly one of these.
#define SW_OUTCOMES(X)                                                                      \
  X(synack_built, true) X(syn_rate_limited, false) X(syn_build_failed, false)             \
  X(syn_shed_backlog, false) X(ack_valid, true) X(ack_bad_cookie, false)                   \
  X(ack_cookie_expired, false) X(ack_option_disabled, false)                               \
  X(forwarded_unprotected_port, true) X(forwarded_pass_mode, true)                         \
  X(forwarded_fail_open, true) X(dropped_fail_closed, false) X(dropped_rst_fin, false)     \
  X(dropped_bad_flags, false) X(dropped_unknown_host, false) X(dropped_unparsable, false)  \
  X(dropped_bad_checksum, false) X(forwarded_pending_flow, true)

struct Outcome {
  const char* name;
  std::atomic<uint64_t> WorkerCounters::*field;
  bool transmits;
};
constexpr Outcome kOutcomes[] = {
#define SW_OUTCOME_ENTRY(name, tx) {#name, &WorkerCounters::name, tx},
    SW_OUTCOMES(SW_OUTCOME_ENTRY)
#undef SW_OUTCOME_ENTRY
};
constexpr size_t kOutcomeCount = sizeof kOutcomes / sizeof kOutcomes[0];

using OutcomeValues = std::array<uint64_t, kOutcomeCount>;
OutcomeValues read_outcomes(const WorkerCounters& c) {
  OutcomeValues v{};
  for (size_t i = 0; i < kOutcomeCount; ++i) v[i] = (c.*kOutcomes[i].field).load();
  return v;
}

class RecordingFlows : public daemon::FlowSink {
 public:
  bool insert(const sw_flow_key& key) noexcept override {
    keys.push_back(key);
    return true;
  }
  std::vector<sw_flow_key> keys;
};

daemon::HostEntry make_host(const char* address, uint8_t bits, const HandlerCase& c,
                            uint32_t slot) {
  daemon::HostEntry h;
  h.address = *IpAddress::parse(address);
  h.mac = kHostMac;
  h.protection = (bits & HandlerCase::kProtection) != 0;
  h.policy = (bits & HandlerCase::kFailClosed) ? FailPolicy::kClosed : FailPolicy::kOpen;
  if (bits & HandlerCase::kPortFilter) {
    h.ports = {c.port};
    if (c.port != 0xFFFF) h.ports.push_back(static_cast<uint16_t>(c.port + 1));
  }
  if (bits & HandlerCase::kKeys) {
    h.keys.emplace(daemon::HostKeys{secrets(slot + 1), HostClock(secrets(slot + 1).clock, kSampleMs)});
  }
  if (bits & HandlerCase::kPreviousKeys) {
    h.previous_keys.emplace(
        daemon::HostKeys{secrets(slot + 100), HostClock(secrets(slot + 100).clock, kSampleMs)});
    h.previous_until_ms = kSampleMs + 120'000;
  }
  h.counter_slot = (bits & HandlerCase::kHostCounters) ? slot : daemon::kNoCounterSlot;
  return h;
}

bool same_key(const sw_flow_key& a, const sw_flow_key& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::string address_text(const ParsedFrame& p, bool source) {
  char text[INET6_ADDRSTRLEN] = {};
  const uint8_t* bytes = source ? p.saddr : p.daddr;
  inet_ntop(p.family == IpFamily::kIpv4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
  return text;
}

class Run {
 public:
  Run(const HandlerCase& c)
      : area_(2),
        snapshot_({make_host("192.0.2.10", c.v4_host, c, 0), make_host("2001:db8::10", c.v6_host, c, 1)},
                  kFirewallMac, 1) {
    daemon::HandlerSettings settings;
    settings.synack = kParams[c.params];
    settings.synack_pps = c.synack_pps;
    settings.synack_burst = c.synack_burst;
    settings.host_counters = &area_;
    handler_.emplace(settings, counters_, flows_);
    handler_->begin_batch(snapshot_, (kSampleMs + c.clock_ms) * 1'000'000ULL,
                          (c.v4_host & HandlerCase::kShedSyns) != 0);
  }

  // Handles one copy of `frame` in a buffer of `capacity` bytes and checks properties 1-3 and 5.
  // Returns the outcome index; `out` receives the frame as it would be transmitted.
  size_t handle(const std::vector<uint8_t>& frame, size_t capacity, FrameAction& action,
                std::vector<uint8_t>& out) {
    const auto buffer = std::make_unique<uint8_t[]>(capacity);
    if (!frame.empty()) std::memcpy(buffer.get(), frame.data(), frame.size());
    uint32_t len = static_cast<uint32_t>(frame.size());
    const OutcomeValues before = read_outcomes(counters_);
    const uint64_t syn_before = counters_.syn_received.load();
    const uint64_t ack_before = counters_.ack_received.load();
    const auto host_before = host_counts();
    const size_t flows_before = flows_.keys.size();

    action = handler_->handle(buffer.get(), len, static_cast<uint32_t>(capacity));

    const OutcomeValues after = read_outcomes(counters_);
    size_t moved = 0;
    size_t which = kOutcomeCount;
    for (size_t i = 0; i < kOutcomeCount; ++i) {
      FUZZ_CHECK(after[i] - before[i] <= 1, "%s moved by %llu", kOutcomes[i].name,
                 static_cast<unsigned long long>(after[i] - before[i]));
      if (after[i] != before[i]) ++moved, which = i;
    }
    FUZZ_CHECK(moved == 1, "%zu outcome counters moved for one frame", moved);
    const Outcome& o = kOutcomes[which];
    FUZZ_CHECK((action == FrameAction::kTransmit) == o.transmits, "outcome %s but action %s",
               o.name, action == FrameAction::kTransmit ? "transmit" : "drop");
    const uint64_t inputs = (counters_.syn_received.load() - syn_before) +
                            (counters_.ack_received.load() - ack_before);
    FUZZ_CHECK(inputs <= 1, "syn_received + ack_received moved by %llu",
               static_cast<unsigned long long>(inputs));
    check_host_counters(host_before, o);

    FUZZ_CHECK(len <= capacity, "frame length %u beyond capacity %zu", len, capacity);
    FUZZ_CHECK(which == 0 || len == frame.size(), "%s changed the length %zu -> %u", o.name,
               frame.size(), len);
    out.assign(buffer.get(), buffer.get() + len);
    if (action == FrameAction::kTransmit && which != 0) {
      FUZZ_CHECK(std::memcmp(out.data(), kHostMac.data(), 6) == 0 &&
                     std::memcmp(out.data() + 6, kFirewallMac.data(), 6) == 0,
                 "%s: forwarded frame not addressed host <- firewall", o.name);
      FUZZ_CHECK(std::memcmp(out.data() + 12, frame.data() + 12, frame.size() - 12) == 0,
                 "%s: forward changed bytes beyond the MACs", o.name);
    }

    const size_t inserted = flows_.keys.size() - flows_before;
    ParsedFrame p;
    const bool ok = parse_frame(frame.data(), frame.size(), p) == Verdict::kOk;
    const bool fail_open_ack = which == index_of("forwarded_fail_open") && ack_before !=
                                                                                  counters_.ack_received.load();
    const bool learns = which == index_of("ack_valid") || fail_open_ack;
    FUZZ_CHECK(inserted == (learns ? 1u : 0u), "%s: %zu flows registered", o.name, inserted);
    if (inserted == 1) {
      FUZZ_CHECK(ok && same_key(flows_.keys.back(), daemon::flow_key_of(p)),
                 "registered flow key is not flow_key_of() the ACK");
    }
    return which;
  }

  static size_t index_of(const char* name) {
    for (size_t i = 0; i < kOutcomeCount; ++i) {
      if (std::strcmp(kOutcomes[i].name, name) == 0) return i;
    }
    std::abort();
  }

  std::vector<sw_flow_key>& flows() { return flows_.keys; }

 private:
  std::array<daemon::HostCounterValues, 2> host_counts() const {
    std::array<daemon::HostCounterValues, 2> v{};
    for (uint32_t slot = 0; slot < 2; ++slot) {
      for (size_t c = 0; c < daemon::kHostCounterCount; ++c) {
        v[slot][c] = area_.read(slot, static_cast<HostCounter>(c));
      }
    }
    return v;
  }

  void check_host_counters(const std::array<daemon::HostCounterValues, 2>& before,
                           const Outcome& o) const {
    const auto after = host_counts();
    uint64_t outcomes = 0;
    for (uint32_t slot = 0; slot < 2; ++slot) {
      for (size_t c = 0; c < daemon::kHostCounterCount; ++c) {
        if (!daemon::host_counter_is_input(static_cast<HostCounter>(c))) {
          outcomes += after[slot][c] - before[slot][c];
        }
      }
    }
    const bool reached_host = std::strcmp(o.name, "dropped_unknown_host") != 0 &&
                              std::strcmp(o.name, "dropped_unparsable") != 0;
    // A host without a counter slot counts nothing; its frame then moves no host counter.
    FUZZ_CHECK(outcomes <= (reached_host ? 1u : 0u), "%s moved %llu per-host outcome counters",
               o.name, static_cast<unsigned long long>(outcomes));
  }

  daemon::HostCounterArea area_;
  daemon::Snapshot snapshot_;
  WorkerCounters counters_;
  RecordingFlows flows_;
  std::optional<daemon::PacketHandler> handler_;
};

// Property 4: the SYN-ACK is what a client expects, and the client's ACK to it gets in.
void check_handshake(Run& run, const std::vector<uint8_t>& syn_frame,
                     const std::vector<uint8_t>& synack, const HandlerCase& c) {
  ParsedFrame syn;
  FUZZ_CHECK(parse_frame(syn_frame.data(), syn_frame.size(), syn) == Verdict::kOk, "SYN parse");
  ParsedFrame sa;
  const Verdict v = parse_frame(synack.data(), synack.size(), sa, ChecksumPolicy::kVerify);
  FUZZ_CHECK(v == Verdict::kOk, "SYN-ACK parses back as %s", verdict_name(v));
  FUZZ_CHECK((sa.tcp_flags & (tcpflag::kSyn | tcpflag::kAck | tcpflag::kRst | tcpflag::kFin)) ==
                 (tcpflag::kSyn | tcpflag::kAck),
             "SYN-ACK flags %02x", sa.tcp_flags);
  FUZZ_CHECK(std::memcmp(synack.data(), syn_frame.data() + 6, 6) == 0 &&
                 std::memcmp(synack.data() + 6, kFirewallMac.data(), 6) == 0,
             "SYN-ACK not addressed to the SYN's source MAC from the firewall");
  const size_t alen = syn.family == IpFamily::kIpv4 ? 4 : 16;
  FUZZ_CHECK(sa.family == syn.family && std::memcmp(sa.saddr, syn.daddr, alen) == 0 &&
                 std::memcmp(sa.daddr, syn.saddr, alen) == 0 && sa.sport == syn.dport &&
                 sa.dport == syn.sport && sa.ack == syn.seq + 1,
             "SYN-ACK addresses/ports/ack do not answer the SYN");

  FrameBuilder b;
  MacAddress client_mac;
  std::memcpy(client_mac.data(), syn_frame.data() + 6, 6);
  b.macs(client_mac, kFirewallMac);
  for (size_t i = 0; i < syn.vlan_count; ++i) b.vlan(syn.vlans[i].tpid, syn.vlans[i].tci);
  if (syn.family == IpFamily::kIpv4) b.ipv4(address_text(syn, true), address_text(syn, false));
  else b.ipv6(address_text(syn, true), address_text(syn, false));
  b.ports(from_be16(syn.sport), from_be16(syn.dport)).seq(syn.seq + 1).ack(sa.seq + 1);
  b.flags(tcpflag::kAck);
  if (sa.options.has_timestamp) b.timestamp(syn.options.tsval + 1, sa.options.tsval);
  const std::vector<uint8_t> ack = b.build();

  FrameAction action;
  std::vector<uint8_t> out;
  const size_t which = run.handle(ack, ack.size() + c.headroom, action, out);
  if (sa.options.has_timestamp && sa.options.tsval == 0) {
    // TSecr 0 is not decoded as option bits (cookie_v4_check): the ACK is judged as if the
    // SYN-ACK had no options, so it may be refused for an option the host disabled.
    FUZZ_CHECK(which == Run::index_of("ack_valid") || which == Run::index_of("ack_option_disabled"),
               "ACK with TSecr 0: %s", kOutcomes[which].name);
    return;
  }
  FUZZ_CHECK(which == Run::index_of("ack_valid"), "the ACK to our own SYN-ACK ended as %s",
             kOutcomes[which].name);
  // The XDP program's key for the client's direction: same addresses, ports and VLAN ids.
  const sw_flow_key key = run.flows().back();
  FUZZ_CHECK(std::memcmp(key.saddr, syn.saddr, alen) == 0 &&
                 std::memcmp(key.daddr, syn.daddr, alen) == 0 && key.sport == syn.sport &&
                 key.dport == syn.dport &&
                 key.vlan_outer == (syn.vlan_count >= 1 ? (syn.vlans[0].tci & 0x0FFF) : 0) &&
                 key.vlan_inner == (syn.vlan_count >= 2 ? (syn.vlans[1].tci & 0x0FFF) : 0),
             "the flow registered for the handshake is not the SYN's");
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden::fuzz;
  FuzzInput in(data, size);
  HandlerCase c;
  CaseReader reader(in);
  c.visit(reader);
  const auto rest = in.rest();
  if (rest.size() > 9000) return -1;  // beyond a jumbo frame
  const std::vector<uint8_t> frame(rest.begin(), rest.end());
  Run run(c);
  for (size_t i = 0; i <= c.repeats; ++i) {
    synwarden::daemon::FrameAction action;
    std::vector<uint8_t> out;
    const size_t which = run.handle(frame, frame.size() + c.headroom, action, out);
    if (std::getenv("SYNWARDEN_FUZZ_VERBOSE") != nullptr) {
      std::fprintf(stderr, "fuzz_daemon_handler: %zu-byte frame -> %s\n", frame.size(),
                   kOutcomes[which].name);
    }
    if (which == Run::index_of("synack_built")) check_handshake(run, frame, out, c);
  }
  return 0;
}
