// Structured inputs of the fuzz targets that do not take raw protocol bytes. Each case has ONE
// field list, visit(), used both to read a case from fuzz bytes (CaseReader) and to write seed
// files (CaseWriter, in make_seeds.cpp), so the seed corpus cannot drift from the layout.
// Changing a field list invalidates that target's seeds: regenerate them (README.md).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"

namespace synwarden::fuzz {

// Reads fields front to back; range fields are folded into [lo, hi] (identity for in-range
// values, so written seeds read back unchanged).
class CaseReader {
 public:
  explicit CaseReader(FuzzInput& in) noexcept : in_(in) {}
  template <typename T>
  void operator()(T& v) noexcept {
    if constexpr (std::is_same_v<T, bool>) {
      v = in_.take_bool();
    } else {
      v = in_.take<T>();
    }
  }
  template <typename T>
  void range(T& v, T lo, T hi) noexcept {
    v = in_.take_in<T>(lo, hi);
  }
  template <size_t N>
  void operator()(std::array<uint8_t, N>& a) noexcept {
    in_.take_bytes(a.data(), N);
  }

 private:
  FuzzInput& in_;
};

class CaseWriter {
 public:
  explicit CaseWriter(std::vector<uint8_t>& out) : out_(out) {}
  template <typename T>
  void operator()(T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      out_.push_back(v ? 1 : 0);
    } else {
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      out_.insert(out_.end(), p, p + sizeof v);
    }
  }
  template <typename T>
  void range(T& v, T /*lo*/, T /*hi*/) {
    (*this)(v);
  }
  template <size_t N>
  void operator()(std::array<uint8_t, N>& a) {
    out_.insert(out_.end(), a.begin(), a.end());
  }

 private:
  std::vector<uint8_t>& out_;
};

using Key16 = std::array<uint8_t, 16>;

// fuzz_cookie: one host, one SYN, and the ACK that comes back (possibly tampered).
struct CookieCase {
  bool ipv6 = false;
  bool per_host_ts = false;
  Key16 cookie_key0{}, cookie_key1{}, cookie6_key0{}, cookie6_key1{}, ts_key{};
  uint8_t tcp_timestamps = 1, tcp_sack = 1, tcp_window_scaling = 1, tcp_ecn = 2;
  uint16_t mss = 1460, mss6 = 1440;
  uint8_t rcv_wscale = 7;
  uint32_t rcv_space = 65536;
  uint32_t cookie_count = 0;
  uint64_t tcp_ms = 0;
  std::array<uint8_t, 16> client_addr{}, host_addr{};  // IPv4 uses the first 4 bytes
  uint16_t client_port = 0, host_port = 0;             // raw network order
  uint32_t client_isn = 0;
  bool syn_has_mss = false, syn_has_wscale = false, syn_sack = false, syn_has_ts = false,
       syn_ece_cwr = false, syn_tcp_res1 = false;
  uint8_t syn_ip_ecn = 0;  // 0..3
  uint16_t syn_mss = 0;
  uint8_t syn_wscale = 0;
  uint32_t syn_tsval = 0, syn_tsecr = 0;
  // The returning ACK = the honest one plus these deltas; the check runs at count + check_age.
  uint32_t ack_delta = 0, seq_delta = 0, tsecr_delta = 0;
  bool ack_has_ts = true;
  uint8_t check_age = 0;  // 0..3, applied as -1, 0, +1, +2 minutes

  template <typename IO>
  void visit(IO& io) {
    io(ipv6), io(per_host_ts);
    io(cookie_key0), io(cookie_key1), io(cookie6_key0), io(cookie6_key1), io(ts_key);
    io.range(tcp_timestamps, uint8_t{0}, uint8_t{2});
    io.range(tcp_sack, uint8_t{0}, uint8_t{1});
    io.range(tcp_window_scaling, uint8_t{0}, uint8_t{1});
    io.range(tcp_ecn, uint8_t{0}, uint8_t{5});
    io(mss), io(mss6);
    io.range(rcv_wscale, uint8_t{0}, uint8_t{14});
    io(rcv_space), io(cookie_count), io(tcp_ms);
    io(client_addr), io(host_addr), io(client_port), io(host_port), io(client_isn);
    io(syn_has_mss), io(syn_has_wscale), io(syn_sack), io(syn_has_ts), io(syn_ece_cwr);
    io(syn_tcp_res1);
    io.range(syn_ip_ecn, uint8_t{0}, uint8_t{3});
    io(syn_mss), io(syn_wscale), io(syn_tsval), io(syn_tsecr);
    io(ack_delta), io(seq_delta), io(tsecr_delta), io(ack_has_ts);
    io.range(check_age, uint8_t{0}, uint8_t{3});
  }
};

// fuzz_channel_seal: a message sealed with the right key, then damaged one way.
struct ChannelSealCase {
  enum Mutation : uint8_t { kNone, kFlipBit, kTruncate, kAppend, kMutationCount };
  bool reply = false;
  uint64_t sent_unix_ms = 0;                // request plaintext
  std::array<uint8_t, 24> request_nonce{};  // what a reply echoes
  uint8_t mutation = kNone;
  uint16_t position = 0;   // byte to flip / length to keep (mod datagram length)
  uint8_t bit = 0;         // 0..7
  uint16_t extra = 1;      // bytes appended
  // Payload of a reply: the rest of the input (not part of visit()).

  template <typename IO>
  void visit(IO& io) {
    io(reply), io(sent_unix_ms), io(request_nonce);
    io.range(mutation, uint8_t{0}, uint8_t{kMutationCount - 1});
    io(position);
    io.range(bit, uint8_t{0}, uint8_t{7});
    io(extra);
  }
};

// fuzz_channel_guard: one admission attempt on the agent's replay window / rate limiter.
struct GuardStep {
  uint8_t nonce_id = 0;     // few distinct nonces, so replays are frequent
  uint8_t time_step = 0;    // clock advance before this step, in units of the case's tick
  int16_t send_skew = 0;    // request's send time minus the agent's clock, in ticks
  template <typename IO>
  void visit(IO& io) {
    io(nonce_id), io(time_step), io(send_skew);
  }
};

struct GuardCase {
  uint16_t max_age_ticks = 10;
  uint8_t capacity = 4;      // replay window capacity, 1..16
  uint16_t tick_ms = 1000;
  uint16_t rate_per_s = 1;   // token bucket
  uint8_t burst = 1;
  // Followed by GuardStep records until the input ends.
  template <typename IO>
  void visit(IO& io) {
    io(max_age_ticks);
    io.range(capacity, uint8_t{1}, uint8_t{16});
    io.range(tick_ms, uint16_t{1}, uint16_t{60000});
    io(rate_per_s), io(burst);
  }
};

// fuzz_daemon_handler: the snapshot and batch one frame meets in a worker's PacketHandler.
// The frame itself is the rest of the input (not part of visit()).
struct HandlerCase {
  enum Bits : uint8_t {
    kProtection = 1,      // else pass mode
    kKeys = 2,            // else no secrets yet: the fail policy applies
    kFailClosed = 4,
    kPreviousKeys = 8,    // keys from before a key change, still valid for a while
    kShedSyns = 16,       // the worker is behind: SYNs of this batch are dropped
    kPortFilter = 32,     // only `port` (and port + 1) are protected
    kHostCounters = 64,   // per-host counter area attached
  };
  uint8_t v4_host = kProtection | kKeys | kHostCounters;  // 192.0.2.10
  uint8_t v6_host = kProtection | kKeys | kHostCounters;  // 2001:db8::10
  uint16_t port = 80;
  uint32_t synack_pps = 0;   // 0 = unlimited
  uint8_t synack_burst = 64;
  uint8_t params = 0;        // 0..2: SYN-ACK frame parameters (TOS, TTL, flow label, padding)
  uint32_t clock_ms = 0;     // firewall time after the secrets' sample, in ms
  uint16_t headroom = 256;   // buffer capacity beyond the frame, 0..1024
  uint8_t repeats = 0;       // the same frame again this many times in the batch (0..8)

  template <typename IO>
  void visit(IO& io) {
    io(v4_host), io(v6_host), io(port), io(synack_pps), io(synack_burst);
    io.range(params, uint8_t{0}, uint8_t{2});
    io(clock_ms);
    io.range(headroom, uint16_t{0}, uint16_t{1024});
    io.range(repeats, uint8_t{0}, uint8_t{8});
  }
};

}  // namespace synwarden::fuzz
