#include "xdp_harness.h"

#include <bpf/bpf.h>
#include <sched.h>

#include <cstring>

namespace synwarden::test {

using dataplane::StatsTable;

dataplane::XdpFastpath* FastpathTest::fp_ = nullptr;

std::string verdict_name(std::uint32_t verdict) {
  switch (verdict) {
    case XDP_ABORTED: return "XDP_ABORTED";
    case XDP_DROP: return "XDP_DROP";
    case XDP_PASS: return "XDP_PASS";
    case XDP_TX: return "XDP_TX";
    case XDP_REDIRECT: return "XDP_REDIRECT";
    default: return "verdict " + std::to_string(verdict);
  }
}

void pin_to_one_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0) << std::strerror(errno);
}

RunResult run_frame(dataplane::XdpFastpath& fp, const Bytes& frame, int ifindex,
                    std::uint32_t rx_queue) {
  RunResult r;
  auto reset = fp.stats().reset();
  EXPECT_TRUE(reset.ok()) << (reset.ok() ? "" : reset.error().message);

  // Room for growth: the program never grows frames, and a larger buffer proves it (the
  // kernel reports the real output size back in data_size_out).
  r.out.assign(frame.size() + 256, 0xee);
  xdp_md ctx{};
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<__u32>(frame.size());
  opts.data_out = r.out.data();
  opts.data_size_out = static_cast<__u32>(r.out.size());
  opts.repeat = 1;
  if (ifindex != 0) {
    ctx.data_end = static_cast<__u32>(frame.size());
    ctx.ingress_ifindex = static_cast<__u32>(ifindex);
    ctx.rx_queue_index = rx_queue;
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
  }
  const int ret = bpf_prog_test_run_opts(fp.program_fd(), &opts);
  EXPECT_EQ(ret, 0) << "BPF_PROG_TEST_RUN failed: " << std::strerror(-ret);
  r.verdict = opts.retval;
  r.out.resize(opts.data_size_out);

  auto counters = fp.stats().read();
  EXPECT_TRUE(counters.ok()) << (counters.ok() ? "" : counters.error().message);
  if (counters) r.counters = *counters;
  auto last = fp.stats().last_decisions();
  EXPECT_TRUE(last.ok());
  if (last) {
    for (const sw_decision& d : *last) {
      if (d.seq != 0) {
        r.last = d;
        ++r.deciding_cpus;
      }
    }
  }
  return r;
}

std::uint32_t run_raw(int prog_fd, const Bytes& frame, std::uint32_t repeat) {
  Bytes out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<__u32>(frame.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<__u32>(out.size());
  opts.repeat = repeat;
  const int ret = bpf_prog_test_run_opts(prog_fd, &opts);
  EXPECT_EQ(ret, 0) << "BPF_PROG_TEST_RUN failed: " << std::strerror(-ret);
  return opts.retval;
}

void FastpathTest::SetUpTestSuite() {
  pin_to_one_cpu();
  // Small tables: the tests never need more, and the default 1M-entry flow table would cost
  // ~100 MB per test binary.
  dataplane::LoadOptions opts;
  opts.flow_table_size = 4096;
  opts.host_table_size = 64;
  opts.list_prefixes = 256;  // small enough to fill in a test (xdp_lists_test)
  auto loaded = dataplane::XdpFastpath::load(opts);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  fp_ = new dataplane::XdpFastpath(std::move(*loaded));
}

void FastpathTest::TearDownTestSuite() {
  delete fp_;
  fp_ = nullptr;
}

void FastpathTest::SetUp() {
  ASSERT_NE(fp_, nullptr) << "the fast path did not load; see the suite set-up failure";
  auto hosts = fp_->hosts().list();
  ASSERT_TRUE(hosts.ok()) << hosts.error().message;
  for (const auto& [addr, entry] : *hosts) ASSERT_TRUE(fp_->hosts().erase(addr).ok());
  auto cookies = fp_->host_cookies().list();
  ASSERT_TRUE(cookies.ok()) << cookies.error().message;
  for (const auto& addr : *cookies) ASSERT_TRUE(fp_->host_cookies().erase(addr).ok());
  fp_->flow_hint().disable();  // tests that want the hint rebuild it themselves
  auto cleared = fp_->flows().clear();
  ASSERT_TRUE(cleared.ok()) << cleared.error().message;
  auto cleared_outbound = fp_->outbound().clear();
  ASSERT_TRUE(cleared_outbound.ok()) << cleared_outbound.error().message;
  auto cleared_unverified = fp_->outbound_unverified().clear();
  ASSERT_TRUE(cleared_unverified.ok()) << cleared_unverified.error().message;
  auto cleared_keys = fp_->outbound_keys().sync({});
  ASSERT_TRUE(cleared_keys.ok()) << cleared_keys.error().message;
  dataplane::Settings settings;
  settings.firewall_mac = kFirewallMac;
  auto written = fp_->settings().write(settings);
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_TRUE(fp_->stats().reset().ok());
  for (auto kind : {dataplane::ListKind::allow, dataplane::ListKind::deny}) {
    auto emptied = fp_->lists().sync(kind, {});
    ASSERT_TRUE(emptied.ok()) << emptied.error().message;
  }
  ASSERT_TRUE(fp_->lists().reset_hits().ok());
  ASSERT_TRUE(fp_->syn_budget().write({}).ok());
  ASSERT_TRUE(fp_->syn_budget().clear().ok());
}

void FastpathTest::protect(const std::string& addr, bool on, dataplane::HostPolicy policy) {
  dataplane::HostEntry entry;
  entry.mac = kHostMac;
  entry.protect = on;
  entry.policy = policy;
  auto ip = dataplane::IpAddress::parse(addr);
  ASSERT_TRUE(ip.has_value()) << addr;
  auto ok = fp_->hosts().upsert(*ip, entry);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
}

dataplane::FlowKey client_flow(bool v6, std::uint16_t vlan_outer, std::uint16_t vlan_inner,
                               std::uint16_t client_port) {
  dataplane::FlowKey key;
  key.remote = *dataplane::IpAddress::parse(v6 ? kClientV6 : kClientV4);
  key.local = *dataplane::IpAddress::parse(v6 ? kHostV6 : kHostV4);
  key.remote_port = client_port;
  key.local_port = kServicePort;
  key.vlan_outer = vlan_outer;
  key.vlan_inner = vlan_inner;
  return key;
}

void expect_only_reason(const RunResult& r, sw_reason reason, std::size_t frame_len) {
  for (int i = 0; i < SW_REASON_COUNT; ++i) {
    const auto ri = static_cast<sw_reason>(i);
    const dataplane::Counter& c = r.counters[ri];
    if (ri == reason) {
      EXPECT_EQ(c.packets, 1u) << "reason " << StatsTable::reason_name(ri);
      EXPECT_EQ(c.bytes, frame_len) << "reason " << StatsTable::reason_name(ri);
    } else {
      EXPECT_EQ(c.packets, 0u) << "unexpected reason " << StatsTable::reason_name(ri)
                               << " counted (expected only " << StatsTable::reason_name(reason)
                               << ")";
    }
  }
  EXPECT_EQ(r.deciding_cpus, 1);
  EXPECT_EQ(r.last.reason, static_cast<__u32>(reason))
      << "recorded " << StatsTable::reason_name(static_cast<sw_reason>(r.last.reason));
  EXPECT_EQ(r.last.action, r.verdict);
  EXPECT_EQ(r.last.frame_len, frame_len);
  EXPECT_EQ(r.last.seq, 1u);
}

}  // namespace synwarden::test
