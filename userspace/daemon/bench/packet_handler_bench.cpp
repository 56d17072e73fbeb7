// Per-frame cost of a worker's decision (PacketHandler::handle), without AF_XDP: what one core
// spends per SYN (parse, checksum check, cookie + timestamp plan, in-place SYN-ACK with full
// checksums) and per ACK (parse, cookie check, MAC rewrite). Each iteration first copies the
// ~80-byte template frame back into the buffer (the handler rewrites it in place); that copy is
// part of the number. Prints a table; asserts nothing.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "packet_handler.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"

namespace {

using namespace synwarden;
using namespace synwarden::daemon;

const MacAddress kClient{0x02, 0, 0, 0, 0, 1};
const MacAddress kFirewall{0x02, 0, 0, 0, 0, 3};
constexpr uint64_t kLocalMs = 1'000'000;
constexpr uint64_t kNowNs = (kLocalMs + 500) * 1'000'000;

class NullFlows : public FlowSink {
 public:
  bool insert(const sw_flow_key&) noexcept override { return true; }
};

struct Fixture {
  Fixture(bool v6) {
    HostSecrets s;
    s.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
    s.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
    s.ts_key = SipKey{9, 10};
    s.clock = HostClockSample{4'300'000'000ull, 250, 9'000'000};
    HostEntry h;
    h.address = *IpAddress::parse(v6 ? "2001:db8::10" : "192.0.2.10");
    h.keys.emplace(HostKeys{s, HostClock(s.clock, kLocalMs)});
    std::vector<HostEntry> hosts;
    hosts.push_back(h);
    snapshot = std::make_unique<Snapshot>(std::move(hosts), kFirewall, 1);
    handler = std::make_unique<PacketHandler>(HandlerSettings{}, counters, flows);
    handler->begin_batch(*snapshot, kNowNs);
    FrameBuilder b;
    b.macs(kClient, kFirewall);
    if (v6) b.ipv6("2001:db8::1", "2001:db8::10");
    else b.ipv4("192.0.2.1", "192.0.2.10");
    syn = b.ports(40000, 8080).seq(1000).flags(tcpflag::kSyn).linux_syn_options(1460, 7, 7).build();
    std::vector<uint8_t> sa = syn;
    sa.resize(2048);
    uint32_t len = static_cast<uint32_t>(syn.size());
    handler->handle(sa.data(), len, 2048);
    ParsedFrame p;
    parse_frame(sa.data(), len, p);
    FrameBuilder a;
    a.macs(kClient, kFirewall);
    if (v6) a.ipv6("2001:db8::1", "2001:db8::10");
    else a.ipv4("192.0.2.1", "192.0.2.10");
    ack = a.ports(40000, 8080).seq(1001).ack(p.seq + 1).flags(tcpflag::kAck)
              .nop().nop().timestamp(8, p.options.tsval).build();
    bad_ack = ack;
    ParsedFrame pa;
    parse_frame(ack.data(), ack.size(), pa);
    bad_ack[pa.l4_offset + 11] ^= 0x55;  // low byte of the ack number: a wrong cookie
  }
  WorkerCounters counters;
  NullFlows flows;
  std::unique_ptr<Snapshot> snapshot;
  std::unique_ptr<PacketHandler> handler;
  std::vector<uint8_t> syn, ack, bad_ack;
};

void run(benchmark::State& state, bool v6, int which) {
  Fixture f(v6);
  const std::vector<uint8_t>& tmpl = which == 0 ? f.syn : which == 1 ? f.ack : f.bad_ack;
  alignas(64) uint8_t buffer[2048];
  for (auto _ : state) {
    std::memcpy(buffer, tmpl.data(), tmpl.size());
    uint32_t len = static_cast<uint32_t>(tmpl.size());
    benchmark::DoNotOptimize(f.handler->handle(buffer, len, sizeof buffer));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SynToSynAck_v4(benchmark::State& s) { run(s, false, 0); }
void BM_SynToSynAck_v6(benchmark::State& s) { run(s, true, 0); }
void BM_ValidAck_v4(benchmark::State& s) { run(s, false, 1); }
void BM_ValidAck_v6(benchmark::State& s) { run(s, true, 1); }
void BM_WrongCookieAck_v4(benchmark::State& s) { run(s, false, 2); }
BENCHMARK(BM_SynToSynAck_v4);
BENCHMARK(BM_SynToSynAck_v6);
BENCHMARK(BM_ValidAck_v4);
BENCHMARK(BM_ValidAck_v6);
BENCHMARK(BM_WrongCookieAck_v4);

}  // namespace

BENCHMARK_MAIN();
