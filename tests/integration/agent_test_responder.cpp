#include "agent_test_responder.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <random>

#include "synwarden/channel_socket.h"
#include "synwarden/codec.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/synack_planner.h"

namespace synwarden::test {

void SecretsSlot::set(const HostSecrets& s, uint64_t sample_local_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  secrets_ = s;
  sample_local_ms_ = sample_local_ms;
}

bool SecretsSlot::get(HostSecrets& secrets, std::optional<HostClock>& clock) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!secrets_) return false;
  secrets = *secrets_;
  clock.emplace(secrets_->clock, sample_local_ms_);   // default ClockSafety, as the daemon
  return true;
}

SynResponder::SynResponder(int packet_fd, int ifindex, uint16_t port, const MacAddress& host_mac,
                           const SecretsSlot& secrets)
    : fd_(packet_fd), ifindex_(ifindex), port_(port), mac_(host_mac), secrets_(secrets) {
  thread_ = std::thread([this] { run(); });
}

SynResponder::~SynResponder() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void SynResponder::run() {
  std::array<uint8_t, 2048> frame;
  SynAckFrameParams params;
  params.src_mac = mac_;
  params.flow_label_seed = std::random_device{}();
  HostSecrets secrets;
  std::optional<HostClock> clock;
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    sockaddr_ll from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd_, frame.data(), frame.size(), 0,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    // Only frames arriving at the host (not the ones it sends, which the socket also sees).
    if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
    ParsedFrame syn;
    if (parse_frame(frame.data(), static_cast<size_t>(n), syn) != Verdict::kOk || !syn.is_syn() ||
        from_be16(syn.dport) != port_) {
      continue;
    }
    if (!secrets_.get(secrets, clock)) {
      ++no_secrets_;
      continue;
    }
    const ClockReading reading = clock->at(monotonic_ms());
    SynAckPlan plan;
    if (syn.family == IpFamily::kIpv4) {
      Ipv4Flow f{load_raw32(syn.saddr), load_raw32(syn.daddr), syn.sport, syn.dport};
      plan = plan_synack(secrets, reading, f, syn.seq, syn.options);
    } else {
      Ipv6Flow f;
      std::memcpy(f.client_addr.data(), syn.saddr, 16);
      std::memcpy(f.host_addr.data(), syn.daddr, 16);
      f.client_port = syn.sport;
      f.host_port = syn.dport;
      plan = plan_synack(secrets, reading, f, syn.seq, syn.options);
    }
    const size_t len = build_synack_in_place(frame.data(), frame.size(), syn, plan, params);
    if (len == 0) continue;
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, frame.data(), 6);
    if (::sendto(fd_, frame.data(), len, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
        static_cast<ssize_t>(len)) {
      ++sent_;
    }
  }
}

}  // namespace synwarden::test
