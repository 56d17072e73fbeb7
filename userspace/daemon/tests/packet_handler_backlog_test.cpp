// Specification of what a worker that has fallen behind does: it stops answering SYNs (cheap to
// drop, retransmitted by clients) and keeps validating ACKs (never retransmitted when lost).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "packet_handler.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"

namespace synwarden::daemon {
namespace {

const MacAddress kClientMac{0x02, 0x53, 0x57, 0, 0, 0x01};
const MacAddress kFirewallMac{0x02, 0x53, 0x57, 0, 0, 0x03};
const MacAddress kHostMac{0x02, 0x53, 0x57, 0, 0, 0x10};
constexpr uint64_t kLocalMs = 3'000'000;
constexpr uint32_t kCapacity = 4096 - 256;

class NullFlows : public FlowSink {
 public:
  bool insert(const sw_flow_key&) noexcept override { return true; }
};

class Backlog : public ::testing::Test {
 protected:
  Backlog() {
    HostSecrets s;
    s.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
    s.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
    s.ts_key = SipKey{9, 10};
    s.clock = HostClockSample{500'000, 1000, 500'000};
    HostEntry h;
    h.address = *IpAddress::parse("192.0.2.10");
    h.mac = kHostMac;
    h.keys.emplace(HostKeys{s, HostClock(s.clock, kLocalMs)});
    std::vector<HostEntry> hosts;
    hosts.push_back(std::move(h));
    snapshot_ = std::make_unique<Snapshot>(std::move(hosts), kFirewallMac, 1);
  }
  FrameAction run(std::vector<uint8_t>& frame, bool behind) {
    handler_.begin_batch(*snapshot_, (kLocalMs + 10) * 1'000'000, behind);
    uint32_t len = static_cast<uint32_t>(frame.size());
    frame.resize(kCapacity);
    const FrameAction action = handler_.handle(frame.data(), len, kCapacity);
    frame.resize(len);
    return action;
  }
  static std::vector<uint8_t> syn() {
    return FrameBuilder().macs(kClientMac, kFirewallMac).ipv4("192.0.2.1", "192.0.2.10")
        .ports(40000, 8080).seq(1000).flags(tcpflag::kSyn).linux_syn_options(1460, 777, 7)
        .build();
  }

  WorkerCounters counters_;
  NullFlows flows_;
  PacketHandler handler_{HandlerSettings{}, counters_, flows_};
  std::unique_ptr<Snapshot> snapshot_;
};

TEST_F(Backlog, ABehindWorkerDropsSynsButStillValidatesAcks) {
  std::vector<uint8_t> synack = syn();
  ASSERT_EQ(run(synack, false), FrameAction::kTransmit);
  ParsedFrame sa;
  ASSERT_EQ(parse_frame(synack.data(), synack.size(), sa), Verdict::kOk);

  std::vector<uint8_t> flood_syn = syn();
  EXPECT_EQ(run(flood_syn, true), FrameAction::kDrop);
  EXPECT_EQ(counters_.syn_shed_backlog.load(), 1u);
  EXPECT_EQ(counters_.synack_built.load(), 1u) << "only the SYN from before the backlog";

  std::vector<uint8_t> ack = FrameBuilder().macs(kClientMac, kFirewallMac)
      .ipv4("192.0.2.1", "192.0.2.10").ports(40000, 8080).seq(1001).ack(sa.seq + 1)
      .flags(tcpflag::kAck).nop().nop().timestamp(778, sa.options.tsval).build();
  EXPECT_EQ(run(ack, true), FrameAction::kTransmit) << "the client's final ACK gets through";
  EXPECT_EQ(counters_.ack_valid.load(), 1u);
}

TEST_F(Backlog, AWorkerThatCaughtUpAnswersSynsAgain) {
  std::vector<uint8_t> first = syn();
  EXPECT_EQ(run(first, true), FrameAction::kDrop);
  std::vector<uint8_t> second = syn();
  EXPECT_EQ(run(second, false), FrameAction::kTransmit);
  EXPECT_EQ(counters_.synack_built.load(), 1u);
}

}  // namespace
}  // namespace synwarden::daemon
