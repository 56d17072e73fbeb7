// Shared fixture of the BPF tier: one loaded fast path per test binary, state reset before
// every test, and a run() that pushes a frame through BPF_PROG_TEST_RUN and collects what the
// program did (verdict, output bytes, counter deltas, recorded decision).
#pragma once

#include <linux/bpf.h>

#include <string>

#include <gtest/gtest.h>

#include "frame_builder.h"
#include "synwarden/dataplane/xdp_fastpath.h"

namespace synwarden::test {

// Documentation addresses only (RFC 5737 / RFC 3849).
inline const std::string kHostV4 = "192.0.2.10";
inline const std::string kClientV4 = "198.51.100.7";
inline const std::string kOtherV4 = "203.0.113.5";  // not protected
inline const std::string kHostV6 = "2001:db8::10";
inline const std::string kClientV6 = "2001:db8:1::7";
inline const std::string kOtherV6 = "2001:db8:2::5";

inline constexpr Mac kRouterMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};   // sender of inbound frames
inline constexpr Mac kFirewallMac{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}; // the firewall NIC
inline constexpr Mac kHostMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x10};     // the protected host

inline constexpr std::uint16_t kClientPort = 40000;
inline constexpr std::uint16_t kServicePort = 443;

struct RunResult {
  std::uint32_t verdict = 0;
  Bytes out;
  sw_decision last{};                  // the one decision recorded during this run
  int deciding_cpus = 0;               // CPUs whose record changed: must be exactly 1
  dataplane::CounterSnapshot counters; // deltas: counters are zeroed before each run
};

std::string verdict_name(std::uint32_t verdict);

// Runs `frame` through `prog_fd` once with data_size_out set; stats must be zeroed by caller
// (run_frame does it). ifindex 0 = the test-run default device (loopback, queue 0).
RunResult run_frame(dataplane::XdpFastpath& fp, const Bytes& frame, int ifindex = 0,
                    std::uint32_t rx_queue = 0);

// One BPF_PROG_TEST_RUN of `prog_fd` on `frame`, `repeat` times, without touching any map:
// for programs other than a loaded XdpFastpath (an orphaned one) or runs that must keep
// per-CPU state (the token bucket). Returns the verdict.
std::uint32_t run_raw(int prog_fd, const Bytes& frame, std::uint32_t repeat = 1);

// Pins the calling thread to one CPU, so every run in a binary uses the same per-CPU slot
// (the SYN-ACK token bucket is per CPU).
void pin_to_one_cpu();

class FastpathTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // Empties every map and writes default settings (firewall MAC, no SYN-ACK limit).
  void SetUp() override;

  static dataplane::XdpFastpath& fp() { return *fp_; }
  RunResult run(const Bytes& frame, int ifindex = 0, std::uint32_t rx_queue = 0) {
    return run_frame(*fp_, frame, ifindex, rx_queue);
  }
  // Adds a protected host with the test MAC.
  void protect(const std::string& addr, bool on, dataplane::HostPolicy policy = {});

 private:
  static dataplane::XdpFastpath* fp_;
};

// The flow a frame from the client to the host on (vlan_outer, vlan_inner) is keyed by.
dataplane::FlowKey client_flow(bool v6, std::uint16_t vlan_outer = 0, std::uint16_t vlan_inner = 0,
                               std::uint16_t client_port = kClientPort);

// Expects exactly one reason counted, once, with the frame's bytes; all others zero.
void expect_only_reason(const RunResult& r, sw_reason reason, std::size_t frame_len);

}  // namespace synwarden::test
