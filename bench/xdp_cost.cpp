// xdp_cost: what the XDP fast path costs per frame, measured with BPF_PROG_TEST_RUN (the
// kernel runs the program `repeat` times in a loop and reports the mean ns per run), beside an
// empty XDP_PASS program run the same way, so the harness's own per-iteration cost is visible.
// Prints a table; asserts nothing about timings. Needs root.
//
//   xdp_cost [--repeat N] [--rounds N] [--lists N]
//
// --lists N: afterwards loads N source-list prefixes (lists_load.h), reports the load time and
// the tries' memory, and measures rows (a)-(c) again plus a denied source ("over empty" is
// against the same empty program).
//
// Each case is checked to take the intended path (its reason counter must equal the runs), so
// a table row can never silently measure a different branch.
#include <bpf/bpf.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <time.h>

#include "frame_builder.h"
#include "synwarden/bpf_cookie_keys.h"
#include "synwarden/clock_now.h"
#include "synwarden/cookie.h"
#include "synwarden/packet_builder.h"
#include "lists_load.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace {

using namespace synwarden;
using test::Bytes;

namespace flags = test::tcp_flags;

constexpr test::Mac kRouter{0x02, 0, 0, 0, 0, 0x01};
constexpr test::Mac kFirewall{0x02, 0, 0, 0, 0, 0xfe};
constexpr test::Mac kHost{0x02, 0, 0, 0, 0, 0x10};

struct Case {
  std::string name;
  int prog_fd;
  Bytes frame;
  sw_reason reason;  // SW_R_NONE for the empty program
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "xdp_cost: %s\n", what.c_str());
  std::exit(1);
}

// Mean ns per run over `repeat` runs, as measured by the kernel.
double ns_per_frame(const Case& c, std::uint32_t repeat, std::uint32_t* verdict) {
  Bytes out(c.frame.size() + 64);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = c.frame.data();
  opts.data_size_in = static_cast<__u32>(c.frame.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<__u32>(out.size());
  opts.repeat = repeat;
  if (int ret = bpf_prog_test_run_opts(c.prog_fd, &opts); ret != 0) {
    die("BPF_PROG_TEST_RUN on '" + c.name + "': " + std::strerror(-ret));
  }
  *verdict = opts.retval;
  return static_cast<double>(opts.duration);  // kernel reports the per-run mean in ns
}

const char* verdict_name(std::uint32_t v) {
  switch (v) {
    case XDP_DROP: return "XDP_DROP";
    case XDP_PASS: return "XDP_PASS";
    case XDP_TX: return "XDP_TX";
    case XDP_REDIRECT: return "XDP_REDIRECT";
    default: return "other";
  }
}

// Datapath "xdp": the program answers the SYN itself (three SipHashes, the SYN-ACK written in
// place) and checks the cookie of an unknown ACK (two SipHashes, then an LRU insert).
void measure_cookie_datapath(dataplane::XdpFastpath& fp, int empty_fd, std::uint32_t repeat,
                             int rounds, double empty_median) {
  dataplane::Settings settings;
  settings.firewall_mac = kFirewall;
  settings.xdp_cookies = true;
  if (auto ok = fp.settings().write(settings); !ok) die(ok.error().message);
  HostSecrets secrets;
  secrets.syncookie = {SipKey{1, 2}, SipKey{3, 4}};
  secrets.syncookie6 = {SipKey{5, 6}, SipKey{7, 8}};
  secrets.ts_key = SipKey{9, 10};
  secrets.clock = HostClockSample{1'000'000, 250, 5'000'000};
  const HostClock clock(secrets.clock, monotonic_ms());
  std::vector<dataplane::HostCookieTable::Entry> hosts;
  for (const char* addr : {"192.0.2.10", "2001:db8::10"}) {
    dataplane::HostCookieTable::Entry e;
    e.addr = *dataplane::IpAddress::parse(addr);
    e.value.flags = SW_HC_HAS_KEYS;
    e.value.current = bpf_cookie_keys(secrets, clock);
    hosts.push_back(e);
  }
  if (auto ok = fp.host_cookies().write(hosts); !ok) die(ok.error().message);

  auto syn = [](bool v6, std::uint16_t sport) {
    synwarden::FrameBuilder b;
    b.macs(kRouter, kFirewall);
    if (v6) b.ipv6("2001:db8:1::7", "2001:db8::10");
    else b.ipv4("198.51.100.7", "192.0.2.10");
    b.ports(sport, 443).flags(tcpflag::kSyn).seq(12345).linux_syn_options(1460, 777, 7);
    return b;
  };
  const int prog = fp.program_fd();
  const std::vector<Case> repeated = {
      // A random ACK fails the age test after one SipHash (255 times in 256), counted as expired.
      {"(e) forged ACK -> drop, IPv4", prog,
       syn(false, 40003).flags(tcpflag::kAck).seq(1).ack(2).build(), SW_R_DROP_COOKIE_EXPIRED},
  };
  std::printf("\n%-34s %-10s %9s %9s %11s\n", "datapath xdp", "verdict", "median ns", "min ns",
              "over empty");
  for (const Case& c : repeated) {
    std::vector<double> ns;
    std::uint32_t verdict = 0;
    for (int r = 0; r < rounds; ++r) {
      if (auto ok = fp.stats().reset(); !ok) die(ok.error().message);
      ns.push_back(ns_per_frame(c, repeat, &verdict));
      auto counters = fp.stats().read();
      if (!counters) die(counters.error().message);
      if ((*counters)[c.reason].packets != repeat) {
        die("case '" + c.name + "' did not take the path of reason " +
            std::string(dataplane::StatsTable::reason_name(c.reason)));
      }
    }
    std::sort(ns.begin(), ns.end());
    std::printf("%-34s %-10s %9.0f %9.0f %+11.0f\n", c.name.c_str(), verdict_name(verdict),
                ns[ns.size() / 2], ns.front(), ns[ns.size() / 2] - empty_median);
  }

  // A SYN is rewritten into its SYN-ACK and a valid cookie ACK learns its flow, so a repeated
  // run would judge a different frame: these run one at a time (the flow erased in between),
  // beside the empty program run the same way, whose figure is the kernel's per-call timing
  // overhead ("over empty" subtracts it).
  Ipv4Flow flow;
  {
    const Bytes s = syn(false, 40004).build();
    std::memcpy(&flow.client_addr, &s[26], 4);  // raw network-order words, as hashed
    std::memcpy(&flow.host_addr, &s[30], 4);
    flow.client_port = htons(40004);
    flow.host_port = htons(443);
  }
  const std::uint32_t count = clock.at(monotonic_ms()).cookie_count;
  const std::uint32_t cookie = make_cookie_v4(secrets.syncookie, flow, 12345, count, 3);
  const Bytes ack = syn(false, 40004).flags(tcpflag::kAck).seq(12346).ack(cookie + 1).build();
  const dataplane::FlowKey key{*dataplane::IpAddress::parse("198.51.100.7"),
                               *dataplane::IpAddress::parse("192.0.2.10"), 40004, 443, 0, 0};
  const std::vector<Case> singles_cases = {
      {"(d) SYN -> cookie SYN-ACK, IPv4", prog, syn(false, 40002).build(), SW_R_XDP_SYNACK},
      {"(d) SYN -> cookie SYN-ACK, IPv6", prog, syn(true, 40002).build(), SW_R_XDP_SYNACK},
      {"(f) valid cookie ACK -> learn+fwd", prog, ack, SW_R_XDP_ACK_VALID},
  };
  const int singles = 2000 * rounds;
  std::vector<double> empty_ns;
  for (int i = 0; i < singles; ++i) {
    std::uint32_t verdict = 0;
    empty_ns.push_back(ns_per_frame({"empty", empty_fd, ack, SW_R_NONE}, 1, &verdict));
  }
  std::sort(empty_ns.begin(), empty_ns.end());
  const double empty1 = empty_ns[empty_ns.size() / 2];
  for (const Case& c : singles_cases) {
    std::vector<double> ns;
    std::uint32_t verdict = 0;
    if (auto ok = fp.stats().reset(); !ok) die(ok.error().message);
    for (int i = 0; i < singles; ++i) {
      if (auto ok = fp.flows().erase(key); !ok && ok.error().code != ENOENT) die(ok.error().message);
      ns.push_back(ns_per_frame(c, 1, &verdict));
    }
    auto counters = fp.stats().read();
    if (!counters) die(counters.error().message);
    if ((*counters)[c.reason].packets != static_cast<std::uint64_t>(singles)) {
      die("case '" + c.name + "' did not take the path of reason " +
          std::string(dataplane::StatsTable::reason_name(c.reason)));
    }
    std::sort(ns.begin(), ns.end());
    std::printf("%-34s %-10s %9.0f %9.0f %+11.0f  (repeat=1 x %d)\n", c.name.c_str(),
                verdict_name(verdict), ns[ns.size() / 2], ns.front(), ns[ns.size() / 2] - empty1,
                singles);
  }
  std::printf("(d) and (f) ran one frame per call; the empty program costs %.0f ns per call that "
              "way.\n", empty1);
  auto learned = fp.flows().lookup(key);
  if (!learned || !learned->has_value()) die("the valid cookie ACK's flow was not learned");
}

// Runs each case `rounds` times and prints its row. Returns the empty program's median (the
// case with reason NONE), or `empty_median` if the table has none.
double run_table(dataplane::XdpFastpath& fp, const std::vector<Case>& cases, std::uint32_t repeat,
                 int rounds, double empty_median) {
  for (const Case& c : cases) {
    std::vector<double> ns;
    std::uint32_t verdict = 0;
    for (int r = 0; r < rounds; ++r) {
      if (auto ok = fp.stats().reset(); !ok) die(ok.error().message);
      ns.push_back(ns_per_frame(c, repeat, &verdict));
      if (c.reason != SW_R_NONE) {
        auto counters = fp.stats().read();
        if (!counters) die(counters.error().message);
        if ((*counters)[c.reason].packets != repeat) {
          die("case '" + c.name + "' did not take the path of reason " +
              std::string(dataplane::StatsTable::reason_name(c.reason)));
        }
      }
    }
    std::sort(ns.begin(), ns.end());
    const double median = ns[ns.size() / 2];
    if (c.reason == SW_R_NONE) empty_median = median;
    std::printf("%-34s %-10s %9.0f %9.0f %+11.0f\n", c.name.c_str(), verdict_name(verdict), median,
                ns.front(), median - empty_median);
  }
  return empty_median;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t repeat = 1'000'000;
  int rounds = 7;
  std::uint32_t lists = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--repeat") == 0) repeat = static_cast<std::uint32_t>(std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--lists") == 0) lists = static_cast<std::uint32_t>(std::atoi(argv[i + 1]));
    else die(std::string("unknown option ") + argv[i] + " (use --repeat N --rounds N --lists N)");
  }
  if (repeat == 0 || rounds <= 0) die("--repeat and --rounds must be positive");

  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof(one), &one);  // one per-CPU slot, stable cache

  dataplane::LoadOptions lo;
  lo.flow_table_size = 65536;
  auto loaded = dataplane::XdpFastpath::load(lo);
  if (!loaded) die(loaded.error().message);
  dataplane::XdpFastpath& fp = *loaded;
  dataplane::Settings settings;
  settings.firewall_mac = kFirewall;
  if (auto ok = fp.settings().write(settings); !ok) die(ok.error().message);
  dataplane::HostEntry host;
  host.mac = kHost;
  host.protect = true;
  for (const char* addr : {"192.0.2.10", "2001:db8::10"}) {
    if (auto ok = fp.hosts().upsert(*dataplane::IpAddress::parse(addr), host); !ok) die(ok.error().message);
  }
  dataplane::FlowKey k4{*dataplane::IpAddress::parse("198.51.100.7"),
                        *dataplane::IpAddress::parse("192.0.2.10"), 40000, 443, 0, 0};
  dataplane::FlowKey k6{*dataplane::IpAddress::parse("2001:db8:1::7"),
                        *dataplane::IpAddress::parse("2001:db8::10"), 40000, 443, 0, 0};
  for (const auto& k : {k4, k6}) {
    if (auto ok = fp.flows().insert(k, dataplane::FlowOrigin::admin); !ok) die(ok.error().message);
  }

  // The baseline: r0 = XDP_PASS; exit.
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  dataplane::UniqueFd empty(bpf_prog_load(BPF_PROG_TYPE_XDP, "empty_pass", "GPL", insns, 2, nullptr));
  if (!empty.valid()) die(std::string("loading the empty XDP program: ") + std::strerror(errno));

  // Typical frames: a pure ACK with timestamps (66 bytes) and a Linux-like SYN (74 bytes).
  auto v4 = [](const char* dst) {
    test::FrameBuilder b;
    b.eth(kFirewall, kRouter).ipv4("198.51.100.7", dst);
    return b;
  };
  auto v6 = [](const char* dst) {
    test::FrameBuilder b;
    b.eth(kFirewall, kRouter).ipv6("2001:db8:1::7", dst);
    return b;
  };
  const int prog = fp.program_fd();
  const std::vector<Case> cases = {
      {"empty XDP_PASS program", empty.get(), v4("192.0.2.10").tcp(40000, 443, flags::ACK, 12).build(), SW_R_NONE},
      {"(b) not protected -> pass, IPv4", prog, v4("203.0.113.5").tcp(40000, 443, flags::SYN, 20).build(), SW_R_PASS_NOT_PROTECTED},
      {"(a) established -> XDP_TX, IPv4", prog, v4("192.0.2.10").tcp(40000, 443, flags::ACK, 12).build(), SW_R_FWD_ESTABLISHED},
      {"(c) SYN -> AF_XDP steer, IPv4", prog, v4("192.0.2.10").tcp(40001, 443, flags::SYN, 20).build(), SW_R_XSK_SYN_NO_SOCKET},
      {"(b) not protected -> pass, IPv6", prog, v6("2001:db8:2::5").tcp(40000, 443, flags::SYN, 20).build(), SW_R_PASS_NOT_PROTECTED},
      {"(a) established -> XDP_TX, IPv6", prog, v6("2001:db8::10").tcp(40000, 443, flags::ACK, 12).build(), SW_R_FWD_ESTABLISHED},
      {"(c) SYN -> AF_XDP steer, IPv6", prog, v6("2001:db8::10").tcp(40001, 443, flags::SYN, 20).build(), SW_R_XSK_SYN_NO_SOCKET},
  };

  std::printf("XDP fast path cost per frame: BPF_PROG_TEST_RUN, repeat=%u, %d rounds, CPU 0\n",
              repeat, rounds);
  std::printf("(datapath \"afxdp\" rows (a)-(c); datapath \"xdp\" rows (d)-(f) below)\n");
  std::printf("(c) runs with no AF_XDP socket bound, so the redirect lookup misses and the frame is\n"
              "    dropped; a bound socket adds the kernel's copy into the socket, not measured here.\n\n");
  std::printf("%-34s %-10s %9s %9s %11s\n", "case", "verdict", "median ns", "min ns", "over empty");
  const double empty_median = run_table(fp, cases, repeat, rounds, 0);
  measure_cookie_datapath(fp, empty.get(), repeat, rounds, empty_median);
  if (lists != 0) {
    // Back to the afxdp datapath of rows (a)-(c) (the cookie rows turned XDP cookies on).
    if (auto ok = fp.settings().write(settings); !ok) die(ok.error().message);
    const bench::ListsLoad load = bench::load_lists(fp, lists);
    std::printf("\nwith %u source-list prefixes (%u IPv4, %u IPv6; %u per-host): loaded in %.2f s "
                "(SourceListTable::add, one bulk per list), tries %.1f MiB (v4 %.1f, v6 %.1f)\n",
                lists, load.v4, load.v6, load.per_host, load.seconds,
                static_cast<double>(load.v4_bytes + load.v6_bytes) / 1048576.0,
                static_cast<double>(load.v4_bytes) / 1048576.0,
                static_cast<double>(load.v6_bytes) / 1048576.0);
    std::vector<Case> with_lists(cases.begin() + 1, cases.end());
    test::FrameBuilder d4;
    d4.eth(kFirewall, kRouter).ipv4(load.denied_v4, "192.0.2.10").tcp(40000, 443, flags::SYN, 20);
    test::FrameBuilder d6;
    d6.eth(kFirewall, kRouter).ipv6(load.denied_v6, "2001:db8::10").tcp(40000, 443, flags::SYN, 20);
    with_lists.push_back({"(g) denied source, IPv4", prog, d4.build(), SW_R_DROP_DENY_GLOBAL});
    with_lists.push_back({"(g) denied source, IPv6", prog, d6.build(), SW_R_DROP_DENY_GLOBAL});
    std::printf("%-34s %-10s %9s %9s %11s\n", "case", "verdict", "median ns", "min ns", "over empty");
    run_table(fp, with_lists, repeat, rounds, empty_median);
  }
  return 0;
}
