// The host's tc program (bpf/host/host_cookie.bpf.c) run through BPF_PROG_TEST_RUN on ACKs
// answering SYN-ACKs the firewall's engine planned: the program must accept exactly the cookies
// the engine makes with the agent's keys and decode the same connection parameters (MSS, window
// scale, SACK, ECN, ts_off) as the engine's model of the kernel, bit for bit, for random tuples
// and option sets in both families; and it must leave alone everything that is not its business.
//
// Runs in a private network namespace with real listeners, because the program looks the
// listener up before it hashes anything. In a test run the kfunc itself refuses (-EINVAL: the
// skb is not at tc ingress), so these tests check what the program decodes and passes it; the
// hand-over to a real listener is agent_e2e_test's part. Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bpf_keys.h"
#include "host_program.h"
#include "synwarden/channel_socket.h"
#include "synwarden/clock.h"
#include "synwarden/packet_builder.h"
#include "synwarden/synack_planner.h"

namespace synwarden {
namespace {

constexpr uint16_t kPort = 8080;          // protected, with listeners
constexpr uint16_t kPortNoListener = 8081; // protected, nobody listens
constexpr uint16_t kPortOther = 9090;      // not protected, has a listener
constexpr const char* kHost4 = "192.0.2.1";
constexpr const char* kHost6 = "2001:db8::1";
constexpr uint8_t kHostWscale = 9;
constexpr uint32_t kRetUnspec = static_cast<uint32_t>(TC_ACT_UNSPEC);

int listen_on(int family, uint16_t port) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What one ACK should make the program do.
struct Ack {
  std::vector<uint8_t> frame;
  AckVerdict expected;
  uint32_t tsval = 0, tsecr = 0;
  bool has_ts = false;
};

enum class TsLayout { kNopNopTs, kTsFirst, kSackBlockThenTs, kNone };

class HostProgramTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    original_netns_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(original_netns_, 0);
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << "needs root: " << std::strerror(errno);
    ASSERT_EQ(std::system("ip link set lo up"), 0);
    for (int family : {AF_INET, AF_INET6}) {
      for (uint16_t port : {kPort, kPortOther}) {
        const int fd = listen_on(family, port);
        ASSERT_GE(fd, 0) << "listen on " << port << ": " << std::strerror(errno);
        listeners_.push_back(fd);
      }
    }
    HostProgramOptions opts;
    opts.ports = {kPort, kPortNoListener};
    opts.pin_dir = "";   // nothing pinned: the test leaves no trace
    program_ = new HostProgram(opts);
  }

  static void TearDownTestSuite() {
    delete program_;
    program_ = nullptr;
    for (int fd : listeners_) ::close(fd);
    listeners_.clear();
    if (original_netns_ >= 0) {
      ::setns(original_netns_, CLONE_NEWNET);
      ::close(original_netns_);
    }
  }

  void SetUp() override {
    now_ns_ = monotonic_ns();
    current_ = agent::generate_keyset(7, now_ns_);
    HostKeyState state;
    state.current = current_;
    state.rcv_wscale = kHostWscale;
    state.tcp_timestamps = 1;
    program_->write_state(state);
  }

  // The engine's view of the host with `keys`, clock sampled now (exact, no safety margins: the
  // program reads the same CLOCK_MONOTONIC).
  HostSecrets secrets_for(const HostKeySet& keys) const {
    agent::HostFacts facts;
    facts.rcv_wscale = kHostWscale;
    facts.sysctls.tcp_ecn = 2;
    return agent::bpf_mode_secrets(keys, facts, now_ns_ / 1'000'000);
  }
  ClockReading clock_for(const HostSecrets& s, int64_t shift_ms = 0) const {
    const HostClock clock(s.clock, s.clock.mono_ms, kExactClock);
    return clock.at(static_cast<uint64_t>(static_cast<int64_t>(s.clock.mono_ms) + shift_ms));
  }

  // Plans the firewall's SYN-ACK for a SYN with `syn` options and builds the client's ACK.
  Ack make_ack(const HostSecrets& s, const ClockReading& clock, bool v6, uint16_t client_port,
               uint32_t isn, const SynOptions& syn, TsLayout layout, uint16_t port = kPort) {
    const std::string client = v6 ? "2001:db8:77::" + std::to_string(client_port % 1000 + 2)
                                   : "198.51.100." + std::to_string(client_port % 250 + 2);
    const std::string host = v6 ? kHost6 : kHost4;
    FrameBuilder b;
    b.macs(parse_mac("02:00:00:00:00:02"), parse_mac("02:00:00:00:00:01"));
    if (v6) b.ipv6(client, host); else b.ipv4(client, host);
    b.ports(client_port, port).flags(tcpflag::kAck);

    Ack out;
    SynAckPlan plan;
    AckSegment seg;
    if (v6) {
      Ipv6Flow f;
      inet_pton(AF_INET6, client.c_str(), f.client_addr.data());
      inet_pton(AF_INET6, host.c_str(), f.host_addr.data());
      f.client_port = htons(client_port);
      f.host_port = htons(port);
      plan = plan_synack(s, clock, f, isn, syn);
      seg = {isn + 1, plan.seq + 1, plan.has_timestamp, syn.tsval + 7, plan.tsval};
      out.expected = check_ack(s, clock, f, seg);
    } else {
      Ipv4Flow f;
      inet_pton(AF_INET, client.c_str(), &f.client_addr);
      inet_pton(AF_INET, host.c_str(), &f.host_addr);
      f.client_port = htons(client_port);
      f.host_port = htons(port);
      plan = plan_synack(s, clock, f, isn, syn);
      seg = {isn + 1, plan.seq + 1, plan.has_timestamp, syn.tsval + 7, plan.tsval};
      out.expected = check_ack(s, clock, f, seg);
    }
    b.seq(seg.seq).ack(seg.ack);
    out.has_ts = plan.has_timestamp && layout != TsLayout::kNone;
    out.tsval = seg.tsval;
    out.tsecr = seg.tsecr;
    if (out.has_ts) {
      switch (layout) {
        case TsLayout::kNopNopTs: b.nop().nop().timestamp(seg.tsval, seg.tsecr); break;
        case TsLayout::kTsFirst: b.timestamp(seg.tsval, seg.tsecr).nop().nop(); break;
        case TsLayout::kSackBlockThenTs:
          b.nop().nop().sack({{1000, 2000}}).nop().nop().timestamp(seg.tsval, seg.tsecr);
          break;
        case TsLayout::kNone: break;
      }
    }
    out.frame = b.build();
    return out;
  }

  struct RunResult {
    uint32_t retval = 0;
    HostCounters delta{};
    bool decided = false;
    sw_host_decision decision{};
  };

  RunResult run(const std::vector<uint8_t>& frame) {
    const HostCounters before = program_->counters();
    const auto decisions_before = program_->last_decisions();
    std::vector<uint8_t> out(frame.size() + 256);
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.data_out = out.data();
    opts.data_size_out = static_cast<uint32_t>(out.size());
    opts.repeat = 1;
    RunResult r;
    EXPECT_EQ(bpf_prog_test_run_opts(program_->program_fd(), &opts), 0) << std::strerror(errno);
    r.retval = opts.retval;
    const HostCounters after = program_->counters();
    for (size_t i = 0; i < after.size(); ++i) r.delta[i] = after[i] - before[i];
    const auto decisions_after = program_->last_decisions();
    for (size_t cpu = 0; cpu < decisions_after.size(); ++cpu) {
      if (decisions_after[cpu].seq != decisions_before[cpu].seq) {
        r.decided = true;
        r.decision = decisions_after[cpu];
      }
    }
    return r;
  }

  // The program validated the ACK and passed the kernel exactly what the engine decoded.
  void expect_handed_over(const Ack& ack, const RunResult& r, uint64_t generation,
                          int valid_counter, const std::string& what) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(ack.expected.valid()) << ack_status_name(ack.expected.status);
    EXPECT_EQ(r.delta[SW_HC_ACK], 1u);
    EXPECT_EQ(r.delta[valid_counter], 1u);
    EXPECT_EQ(r.delta[SW_HC_COOKIE_INVALID], 0u);
    EXPECT_EQ(r.delta[SW_HC_ASSIGNED] + r.delta[SW_HC_ASSIGN_FAILED], 1u);
    ASSERT_TRUE(r.decided);
    const sw_host_decision& d = r.decision;
    EXPECT_EQ(d.generation, generation);
    EXPECT_EQ(d.mss, ack.expected.mss);
    EXPECT_EQ(d.tstamp_ok != 0, ack.expected.tstamp_ok);
    EXPECT_EQ(d.sack_ok != 0, ack.expected.sack_ok);
    EXPECT_EQ(d.wscale_ok != 0, ack.expected.wscale_ok);
    EXPECT_EQ(d.snd_wscale, ack.expected.wscale_ok ? ack.expected.snd_wscale : 0);
    EXPECT_EQ(d.rcv_wscale, ack.expected.wscale_ok ? kHostWscale : 0);
    EXPECT_EQ(d.ecn_ok != 0, ack.expected.ecn_ok);
    EXPECT_EQ(d.ts_off, ack.expected.ts_off);
    if (ack.has_ts) {
      EXPECT_EQ(d.rcv_tsval, ack.tsval);
      EXPECT_EQ(d.rcv_tsecr, ack.tsecr);   // raw: the kernel derives tsoffset from it
    }
    // Handed over -> final verdict; refused by the kfunc -> the kernel decides as without us.
    EXPECT_EQ(r.retval, d.kfunc_ret == 0 ? static_cast<uint32_t>(TC_ACT_OK) : kRetUnspec);
  }

  static void expect_untouched(const RunResult& r) {
    EXPECT_EQ(r.retval, kRetUnspec);
    EXPECT_FALSE(r.decided);
  }

  static inline int original_netns_ = -1;
  static inline std::vector<int> listeners_;
  static inline HostProgram* program_ = nullptr;
  uint64_t now_ns_ = 0;
  HostKeySet current_;
};

SynOptions random_syn(std::mt19937& rng) {
  SynOptions o;
  o.has_mss = rng() % 8 != 0;
  o.mss = static_cast<uint16_t>(500 + rng() % 9000);
  o.has_wscale = rng() % 3 != 0;
  o.wscale = static_cast<uint8_t>(rng() % 16);   // > 14 is clamped by the kernel
  o.sack_permitted = rng() % 2 == 0;
  o.has_timestamp = rng() % 5 != 0;
  o.tsval = static_cast<uint32_t>(rng());
  o.ece_cwr = rng() % 3 == 0;
  return o;
}

TEST_F(HostProgramTest, AcceptsEveryEngineCookieAndDecodesTheSameOptions) {
  std::mt19937 rng(20260515);
  const HostSecrets s = secrets_for(current_);
  const ClockReading clock = clock_for(s);
  int handed_over = 0;
  for (int i = 0; i < 400; ++i) {
    const bool v6 = i % 2 == 1;
    const SynOptions syn = random_syn(rng);
    const uint16_t port = static_cast<uint16_t>(1024 + rng() % 60000);
    const Ack ack = make_ack(s, clock, v6, port, static_cast<uint32_t>(rng()), syn,
                             TsLayout::kNopNopTs);
    const RunResult r = run(ack.frame);
    expect_handed_over(ack, r, current_.generation, SW_HC_VALID_CURRENT,
                       std::string(v6 ? "IPv6" : "IPv4") + " case " + std::to_string(i));
    handed_over += r.decided;
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(handed_over, 400);
}

TEST_F(HostProgramTest, FindsTheTimestampInAnyOptionLayout) {
  std::mt19937 rng(7);
  const HostSecrets s = secrets_for(current_);
  const ClockReading clock = clock_for(s);
  SynOptions syn;
  syn.has_mss = true;
  syn.mss = 1460;
  syn.has_wscale = true;
  syn.wscale = 7;
  syn.sack_permitted = true;
  syn.has_timestamp = true;
  syn.tsval = 12345;
  for (TsLayout layout : {TsLayout::kTsFirst, TsLayout::kSackBlockThenTs}) {
    for (bool v6 : {false, true}) {
      const Ack ack = make_ack(s, clock, v6, static_cast<uint16_t>(2000 + rng() % 1000),
                               static_cast<uint32_t>(rng()), syn, layout);
      expect_handed_over(ack, run(ack.frame), current_.generation, SW_HC_VALID_CURRENT,
                         "layout " + std::to_string(static_cast<int>(layout)));
    }
  }
}

TEST_F(HostProgramTest, AckWithoutTimestampCarriesOnlyTheMss) {
  const HostSecrets s = secrets_for(current_);
  SynOptions syn;
  syn.has_mss = true;
  syn.mss = 1400;   // table index 1: 1300 (IPv4)
  const Ack ack = make_ack(s, clock_for(s), false, 4000, 1, syn, TsLayout::kNone);
  const RunResult r = run(ack.frame);
  expect_handed_over(ack, r, current_.generation, SW_HC_VALID_CURRENT, "no timestamp");
  EXPECT_EQ(r.decision.mss, 1300);
  EXPECT_EQ(r.decision.tstamp_ok, 0);
}

TEST_F(HostProgramTest, PreviousKeysAreAcceptedOnlyDuringTheOverlap) {
  const HostKeySet old_keys = agent::generate_keyset(6, now_ns_ - 1'000'000'000);
  const HostSecrets old_secrets = secrets_for(old_keys);
  SynOptions syn;
  syn.has_timestamp = true;
  syn.tsval = 99;
  syn.has_wscale = true;
  syn.wscale = 3;
  const Ack ack = make_ack(old_secrets, clock_for(old_secrets), true, 5000, 42, syn,
                           TsLayout::kNopNopTs);

  HostKeyState state;
  state.current = current_;
  state.previous = old_keys;
  state.previous.valid_until_ns = monotonic_ns() + 60'000'000'000ULL;
  state.rcv_wscale = kHostWscale;
  program_->write_state(state);
  expect_handed_over(ack, run(ack.frame), old_keys.generation, SW_HC_VALID_PREVIOUS, "overlap");

  state.previous.valid_until_ns = monotonic_ns() - 1;
  program_->write_state(state);
  const RunResult expired = run(ack.frame);
  EXPECT_EQ(expired.delta[SW_HC_COOKIE_INVALID], 1u);
  expect_untouched(expired);
}

TEST_F(HostProgramTest, TamperedCookiesAreLeftToTheKernel) {
  const HostSecrets s = secrets_for(current_);
  SynOptions syn;
  syn.has_timestamp = true;
  Ack ack = make_ack(s, clock_for(s), false, 6000, 1000, syn, TsLayout::kNopNopTs);
  // ack_seq is bytes 8..11 of the TCP header (Ethernet 14 + IPv4 20). Bit 12 of the cookie moves
  // the decoded data by 4096, far outside the four valid MSS indexes.
  ack.frame[14 + 20 + 10] ^= 0x10;
  const RunResult r = run(ack.frame);
  EXPECT_EQ(r.delta[SW_HC_ACK], 1u);
  EXPECT_EQ(r.delta[SW_HC_COOKIE_INVALID], 1u);
  expect_untouched(r);
}

TEST_F(HostProgramTest, CookiesFromAnotherKeyOrTooOldAreRefused) {
  const HostKeySet stranger = agent::generate_keyset(99, now_ns_);
  const HostSecrets foreign = secrets_for(stranger);
  SynOptions syn;
  const Ack wrong_key = make_ack(foreign, clock_for(foreign), false, 6001, 5, syn, TsLayout::kNone);
  EXPECT_EQ(run(wrong_key.frame).delta[SW_HC_COOKIE_INVALID], 1u);

  // A cookie minted three minutes ago (count now - 3) is past MAX_SYNCOOKIE_AGE.
  const HostSecrets s = secrets_for(current_);
  const Ack old = make_ack(s, clock_for(s, -180'000), true, 6002, 5, syn, TsLayout::kNone);
  const RunResult r = run(old.frame);
  EXPECT_EQ(r.delta[SW_HC_COOKIE_INVALID], 1u);
  expect_untouched(r);
}

TEST_F(HostProgramTest, OnlyProtectedPortsWithAListenerAreExamined) {
  const HostSecrets s = secrets_for(current_);
  SynOptions syn;
  const Ack other = make_ack(s, clock_for(s), false, 7000, 1, syn, TsLayout::kNone, kPortOther);
  const RunResult r1 = run(other.frame);
  expect_untouched(r1);
  for (uint64_t v : r1.delta) EXPECT_EQ(v, 0u);

  const Ack nobody = make_ack(s, clock_for(s), true, 7001, 1, syn, TsLayout::kNone, kPortNoListener);
  const RunResult r2 = run(nobody.frame);
  EXPECT_EQ(r2.delta[SW_HC_PASS_NO_SOCKET], 1u);
  expect_untouched(r2);
}

TEST_F(HostProgramTest, SynsRstsAndNonTcpPassUntouched) {
  for (uint8_t flags : {tcpflag::kSyn, static_cast<uint8_t>(tcpflag::kRst | tcpflag::kAck),
                        static_cast<uint8_t>(tcpflag::kSyn | tcpflag::kAck)}) {
    FrameBuilder b;
    b.macs(parse_mac("02:00:00:00:00:02"), parse_mac("02:00:00:00:00:01"))
        .ipv4("198.51.100.9", kHost4).ports(5555, kPort).flags(flags);
    const RunResult r = run(b.build());
    expect_untouched(r);
    EXPECT_EQ(r.delta[SW_HC_ACK], 0u);
  }
  FrameBuilder udp;
  udp.macs(parse_mac("02:00:00:00:00:02"), parse_mac("02:00:00:00:00:01"))
      .ipv4("198.51.100.9", kHost4).ip_protocol(17).payload({0, 1, 2, 3, 4, 5, 6, 7});
  expect_untouched(run(udp.build()));
}

TEST_F(HostProgramTest, EstablishedConnectionsAreNotHashed) {
  // A real connection over loopback to the protected port: its ACK finds the established socket.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kPort);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  ::getsockname(client, reinterpret_cast<sockaddr*>(&local), &len);
  FrameBuilder b;
  b.macs(parse_mac("02:00:00:00:00:02"), parse_mac("02:00:00:00:00:01"))
      .ipv4("127.0.0.1", "127.0.0.1").ports(ntohs(local.sin_port), kPort)
      .flags(tcpflag::kAck).seq(1).ack(1);
  const RunResult r = run(b.build());
  EXPECT_EQ(r.delta[SW_HC_PASS_SOCKET], 1u);
  EXPECT_EQ(r.delta[SW_HC_COOKIE_INVALID], 0u);
  expect_untouched(r);
  ::close(client);
}

TEST_F(HostProgramTest, WithoutKeysNothingIsValidated) {
  // A fresh program whose state map was never written.
  HostProgramOptions opts;
  opts.ports = {kPort};
  opts.pin_dir = "";
  HostProgram bare(opts);
  const HostSecrets s = secrets_for(current_);
  const Ack ack = make_ack(s, clock_for(s), false, 8000, 3, SynOptions{}, TsLayout::kNone);
  std::vector<uint8_t> out(ack.frame.size() + 256);
  bpf_test_run_opts o{};
  o.sz = sizeof o;
  o.data_in = ack.frame.data();
  o.data_size_in = static_cast<uint32_t>(ack.frame.size());
  o.data_out = out.data();
  o.data_size_out = static_cast<uint32_t>(out.size());
  ASSERT_EQ(bpf_prog_test_run_opts(bare.program_fd(), &o), 0);
  EXPECT_EQ(o.retval, kRetUnspec);
  EXPECT_EQ(bare.counters()[SW_HC_PASS_NO_KEYS], 1u);
  EXPECT_FALSE(bare.read_state().has_value());
}

TEST_F(HostProgramTest, StateRoundTripsThroughTheMap) {
  HostKeyState state;
  state.current = current_;
  state.previous = agent::generate_keyset(6, 5);
  state.previous.valid_until_ns = 123;
  state.rcv_wscale = 4;
  state.tcp_timestamps = 2;
  program_->write_state(state);
  const auto back = program_->read_state();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, state);
}

// Cost per ACK as BPF_PROG_TEST_RUN measures it (prints the numbers; the bound only catches a
// pathological regression such as an unbounded option walk or a lost early exit).
TEST_F(HostProgramTest, ReportsItsCostPerPacket) {
  const HostSecrets s = secrets_for(current_);
  SynOptions syn;
  syn.has_mss = true;
  syn.mss = 1460;
  syn.has_timestamp = true;
  syn.has_wscale = true;
  syn.wscale = 7;
  syn.sack_permitted = true;
  const Ack valid4 = make_ack(s, clock_for(s), false, 9001, 77, syn, TsLayout::kNopNopTs);
  const Ack valid6 = make_ack(s, clock_for(s), true, 9002, 77, syn, TsLayout::kNopNopTs);
  Ack invalid = valid4;
  invalid.frame[14 + 20 + 10] ^= 0x10;
  const Ack other = make_ack(s, clock_for(s), false, 9003, 77, syn, TsLayout::kNopNopTs, kPortOther);
  struct Case {
    const char* name;
    const std::vector<uint8_t>* frame;
  } cases[] = {{"valid cookie ACK, IPv4", &valid4.frame},
               {"valid cookie ACK, IPv6", &valid6.frame},
               {"invalid cookie ACK (current + no previous)", &invalid.frame},
               {"ACK to an unprotected port", &other.frame}};
  for (const Case& c : cases) {
    std::vector<uint8_t> out(c.frame->size() + 256);
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = c.frame->data();
    opts.data_size_in = static_cast<uint32_t>(c.frame->size());
    opts.data_out = out.data();
    opts.data_size_out = static_cast<uint32_t>(out.size());
    opts.repeat = 200'000;
    ASSERT_EQ(bpf_prog_test_run_opts(program_->program_fd(), &opts), 0);
    std::printf("host program: %-44s %5u ns per packet\n", c.name, opts.duration);
    EXPECT_LT(opts.duration, 20'000u) << c.name;
  }
}

}  // namespace
}  // namespace synwarden
