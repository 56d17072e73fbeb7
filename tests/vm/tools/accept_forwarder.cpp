#include "accept_forwarder.h"

#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "synwarden/clock_now.h"
#include "synwarden/codec.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/synack_planner.h"

namespace synwarden::vmtest {
namespace {

// The forwarder's own address on both wires (a locally administered MAC).
constexpr MacAddress kFirewallMac{0x02, 0x00, 0x5e, 0x00, 0x53, 0xfe};
constexpr size_t kFrameCap = 16384;

}  // namespace

AcceptForwarder::AcceptForwarder(const TapDevice& client_side, const TapDevice& host_side,
                                 const MacAddress& client_mac, const MacAddress& host_mac,
                                 const HostSecrets& secrets, const HostClock& host_clock)
    : client_side_(client_side),
      host_side_(host_side),
      client_mac_(client_mac),
      host_mac_(host_mac),
      secrets_(secrets),
      host_clock_(host_clock),
      thread_([this] { run(); }) {}

AcceptForwarder::~AcceptForwarder() {
  stop_ = true;
  thread_.join();
}

void AcceptForwarder::run() noexcept {
  std::vector<uint8_t> frame(kFrameCap);
  pollfd fds[2] = {{client_side_.fd(), POLLIN, 0}, {host_side_.fd(), POLLIN, 0}};
  while (!stop_.load()) {
    if (::poll(fds, 2, 50) <= 0) continue;
    try {
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        const ssize_t n = ::read(fds[i].fd, frame.data(), frame.size());
        if (n <= 0) continue;
        if (i == 0) {
          from_client(frame.data(), static_cast<size_t>(n));
        } else {
          from_host(frame.data(), static_cast<size_t>(n));
        }
      }
    } catch (const std::exception& e) {
      std::cerr << "accept forwarder: " << e.what() << "\n";
    }
  }
}

void AcceptForwarder::from_client(uint8_t* frame, size_t len) {
  ParsedFrame f;
  if (parse_frame(frame, len, f, ChecksumPolicy::kVerify) != Verdict::kOk) return;  // ND, MLD
  if (!f.is_syn()) {
    rewrite_macs(frame, len, host_mac_, kFirewallMac);
    host_side_.send(frame, len);
    forwarded_.fetch_add(1);
    return;
  }
  // The firewall's SYN path: the host's clock now, the engine's plan, the SYN-ACK in place.
  const ClockReading clock = host_clock_.at(monotonic_ns() / 1000000);
  SynAckPlan plan;
  if (f.family == IpFamily::kIpv4) {
    const Ipv4Flow flow{load_raw32(f.saddr), load_raw32(f.daddr), f.sport, f.dport};
    plan = plan_synack(secrets_, clock, flow, f.seq, f.options);
  } else {
    Ipv6Flow flow;
    std::memcpy(flow.client_addr.data(), f.saddr, 16);
    std::memcpy(flow.host_addr.data(), f.daddr, 16);
    flow.client_port = f.sport;
    flow.host_port = f.dport;
    plan = plan_synack(secrets_, clock, flow, f.seq, f.options);
  }
  SynAckFrameParams params;
  params.src_mac = kFirewallMac;
  const size_t out = build_synack_in_place(frame, kFrameCap, f, plan, params);
  if (out == 0) {
    syns_leaked_.fetch_add(1);  // counted as a failure by the test
    return;
  }
  client_side_.send(frame, out);
  syns_answered_.fetch_add(1);
}

void AcceptForwarder::from_host(uint8_t* frame, size_t len) {
  ParsedFrame f;
  if (parse_frame(frame, len, f) != Verdict::kOk) return;
  if (f.is_syn()) syns_leaked_.fetch_add(1);  // the host never opens connections here
  rewrite_macs(frame, len, client_mac_, kFirewallMac);
  client_side_.send(frame, len);
  forwarded_.fetch_add(1);
}

}  // namespace synwarden::vmtest
