#include "xdp_cookie_runner.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "synwarden/bpf_cookie_keys.h"
#include "synwarden/clock_now.h"
#include "synwarden/codec.h"
#include "synwarden/cookie.h"
#include "synwarden/dataplane/xdp_fastpath.h"
#include "synwarden/packet_builder.h"
#include "synwarden/tcp_timestamp.h"

namespace synwarden::ctl {

namespace {

// Locally administered MACs: the frames never leave the test run.
constexpr MacAddress kClientMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr MacAddress kFirewallMac{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};
constexpr MacAddress kHostMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x10};

// A run takes microseconds; 50 millisecond boundaries in a row mean the machine is starved.
constexpr int kAttempts = 50;
// The ts_off probe puts the clock sample this far in the firewall's future: the host TCP clock
// then reads 0 (HostClock clamps a negative estimate at 0), whatever the run's millisecond.
constexpr uint64_t kPinnedClockLeadMs = 1'000'000;
// cookie_init_timestamp() at TCP clock 0 for a SYN with only a timestamp option: options 0xf
// exceed the clock, so it steps back 64 ms: TSval = 0xf - 64 + ts_off (mod 2^32).
constexpr uint32_t kPinnedTsvalWithoutOffset = kTsOptWscaleMask - 64;

// A segment from the client to the host as it reaches the firewall's NIC.
FrameBuilder client_to_host(const Endpoint& client, const Endpoint& host) {
  FrameBuilder b;
  b.macs(kClientMac, kFirewallMac);
  if (client.address.is_v6()) b.ipv6(client.address.to_string(), host.address.to_string());
  else b.ipv4(client.address.to_string(), host.address.to_string());
  b.ports(client.port, host.port);
  return b;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("--datapath xdp: " + what);
}

void require(const dataplane::Result<void>& r, const std::string& what) {
  if (!r) fail(what + ": " + r.error().message);
}

std::string reason_text(uint32_t reason) {
  return std::string(dataplane::StatsTable::reason_name(static_cast<sw_reason>(reason)));
}

}  // namespace

struct XdpCookieRunner::Outcome {
  uint32_t verdict = 0;
  uint32_t reason = SW_R_NONE;
  std::vector<uint8_t> out;
};

void XdpCookieRunner::require_privileges() {
  if (geteuid() != 0) {
    fail("loading synwarden's XDP program and running it with BPF_PROG_TEST_RUN needs root "
         "(CAP_BPF, CAP_NET_ADMIN); run synwardenctl as root, or drop --datapath xdp to use the "
         "C++ engine");
  }
}

XdpCookieRunner::XdpCookieRunner(const XdpQuery& q) : q_(q) {
  require_privileges();
  dataplane::LoadOptions opts;  // no pin_dir: a private instance, invisible to a daemon
  opts.host_table_size = 4;
  opts.flow_table_size = 64;
  opts.outbound_table_size = 64;
  opts.max_queues = 1;
  auto loaded = dataplane::XdpFastpath::load(opts);
  if (!loaded) fail("loading the XDP program: " + loaded.error().message);
  fp_ = std::make_unique<dataplane::XdpFastpath>(std::move(*loaded));

  dataplane::Settings settings;
  settings.firewall_mac = kFirewallMac;
  settings.xdp_cookies = true;  // no SYN-ACK rate limit: cookie_synack_rate_pps = 0
  require(fp_->settings().write(settings), "writing the program's settings");
  dataplane::HostEntry entry;
  entry.mac = kHostMac;
  entry.protect = true;
  require(fp_->hosts().upsert(q_.host.address, entry),
          "protecting " + q_.host.address.to_string());
}

XdpCookieRunner::~XdpCookieRunner() = default;

XdpCookieRunner::Outcome XdpCookieRunner::run_at_instant(const std::vector<uint8_t>& frame,
                                                         bool pin_ts_clock) {
  sw_host_key key{};
  key.family = dataplane::sw_family_of(q_.host.address);
  dataplane::copy_words(q_.host.address, key.addr);
  // Host instant - sample instant, modulo 2^64 like HostClock's own elapsed time.
  const uint64_t elapsed = q_.now_mono_ms - q_.secrets.clock.mono_ms;
  Outcome o;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // A valid ACK learns its flow, and a SYN on a learnt tuple would go to the host: start clean.
    require(fp_->flows().clear(), "emptying the flow table");
    require(fp_->stats().reset(), "resetting the counters");
    const uint64_t now = monotonic_ms();
    sw_host_cookie value{};
    value.flags = SW_HC_HAS_KEYS;
    value.current = bpf_cookie_keys(q_.secrets, HostClock(q_.secrets.clock, now - elapsed, q_.safety));
    if (pin_ts_clock) {
      value.current.clock.mono_ms = 0;
      value.current.clock.local_ms = now + kPinnedClockLeadMs;
      value.current.clock.ts_margin_ms = 0;
      value.current.clock.drift_ppm = 0;
    }
    // One plain update: this private program runs only inside our own test runs, so there is
    // no concurrent reader to wait for (HostCookieTable::write() would wait for RCU).
    if (int ret = bpf_map_update_elem(fp_->host_cookies().fd(), &key, &value, BPF_ANY); ret < 0) {
      fail("writing the host's keys to sw_host_cookies: " + std::string(std::strerror(-ret)));
    }
    o.out.assign(frame.size() + 256, 0);
    LIBBPF_OPTS(bpf_test_run_opts, run);
    run.data_in = frame.data();
    run.data_size_in = static_cast<__u32>(frame.size());
    run.data_out = o.out.data();
    run.data_size_out = static_cast<__u32>(o.out.size());
    run.repeat = 1;
    if (int ret = bpf_prog_test_run_opts(fp_->program_fd(), &run); ret < 0) {
      fail("BPF_PROG_TEST_RUN: " + std::string(std::strerror(-ret)));
    }
    if (monotonic_ms() != now) continue;  // the program may have read the next millisecond
    o.verdict = run.retval;
    o.out.resize(run.data_size_out);
    auto decisions = fp_->stats().last_decisions();
    if (!decisions) fail("reading the program's decision: " + decisions.error().message);
    for (const sw_decision& d : *decisions) {
      if (d.seq != 0) o.reason = d.reason;
    }
    return o;
  }
  fail("the firewall's millisecond clock never held still for one run (" +
       std::to_string(kAttempts) + " attempts): is the machine overloaded?");
}

std::vector<uint8_t> XdpCookieRunner::syn_frame(uint32_t isn, const SynOptions& syn) const {
  FrameBuilder b = client_to_host(q_.client, q_.host);
  b.seq(isn);
  b.flags(static_cast<uint8_t>(tcpflag::kSyn | (syn.ece_cwr ? tcpflag::kEce | tcpflag::kCwr : 0)));
  // Linux's SYN layout (tcp_options_write()), each option only when asked for.
  if (syn.has_mss) b.mss(syn.mss);
  if (syn.sack_permitted) b.sack_permitted();
  if (syn.has_timestamp) b.timestamp(syn.tsval, 0);
  if (syn.has_wscale) b.nop().wscale(syn.wscale);
  return b.build();
}

std::vector<uint8_t> XdpCookieRunner::ack_frame(const AckSegment& ack) const {
  FrameBuilder b = client_to_host(q_.client, q_.host);
  b.flags(tcpflag::kAck).seq(ack.seq).ack(ack.ack);
  if (ack.has_timestamp) b.nop().nop().timestamp(ack.tsval, ack.tsecr);
  return b.build();
}

// The program's reason for an ACK, as the engine's AckStatus; anything else is a failure.
static AckStatus ack_status_of(uint32_t reason) {
  switch (reason) {
    case SW_R_XDP_ACK_VALID: return AckStatus::kAccepted;
    case SW_R_DROP_COOKIE_EXPIRED: return AckStatus::kCookieOutOfWindow;
    case SW_R_DROP_COOKIE_BAD: return AckStatus::kCookieBadHash;
    case SW_R_DROP_COOKIE_OPTION: return AckStatus::kOptionDisabled;
    default: fail("the XDP program did not judge the ACK's cookie (reason " + reason_text(reason) + ")");
  }
}

bool XdpCookieRunner::ack_valid(const AckSegment& ack) {
  return ack_status_of(run_at_instant(ack_frame(ack), false).reason) == AckStatus::kAccepted;
}

uint8_t XdpCookieRunner::mss_index_of(const AckSegment& valid_ack) {
  AckSegment probe = valid_ack;
  probe.has_timestamp = false;  // the cookie alone
  uint8_t index = 0;
  for (uint32_t k = 1; k <= 3; ++k) {
    probe.ack = valid_ack.ack - k;
    if (!ack_valid(probe)) break;
    index = static_cast<uint8_t>(k);
  }
  return index;
}

uint32_t XdpCookieRunner::probe_ts_off() {
  SynOptions ts_only;
  ts_only.has_timestamp = true;
  ts_only.tsval = 1;
  const Outcome o = run_at_instant(syn_frame(0, ts_only), true);
  ParsedFrame p;
  if (o.reason != SW_R_XDP_SYNACK ||
      parse_frame(o.out.data(), o.out.size(), p, ChecksumPolicy::kVerify) != Verdict::kOk) {
    fail("the ts_off probe SYN was not answered with a SYN-ACK (reason " + reason_text(o.reason) + ")");
  }
  if (!p.options.has_timestamp) return 0;  // tcp_timestamps = 0: no timestamps, no offset
  return p.options.tsval - kPinnedTsvalWithoutOffset;
}

XdpSynAck XdpCookieRunner::synack(uint32_t isn, const SynOptions& syn) {
  const Outcome o = run_at_instant(syn_frame(isn, syn), false);
  if (o.verdict != XDP_TX || o.reason != SW_R_XDP_SYNACK) {
    fail("the XDP program did not answer the SYN with a SYN-ACK (reason " + reason_text(o.reason) +
         ", verdict " + std::to_string(o.verdict) + ")");
  }
  ParsedFrame p;
  const Verdict v = parse_frame(o.out.data(), o.out.size(), p, ChecksumPolicy::kVerify);
  if (v != Verdict::kOk) fail(std::string("the program's SYN-ACK does not parse: ") + verdict_name(v));
  const size_t alen = q_.client.address.is_v6() ? 16 : 4;
  if ((p.tcp_flags & (tcpflag::kSyn | tcpflag::kAck)) != (tcpflag::kSyn | tcpflag::kAck) ||
      std::memcmp(p.saddr, q_.host.address.bytes().data(), alen) != 0 ||
      std::memcmp(p.daddr, q_.client.address.bytes().data(), alen) != 0 ||
      ntohs(p.sport) != q_.host.port ||
      ntohs(p.dport) != q_.client.port) {
    fail("the program's answer is not a SYN-ACK from the host to the client");
  }
  XdpSynAck r;
  SynAckPlan& plan = r.plan;
  plan.seq = p.seq;
  plan.ack = p.ack;
  plan.window = p.window;
  plan.mss = p.options.has_mss ? p.options.mss : 0;
  plan.sack_permitted = p.options.sack_permitted;
  plan.has_timestamp = p.options.has_timestamp;
  plan.tsval = p.options.tsval;
  plan.tsecr = p.options.tsecr;
  plan.has_wscale = p.options.has_wscale;
  plan.wscale = p.options.wscale;
  plan.ece = (p.tcp_flags & tcpflag::kEce) != 0;
  const uint8_t* opt = o.out.data() + p.l4_offset + 20;
  r.options.assign(opt, opt + (p.tcp_header_len - 20));

  const AckSegment ack{isn + 1, p.seq + 1, false, 0, 0};
  if (!ack_valid(ack)) fail("the XDP program refused the ACK of its own SYN-ACK's cookie");
  plan.mss_index = mss_index_of(ack);
  if (plan.has_timestamp) r.ts_off = probe_ts_off();
  return r;
}

AckVerdict XdpCookieRunner::check(const AckSegment& ack) {
  AckVerdict v;
  v.status = ack_status_of(run_at_instant(ack_frame(ack), false).reason);
  if (!v.valid()) return v;
  v.mss_index = mss_index_of(ack);
  v.mss = (q_.client.address.is_v6() ? kMssTableV6 : kMssTableV4)[v.mss_index];
  // What the host makes of the TSecr (cookie_tcp_check(), cookie_timestamp_decode()): the program
  // only refuses options a sysctl disables, so the decode is done here on its ts_off.
  const TcpSysctls& sys = q_.secrets.sysctls;
  const bool saw_tstamp = ack.has_timestamp && sys.tcp_timestamps != 0;
  uint32_t tsecr = saw_tstamp ? ack.tsecr : 0;
  if (saw_tstamp && tsecr != 0) {
    v.ts_off = probe_ts_off();
    tsecr -= v.ts_off;
  }
  v.tstamp_ok = saw_tstamp;
  if (saw_tstamp) {
    const TsCookieOptions o = cookie_timestamp_decode(tsecr, sys.tcp_sack, sys.tcp_window_scaling);
    if (!o.accepted) fail("the program accepted an ACK whose TSecr names a disabled option");
    v.sack_ok = o.sack_ok;
    v.wscale_ok = o.wscale_ok;
    v.snd_wscale = o.snd_wscale;
  }
  v.ecn_ok = (tsecr & kTsOptEcn) != 0 && sys.tcp_ecn != 0;
  return v;
}

}  // namespace synwarden::ctl
