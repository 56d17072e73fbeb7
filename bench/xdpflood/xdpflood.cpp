// xdpflood: the benchmark's SYN (or wrong-cookie ACK) flood generator. Same frames as synflood
// (a Linux client's SYN: MSS, SACK_PERM, TS, WS; random sources from a prefix, random ports
// and sequence numbers), but transmitted by BPF_PROG_TEST_RUN in live-frames mode: the kernel
// runs xdpflood.bpf.c over page-pool copies of one template frame and transmits each one out of
// the interface with ndo_xdp_xmit, batched, without building an skb. One thread per --cpus
// entry; on veth, frames land in the peer's RX queue number (sending CPU % RX queues), so
// the CPU list also chooses which of the firewall's queues are fed.
//
// Prints one JSON line when transmitting starts ({"event":"started","counter_map_id":N}: the
// per-CPU counter of frames sent, for live readers) and one at exit with the totals.
#include <arpa/inet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "synwarden/clock_now.h"
#include "synwarden/codec.h"
#include "synwarden/packet_builder.h"
#include "xdpflood.skel.h"

namespace {

using synwarden::monotonic_ns;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct Options {
  std::string interface;
  std::string src_mac;  // empty: the interface's own
  std::string dst_mac;
  std::string dst;
  uint16_t dst_port = 80;
  std::string src_prefix;
  uint16_t vlan = 0;
  std::string mode = "syn";
  uint64_t rate = 0;      // frames per second over all threads, 0 = as fast as possible
  double duration = 0;
  std::vector<int> cpus{0};
  uint32_t batch = 64;
};

synwarden::MacAddress interface_mac(const std::string& name) {
  const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) throw std::system_error(errno, std::generic_category(), "socket");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const int rc = ioctl(sock, SIOCGIFHWADDR, &ifr);
  const int err = errno;
  close(sock);
  if (rc != 0) throw std::system_error(err, std::generic_category(), "SIOCGIFHWADDR on " + name);
  synwarden::MacAddress mac{};
  std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
  return mac;
}

// The source prefix as the program's 4 network-order words of base and kept (fixed) bits.
void set_prefix(const std::string& text, bool& ipv6, xdpflood_bpf* skel) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw std::invalid_argument("--src-prefix needs /LEN: " + text);
  uint8_t base[16] = {};
  const std::string addr = text.substr(0, slash);
  const unsigned bits = static_cast<unsigned>(std::stoul(text.substr(slash + 1)));
  if (inet_pton(AF_INET, addr.c_str(), base) == 1 && bits <= 32) {
    ipv6 = false;
  } else if (inet_pton(AF_INET6, addr.c_str(), base) == 1 && bits <= 128) {
    ipv6 = true;
  } else {
    throw std::invalid_argument("--src-prefix is not an address/len: " + text);
  }
  uint8_t keep[16] = {};
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned fixed = bits > i * 8 ? std::min(8u, bits - i * 8) : 0;
    keep[i] = static_cast<uint8_t>(fixed == 0 ? 0 : 0xFF << (8 - fixed));
  }
  std::memcpy(skel->rodata->src_base, base, sizeof base);
  std::memcpy(skel->rodata->src_keep, keep, sizeof keep);
}

std::vector<uint8_t> build_template(const Options& o, bool ipv6, const std::string& src) {
  synwarden::FrameBuilder b;
  b.macs(o.src_mac.empty() ? interface_mac(o.interface) : synwarden::parse_mac(o.src_mac),
         synwarden::parse_mac(o.dst_mac));
  if (o.vlan != 0) b.vlan(synwarden::ethertype::kVlan, o.vlan);
  if (ipv6) b.ipv6(src, o.dst);
  else b.ipv4(src, o.dst);
  b.ports(40000, o.dst_port);
  if (o.mode == "syn") b.flags(synwarden::tcpflag::kSyn).linux_syn_options(1460, 1, 7);
  else b.flags(synwarden::tcpflag::kAck).timestamp(1, 1);
  return b.build();
}

struct SkelDeleter {
  void operator()(xdpflood_bpf* s) const { xdpflood_bpf__destroy(s); }
};

// One generator thread, pinned to `cpu`: test-run calls of up to `chunk` frames until told to
// stop, paced to `rate` frames/s (0 = unpaced).
void generate(int prog_fd, int cpu, const std::vector<uint8_t>& frame, const xdp_md& ctx,
              uint64_t rate, uint32_t batch, uint64_t end_ns, std::atomic<int>& error) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<size_t>(cpu), &set);
  if (int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set); rc != 0) {
    error.store(rc);
    g_stop.store(true);
    return;
  }
  // Each call sets up a page pool, so calls are made large; unpaced, ~10-50 ms each.
  constexpr uint64_t kChunk = 1u << 16;
  const uint64_t start = monotonic_ns();
  uint64_t done = 0;
  while (!g_stop.load(std::memory_order_relaxed) && monotonic_ns() < end_ns) {
    uint64_t want = kChunk;
    if (rate != 0) {
      const uint64_t allowed = (monotonic_ns() - start) * rate / 1'000'000'000ull;
      if (allowed <= done) {
        const timespec pause{0, 500'000};
        nanosleep(&pause, nullptr);
        continue;
      }
      want = std::min(want, allowed - done);
    }
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof ctx, .repeat = static_cast<int>(want),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = batch);
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0 && errno != EINTR) {
      error.store(errno);
      g_stop.store(true);  // the other threads stop too: the run is void
      return;
    }
    done += want;
  }
}

uint64_t total_sent(int map_fd) {
  const int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> values(static_cast<size_t>(ncpu));
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(map_fd, &key, values.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t v : values) sum += v;
  return sum;
}

int run(const Options& o) {
  const unsigned ifindex = if_nametoindex(o.interface.c_str());
  if (ifindex == 0) throw std::runtime_error("interface not found: " + o.interface);
  std::unique_ptr<xdpflood_bpf, SkelDeleter> skel(xdpflood_bpf__open());
  if (!skel) throw std::system_error(errno, std::generic_category(), "opening xdpflood's BPF");
  bool ipv6 = false;
  set_prefix(o.src_prefix, ipv6, skel.get());
  char src_text[INET6_ADDRSTRLEN];
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, skel->rodata->src_base, src_text, sizeof src_text);
  const std::vector<uint8_t> frame = build_template(o, ipv6, src_text);
  synwarden::ParsedFrame parsed;
  if (synwarden::parse_frame(frame.data(), frame.size(), parsed) != synwarden::Verdict::kOk) {
    throw std::logic_error("xdpflood built a frame its own parser rejects");
  }
  if (frame.size() > sizeof skel->rodata->frame_template) {
    throw std::invalid_argument("template frame of " + std::to_string(frame.size()) +
                                " bytes is longer than xdpflood's BPF copy limit");
  }
  std::memcpy(skel->rodata->frame_template, frame.data(), frame.size());
  skel->rodata->frame_len = static_cast<uint32_t>(frame.size());
  skel->rodata->out_ifindex = ifindex;
  skel->rodata->l3_off = parsed.l3_offset;
  skel->rodata->l4_off = parsed.l4_offset;
  skel->rodata->is_ipv6 = ipv6 ? 1 : 0;
  skel->rodata->ack_mode = o.mode == "ack" ? 1 : 0;
  if (xdpflood_bpf__load(skel.get()) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "loading xdpflood's BPF (needs root and Linux >= 5.18)");
  }
  const int prog_fd = bpf_program__fd(skel->progs.xdpflood_randomise);
  const int map_fd = bpf_map__fd(skel->maps.xdpflood_sent);
  bpf_map_info info{};
  uint32_t info_len = sizeof info;
  bpf_obj_get_info_by_fd(map_fd, &info, &info_len);

  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame.size());
  ctx.ingress_ifindex = ifindex;
  const uint64_t start = monotonic_ns();
  const uint64_t end = start + static_cast<uint64_t>(o.duration * 1e9);
  std::atomic<int> error{0};
  std::vector<std::thread> threads;
  // Each thread paces itself to its share; a non-zero rate never rounds down to "unpaced".
  const uint64_t thread_rate = o.rate == 0 ? 0 : std::max<uint64_t>(1, o.rate / o.cpus.size());
  for (int cpu : o.cpus) {
    threads.emplace_back(generate, prog_fd, cpu, std::cref(frame), std::cref(ctx), thread_rate,
                         o.batch, end, std::ref(error));
  }
  // After the threads exist, so whoever reads this line can renice all of them.
  std::printf("{\"event\":\"started\",\"counter_map_id\":%u}\n", info.id);
  std::fflush(stdout);
  for (auto& t : threads) t.join();
  if (error.load() != 0) {
    throw std::system_error(error.load(), std::generic_category(),
                            "BPF_PROG_TEST_RUN live frames out of " + o.interface +
                                " (a veth peer needs XDP or GRO to take XDP frames)");
  }
  const double seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
  const uint64_t sent = total_sent(map_fd);
  std::printf("{\"event\":\"done\",\"mode\":\"%s\",\"sent\":%llu,\"seconds\":%.3f,\"pps\":%.0f}\n",
              o.mode.c_str(), static_cast<unsigned long long>(sent), seconds,
              seconds > 0 ? static_cast<double>(sent) / seconds : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xdpflood: SYN / wrong-cookie ACK flood through XDP live frames (benchmarks)"};
  Options o;
  app.add_option("--interface", o.interface, "interface to transmit on")->required();
  app.add_option("--src-mac", o.src_mac, "source MAC (default: the interface's)");
  app.add_option("--dst-mac", o.dst_mac, "destination MAC (the firewall's)")->required();
  app.add_option("--dst", o.dst, "protected IPv4/IPv6 address")->required();
  app.add_option("--dst-port", o.dst_port, "protected TCP port");
  app.add_option("--src-prefix", o.src_prefix, "random sources from this prefix")->required();
  app.add_option("--vlan", o.vlan, "802.1Q VLAN id (0 = untagged)")->check(CLI::Range(0, 4094));
  app.add_option("--mode", o.mode, "syn or ack (ACKs with random cookies)")
      ->check(CLI::IsMember({"syn", "ack"}));
  app.add_option("--rate", o.rate, "frames per second in all, 0 = as fast as possible");
  app.add_option("--duration", o.duration, "seconds to run")->required()->check(
      CLI::PositiveNumber);
  app.add_option("--cpus", o.cpus, "one generator thread pinned to each CPU")->delimiter(',');
  app.add_option("--batch", o.batch, "frames per test-run batch")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xdpflood: %s\n", e.what());
    return 1;
  }
}
