// xdp_cost: what the XDP fast path costs per frame, measured with BPF_PROG_TEST_RUN (the
// kernel runs the program `repeat` times in a loop and reports the mean ns per run), beside an
// empty XDP_PASS program run the same way, so the harness's own per-iteration cost is visible.
// Prints a table; asserts nothing about timings. Needs root.
//
//   xdp_cost [--repeat N] [--rounds N]
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

#include "frame_builder.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace {

using namespace synwarden;
using test::Bytes;
using test::FrameBuilder;
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

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t repeat = 1'000'000;
  int rounds = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--repeat") == 0) repeat = static_cast<std::uint32_t>(std::atoi(argv[i + 1]));
    else if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    else die(std::string("unknown option ") + argv[i] + " (use --repeat N --rounds N)");
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
    FrameBuilder b;
    b.eth(kFirewall, kRouter).ipv4("198.51.100.7", dst);
    return b;
  };
  auto v6 = [](const char* dst) {
    FrameBuilder b;
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
  std::printf("(c) runs with no AF_XDP socket bound, so the redirect lookup misses and the frame is\n"
              "    dropped; a bound socket adds the kernel's copy into the socket, not measured here.\n\n");
  std::printf("%-34s %-10s %9s %9s %11s\n", "case", "verdict", "median ns", "min ns", "over empty");
  double empty_median = 0;
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
  return 0;
}
