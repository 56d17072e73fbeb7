// `synwardenctl cookie ... --datapath xdp`: the same questions as the C++ engine answers, put to
// synwarden's XDP program (bpf/fastpath, datapath "xdp") instead. The program is loaded from the
// embedded skeleton into a private, unpinned, unattached instance (nothing of a running daemon is
// touched), the host's secrets are written into its sw_host_cookies map with the production
// conversion (bpf_cookie_keys()), and frames built from the arguments run through
// BPF_PROG_TEST_RUN. Answers come from what the program did: the SYN-ACK it wrote, the reason it
// recorded.
//
// The program has no output for values it only uses internally; they are recovered by asking it
// more questions, never by running the engine:
//   - the cookie's MSS index: ACKs for cookie - k (k = 1..3) are valid iff k <= index
//     (check_tcp_syn_cookie() accepts data < 4), so the largest valid k is the index;
//   - ts_off: a SYN with only a timestamp option answered with the host's TCP clock pinned to 0
//     carries TSval = (0 | 0xf) - 64 + ts_off (cookie_init_timestamp()), hence ts_off.
//
// Time: the program reads the firewall's CLOCK_MONOTONIC (bpf_ktime_get_ns()). Each run writes
// the host's clock model so that the firewall millisecond read just before the run maps to the
// requested host instant, and counts only if the millisecond read just after is the same.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cli_args.h"
#include "synwarden/clock.h"
#include "synwarden/secrets.h"
#include "synwarden/synack_plan.h"
#include "synwarden/synack_planner.h"

namespace synwarden::dataplane {
class XdpFastpath;
}

namespace synwarden::ctl {

// One question's fixed part: the host, the instant on its CLOCK_MONOTONIC, the connection.
struct XdpQuery {
  HostSecrets secrets;
  ClockSafety safety;
  uint64_t now_mono_ms = 0;
  Endpoint client;
  Endpoint host;
};

struct XdpSynAck {
  SynAckPlan plan;               // decoded from the program's SYN-ACK (mss_index: ACK probes)
  std::vector<uint8_t> options;  // the SYN-ACK's TCP option bytes as written
  uint32_t ts_off = 0;           // from the ts_off probe; 0 without timestamps
};

class XdpCookieRunner {
 public:
  // Loads the program for `q.host` (protected, datapath "xdp"). Throws std::runtime_error
  // naming what failed (not root, verifier refusal, ...).
  explicit XdpCookieRunner(const XdpQuery& q);
  // Throws std::runtime_error unless the process may load and test-run BPF programs (root).
  // Called before anything else is read, so the message is the first thing a user sees.
  static void require_privileges();
  ~XdpCookieRunner();
  XdpCookieRunner(const XdpCookieRunner&) = delete;
  XdpCookieRunner& operator=(const XdpCookieRunner&) = delete;

  // The program's answer to a SYN with `isn` and `syn`'s options (ECE+CWR if syn.ece_cwr).
  XdpSynAck synack(uint32_t isn, const SynOptions& syn);
  // The program's verdict on an ACK; when valid, the connection the host would create.
  AckVerdict check(const AckSegment& ack);

 private:
  struct Outcome;
  Outcome run_at_instant(const std::vector<uint8_t>& frame, bool pin_ts_clock);
  std::vector<uint8_t> syn_frame(uint32_t isn, const SynOptions& syn) const;
  std::vector<uint8_t> ack_frame(const AckSegment& ack) const;
  bool ack_valid(const AckSegment& ack);
  uint8_t mss_index_of(const AckSegment& valid_ack);
  uint32_t probe_ts_off();

  XdpQuery q_;
  std::unique_ptr<dataplane::XdpFastpath> fp_;
};

}  // namespace synwarden::ctl
