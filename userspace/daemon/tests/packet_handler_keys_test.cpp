// Specification of what a worker does across a change of a host's secrets: cookies minted with
// the previous keys keep validating for their lifetime, and a host under its "open" fail policy
// has its flows learnt so they survive the secrets coming back.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "packet_handler.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"
#include "synwarden/packet_bytes.h"

namespace synwarden::daemon {
namespace {

const MacAddress kClientMac{0x02, 0x53, 0x57, 0, 0, 0x01};
const MacAddress kFirewallMac{0x02, 0x53, 0x57, 0, 0, 0x03};
const MacAddress kHostMac{0x02, 0x53, 0x57, 0, 0, 0x10};
constexpr uint64_t kLocalMs = 7'000'000;  // firewall CLOCK_MONOTONIC of the clock samples
constexpr uint32_t kCapacity = 4096 - 256;

class RecordingFlows : public FlowSink {
 public:
  bool insert(const sw_flow_key& key) noexcept override {
    keys.push_back(key);
    return true;
  }
  std::vector<sw_flow_key> keys;
};

// A BPF-mode host's secrets for key generation `generation` (jiffies = mono ms, HZ = 1000).
HostKeys keys_of(uint64_t generation) {
  HostSecrets s;
  const uint64_t g = generation * 0x1000;
  s.syncookie = {SipKey{g + 1, g + 2}, SipKey{g + 3, g + 4}};
  s.syncookie6 = {SipKey{g + 5, g + 6}, SipKey{g + 7, g + 8}};
  s.ts_key = SipKey{g + 9, g + 10};
  s.clock = HostClockSample{900'000'000, 1000, 900'000'000};
  return HostKeys{s, HostClock(s.clock, kLocalMs)};
}

std::vector<uint8_t> syn(uint16_t sport) {
  return FrameBuilder()
      .macs(kClientMac, kFirewallMac)
      .ipv4("192.0.2.1", "192.0.2.10")
      .ports(sport, 8080)
      .seq(1000)
      .flags(tcpflag::kSyn)
      .linux_syn_options(1460, 777, 7)
      .build();
}

std::vector<uint8_t> ack(uint16_t sport, uint32_t ack_seq, uint32_t tsecr) {
  return FrameBuilder()
      .macs(kClientMac, kFirewallMac)
      .ipv4("192.0.2.1", "192.0.2.10")
      .ports(sport, 8080)
      .seq(1001)
      .ack(ack_seq)
      .flags(tcpflag::kAck)
      .nop().nop().timestamp(778, tsecr)
      .build();
}

class KeyChange : public ::testing::Test {
 protected:
  // The workers' snapshot: current keys `current`, and optionally `previous` until `until_ms`.
  void use(std::optional<HostKeys> current, std::optional<HostKeys> previous = {},
           uint64_t until_ms = 0, FailPolicy policy = FailPolicy::kClosed) {
    HostEntry h;
    h.address = *IpAddress::parse("192.0.2.10");
    h.mac = kHostMac;
    h.policy = policy;
    h.keys = std::move(current);
    h.previous_keys = std::move(previous);
    h.previous_until_ms = until_ms;
    std::vector<HostEntry> hosts;
    hosts.push_back(std::move(h));
    snapshot_ = std::make_unique<Snapshot>(std::move(hosts), kFirewallMac, ++version_);
  }
  FrameAction run(std::vector<uint8_t>& frame, uint64_t now_ms) {
    handler_.begin_batch(*snapshot_, now_ms * 1'000'000);
    uint32_t len = static_cast<uint32_t>(frame.size());
    frame.resize(kCapacity);
    const FrameAction action = handler_.handle(frame.data(), len, kCapacity);
    frame.resize(len);
    return action;
  }
  // The cookie SYN-ACK's (seq, TSval) for a SYN from `sport`, under the current snapshot.
  std::pair<uint32_t, uint32_t> synack_for(uint16_t sport, uint64_t now_ms) {
    std::vector<uint8_t> frame = syn(sport);
    EXPECT_EQ(run(frame, now_ms), FrameAction::kTransmit);
    ParsedFrame p;
    EXPECT_EQ(parse_frame(frame.data(), frame.size(), p), Verdict::kOk);
    return {p.seq, p.options.tsval};
  }

  // A wrong cookie fails the hash or, as often, decodes to a count outside the window.
  uint64_t rejected() const {
    return counters_.ack_bad_cookie.load() + counters_.ack_cookie_expired.load();
  }

  WorkerCounters counters_;
  RecordingFlows flows_;
  PacketHandler handler_{HandlerSettings{}, counters_, flows_};
  std::unique_ptr<Snapshot> snapshot_;
  uint64_t version_ = 0;
};

TEST_F(KeyChange, ACookieMintedWithThePreviousKeysValidatesDuringTheOverlap) {
  const uint64_t t = kLocalMs + 1'000;
  use(keys_of(1));
  const auto [cookie, tsval] = synack_for(40000, t);
  // The agent rotated; the snapshot now has generation 2 with generation 1 as previous.
  use(keys_of(2), keys_of(1), t + 121'000);
  std::vector<uint8_t> frame = ack(40000, cookie + 1, tsval);
  ASSERT_EQ(run(frame, t + 500), FrameAction::kTransmit) << "the client's handshake completes";
  EXPECT_EQ(0, std::memcmp(frame.data(), kHostMac.data(), 6));
  EXPECT_EQ(counters_.ack_valid.load(), 1u);
  EXPECT_EQ(counters_.ack_valid_previous_keys.load(), 1u);
  EXPECT_EQ(rejected(), 0u);
  EXPECT_EQ(flows_.keys.size(), 1u);
}

TEST_F(KeyChange, ThePreviousKeysAreNotConsultedAfterTheirWindow) {
  const uint64_t t = kLocalMs + 1'000;
  use(keys_of(1));
  const auto [cookie, tsval] = synack_for(40001, t);
  use(keys_of(2), keys_of(1), t + 300);
  std::vector<uint8_t> frame = ack(40001, cookie + 1, tsval);
  EXPECT_EQ(run(frame, t + 300), FrameAction::kDrop);
  EXPECT_EQ(rejected(), 1u);
  EXPECT_EQ(counters_.ack_valid_previous_keys.load(), 0u);
  EXPECT_TRUE(flows_.keys.empty());
}

TEST_F(KeyChange, CurrentKeysAreTriedFirstAndAForgedCookieFailsBoth) {
  const uint64_t t = kLocalMs + 1'000;
  use(keys_of(2), keys_of(1), t + 121'000);
  const auto [cookie, tsval] = synack_for(40002, t);
  std::vector<uint8_t> good = ack(40002, cookie + 1, tsval);
  ASSERT_EQ(run(good, t + 10), FrameAction::kTransmit);
  EXPECT_EQ(counters_.ack_valid_previous_keys.load(), 0u) << "valid with the current keys";
  std::vector<uint8_t> forged = ack(40003, cookie + 1, tsval);  // another port: not its cookie
  EXPECT_EQ(run(forged, t + 10), FrameAction::kDrop);
  EXPECT_EQ(rejected(), 1u);
}

TEST_F(KeyChange, FailOpenForwardsAndLearnsTheFlowsTheHostsKernelAccepts) {
  use(std::nullopt, {}, 0, FailPolicy::kOpen);
  std::vector<uint8_t> s = syn(40004);
  ASSERT_EQ(run(s, kLocalMs), FrameAction::kTransmit) << "the host's own kernel answers the SYN";
  EXPECT_EQ(0, std::memcmp(s.data(), kHostMac.data(), 6));
  EXPECT_TRUE(flows_.keys.empty()) << "a SYN never creates state";
  std::vector<uint8_t> a = ack(40004, 0x55555555, 0);  // the ACK of the host's own SYN-ACK
  ASSERT_EQ(run(a, kLocalMs), FrameAction::kTransmit);
  ASSERT_EQ(flows_.keys.size(), 1u)
      << "learnt, so the flow keeps going through XDP once the keys are back";
  EXPECT_EQ(from_be16(flows_.keys[0].sport), 40004);
  EXPECT_EQ(counters_.forwarded_fail_open.load(), 2u);
}

TEST_F(KeyChange, FailClosedDropsAndLearnsNothing) {
  use(std::nullopt, {}, 0, FailPolicy::kClosed);
  std::vector<uint8_t> a = ack(40005, 0x55555555, 0);
  EXPECT_EQ(run(a, kLocalMs), FrameAction::kDrop);
  EXPECT_TRUE(flows_.keys.empty());
  EXPECT_EQ(counters_.dropped_fail_closed.load(), 1u);
}

}  // namespace
}  // namespace synwarden::daemon
