#include "packet_handler.h"

#include <cstring>

#include "synwarden/checksum.h"
#include "synwarden/packet_bytes.h"
#include "synwarden/synack_planner.h"
#include "synwarden/timestamp_recovery.h"

namespace synwarden::daemon {

namespace {

constexpr uint16_t kVlanVidMask = 0x0FFF;

// The kernel drops a SYN whose checksum is wrong before it could answer it
// (tcp_v4_rcv -> tcp_checksum_complete); so does the firewall. Kept on purpose although it is
// ~5 ns of a SYN's ~70 ns here (codec_bench: Parse_V4Syn ~9.5 ns, _VerifyChecksums ~15 ns): XDP
// gets no checksum-offload verdict from the NIC (and veth has none to give), so this is the
// only check on the path. Skipping it would not weaken the cookie (a forger computes valid checksums for
// free, and an answered SYN creates no state), but a SYN corrupted in transit would get a
// SYN-ACK its client ignores or resets, where the host would have stayed silent: the firewall
// should not be distinguishable from the host it stands in for. Counted as dropped_bad_checksum.
bool syn_checksums_ok(const uint8_t* frame, const ParsedFrame& p) noexcept {
  const uint8_t* tcp = frame + p.l4_offset;
  const size_t tcp_len = size_t{p.tcp_header_len} + p.payload_len;
  if (p.family == IpFamily::kIpv4) {
    return ipv4_header_checksum_ok(frame + p.l3_offset, p.ip_header_len) &&
           tcp_checksum_ok_v4(p.saddr, p.daddr, tcp, tcp_len);
  }
  return tcp_checksum_ok_v6(p.saddr, p.daddr, tcp, tcp_len);
}

RecoveryStatus recover_with(const HostSecrets& secrets, const ClockReading& clock,
                            const ParsedFrame& p, const AckSegment& segment,
                            uint32_t window_ms) noexcept {
  return p.family == IpFamily::kIpv4
             ? recover_by_timestamp(secrets, clock, ipv4_flow_of(p), segment, window_ms)
             : recover_by_timestamp(secrets, clock, ipv6_flow_of(p), segment, window_ms);
}

AckVerdict check_ack_with(const HostSecrets& secrets, const ClockReading& clock,
                          const ParsedFrame& p, const AckSegment& segment) noexcept {
  return p.family == IpFamily::kIpv4 ? check_ack(secrets, clock, ipv4_flow_of(p), segment)
                                     : check_ack(secrets, clock, ipv6_flow_of(p), segment);
}

}  // namespace

sw_flow_key flow_key_of(const ParsedFrame& p) noexcept {
  sw_flow_key key;
  std::memset(&key, 0, sizeof key);  // padding too: the map hashes the key bytewise
  const bool v4 = p.family == IpFamily::kIpv4;
  std::memcpy(key.saddr, p.saddr, v4 ? 4 : 16);
  std::memcpy(key.daddr, p.daddr, v4 ? 4 : 16);
  key.sport = p.sport;
  key.dport = p.dport;
  if (p.vlan_count >= 1) key.vlan_outer = p.vlans[0].tci & kVlanVidMask;
  if (p.vlan_count >= 2) key.vlan_inner = p.vlans[1].tci & kVlanVidMask;
  key.family = v4 ? SW_FAMILY_IPV4 : SW_FAMILY_IPV6;
  return key;
}

PacketHandler::PacketHandler(const HandlerSettings& settings, WorkerCounters& counters,
                             FlowSink& flows)
    : settings_(settings), counters_(counters), flows_(flows),
      host_counters_(settings.host_counters) {
  if (settings_.synack_pps != 0) {
    cost_ns_ = 1'000'000'000ull / settings_.synack_pps;
    if (cost_ns_ == 0) cost_ns_ = 1;
    burst_ns_ = cost_ns_ * (settings_.synack_burst == 0 ? 1 : settings_.synack_burst);
    credit_ns_ = burst_ns_;
  }
}

void PacketHandler::begin_batch(const Snapshot& snapshot, uint64_t now_ns,
                                bool shed_syns) noexcept {
  snapshot_ = &snapshot;
  shed_syns_ = shed_syns;
  settings_.synack.src_mac = snapshot.firewall_mac();
  now_ms_ = now_ns / 1'000'000;
  now_ns_ = now_ns;
  reading_host_ = nullptr;
  if (cost_ns_ != 0) {
    if (last_ns_ != 0 && now_ns > last_ns_) {
      credit_ns_ += now_ns - last_ns_;
      if (credit_ns_ > burst_ns_) credit_ns_ = burst_ns_;
    }
    last_ns_ = now_ns;
  }
}

bool PacketHandler::take_synack_token() noexcept {
  if (cost_ns_ == 0) return true;
  if (credit_ns_ < cost_ns_) return false;
  credit_ns_ -= cost_ns_;
  return true;
}

const ClockReading& PacketHandler::reading_for(const HostEntry& host) noexcept {
  if (reading_host_ != &host) {
    reading_ = host.keys->clock.at(now_ms_);
    reading_host_ = &host;
  }
  return reading_;
}

FrameAction PacketHandler::handle(uint8_t* frame, uint32_t& len, uint32_t capacity) noexcept {
  ParsedFrame p;
  if (parse_frame(frame, len, p) != Verdict::kOk) {
    // Not TCP over IPv4/IPv6, an IPv6 extension chain, or malformed: the XDP program steers
    // only TCP here, so this is junk that got past it.
    bump(counters_.dropped_unparsable);
    return FrameAction::kDrop;
  }
  const HostEntry* host = snapshot_->find(p.family, p.daddr);
  if (host == nullptr) {
    // The XDP hosts map still lists an address the current snapshot removed (or vice versa,
    // for a moment during a reload).
    bump(counters_.dropped_unknown_host);
    return FrameAction::kDrop;
  }
  if (!host->protection) {
    record(*host, Outcome::forwarded_pass_mode);
    return forward(*host, frame, len);
  }
  const uint8_t flags = p.tcp_flags;
  if (flags & (tcpflag::kRst | tcpflag::kFin)) {
    // DESIGN: RST/FIN of an unknown flow is dropped (the XDP program does the same).
    record(*host, Outcome::dropped_rst_fin);
    return FrameAction::kDrop;
  }
  if (flags & tcpflag::kSyn) {
    if (flags & tcpflag::kAck) {
      // SYN-ACKs for the host's own connections are the XDP program's (rate-limited) job.
      record(*host, Outcome::dropped_bad_flags);
      return FrameAction::kDrop;
    }
    return on_syn(*host, frame, len, capacity, p);
  }
  if (!(flags & tcpflag::kAck)) {
    record(*host, Outcome::dropped_bad_flags);
    return FrameAction::kDrop;
  }
  return on_ack(*host, frame, len, p);
}

FrameAction PacketHandler::forward(const HostEntry& host, uint8_t* frame, uint32_t len) noexcept {
  rewrite_macs(frame, len, host.mac, snapshot_->firewall_mac());
  return FrameAction::kTransmit;
}

FrameAction PacketHandler::without_keys(const HostEntry& host, uint8_t* frame,
                                        uint32_t len) noexcept {
  if (host.policy == FailPolicy::kOpen) {
    record(host, Outcome::forwarded_fail_open);
    return forward(host, frame, len);
  }
  record(host, Outcome::dropped_fail_closed);
  return FrameAction::kDrop;
}

FrameAction PacketHandler::on_syn(const HostEntry& host, uint8_t* frame, uint32_t& len,
                                  uint32_t capacity, const ParsedFrame& p) noexcept {
  record(host, Outcome::syn_received);
  if (!host.port_protected(from_be16(p.dport))) {
    record(host, Outcome::forwarded_unprotected_port);
    return forward(host, frame, len);
  }
  if (!host.keys) return without_keys(host, frame, len);
  if (!syn_checksums_ok(frame, p)) {
    record(host, Outcome::dropped_bad_checksum);
    return FrameAction::kDrop;
  }
  if (shed_syns_) {
    // The RX ring is filling faster than SYN-ACKs can be sent. Answering costs a transmit,
    // dropping costs nothing, so the backlog drains and the ring keeps room for ACKs: a lost
    // final ACK is never retransmitted, and a server-speaks-first client would wait forever,
    // while a dropped SYN is retransmitted by the client within a second.
    record(host, Outcome::syn_shed_backlog);
    return FrameAction::kDrop;
  }
  if (!take_synack_token()) {
    record(host, Outcome::syn_rate_limited);
    return FrameAction::kDrop;
  }
  const HostSecrets& secrets = host.keys->secrets;
  const ClockReading& clock = reading_for(host);
  const SynAckPlan plan = p.family == IpFamily::kIpv4
                              ? plan_synack(secrets, clock, ipv4_flow_of(p), p.seq, p.options)
                              : plan_synack(secrets, clock, ipv6_flow_of(p), p.seq, p.options);
  const size_t out = build_synack_in_place(frame, capacity, p, plan, settings_.synack);
  if (out == 0) {
    record(host, Outcome::syn_build_failed);
    return FrameAction::kDrop;
  }
  len = static_cast<uint32_t>(out);
  record(host, Outcome::synack_built);
  return FrameAction::kTransmit;
}

FrameAction PacketHandler::on_ack(const HostEntry& host, uint8_t* frame, uint32_t len,
                                  const ParsedFrame& p) noexcept {
  record(host, Outcome::ack_received);
  if (!host.port_protected(from_be16(p.dport))) {
    record(host, Outcome::forwarded_unprotected_port);
    return forward(host, frame, len);
  }
  if (!host.keys) {
    // Fail open: the host's own kernel does the handshakes now. Learn the flow as XDP pass mode
    // does, so its later segments bypass the workers and survive the keys coming back (here they
    // would then fail the cookie check).
    if (host.policy == FailPolicy::kOpen && !flows_.insert(flow_key_of(p))) {
      bump(counters_.flow_insert_failed);
    }
    return without_keys(host, frame, len);
  }
  AckSegment segment;
  segment.seq = p.seq;
  segment.ack = p.ack;
  segment.has_timestamp = p.options.has_timestamp;
  segment.tsval = p.options.tsval;
  segment.tsecr = p.options.tsecr;
  AckVerdict verdict = check_ack_with(host.keys->secrets, reading_for(host), p, segment);
  if (verdict.status != AckStatus::kAccepted && host.previous_keys &&
      now_ms_ < host.previous_until_ms) {
    // A cookie minted just before the host's keys changed (agent key rotation, host reboot):
    // still valid on the host for up to two minutes. Rare enough not to cache the reading.
    const AckVerdict previous = check_ack_with(
        host.previous_keys->secrets, host.previous_keys->clock.at(now_ms_), p, segment);
    if (previous.status == AckStatus::kAccepted) {
      verdict = previous;
      bump(counters_.ack_valid_previous_keys);
    }
  }
  if (verdict.status != AckStatus::kAccepted && flows_.pending(flow_key_of(p))) {
    // A later segment of a flow whose cookie ACK is still queued or just left: not a cookie
    // itself (its seq moved on), but part of a validated handshake. Sent behind the ACK.
    record(host, Outcome::forwarded_pending_flow);
    return forward(host, frame, len);
  }
  if (verdict.status != AckStatus::kAccepted && host.recovery_window_ms != 0) {
    // Not a cookie: a segment of a connection the firewall forgot (restart without its pinned
    // map, a flow moved here from another box)? Its TSecr must then fit the host's clock.
    const RecoveryStatus r =
        recover_with(host.keys->secrets, reading_for(host), p, segment, host.recovery_window_ms);
    if (r == RecoveryStatus::kRecovered) {
      if (!flows_.insert(flow_key_of(p))) bump(counters_.flow_insert_failed);
      record(host, Outcome::flow_recovered_timestamp);
      return forward(host, frame, len);
    }
    if (r == RecoveryStatus::kOutOfWindow) bump(counters_.recovery_out_of_window);
  }
  switch (verdict.status) {
    case AckStatus::kAccepted:
      break;
    case AckStatus::kCookieOutOfWindow:
      record(host, Outcome::ack_cookie_expired);
      report_candidate(host, p);
      return FrameAction::kDrop;
    case AckStatus::kCookieBadHash:
      record(host, Outcome::ack_bad_cookie);
      report_candidate(host, p);
      return FrameAction::kDrop;
    case AckStatus::kOptionDisabled:
      record(host, Outcome::ack_option_disabled);
      report_candidate(host, p);
      return FrameAction::kDrop;
  }
  // The worker's sink (PendingFlows) puts the flow into the map only once this ACK has left, so
  // the client's next segments cannot overtake it through XDP.
  if (!flows_.insert(flow_key_of(p))) bump(counters_.flow_insert_failed);
  record(host, Outcome::ack_valid);
  return forward(host, frame, len);
}

}  // namespace synwarden::daemon
