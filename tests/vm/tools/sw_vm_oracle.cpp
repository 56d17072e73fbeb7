// sw_vm_oracle (guest side of the oracle test): makes the guest kernel answer SYNs with its own
// SYN cookies and records, for each SYN, the exact SYN frame, the kernel's SYN-ACK frame, the
// CLOCK_MONOTONIC bracket around the exchange, and per phase the kernel's secrets as the
// firewall would receive them (module file + sysctls, as HostSecrets JSON). oracle_compare
// replays every record through synwarden's engine on the build machine.
//
// The kernel is reached through a TAP device: the SYNs are written as frames "from the wire"
// and the SYN-ACKs read back, so the kernel sees exactly the bytes recorded.
//
// Usage: sw_vm_oracle --out FILE [--per-combo N] [--seed N]
#include <array>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "guest_net.h"
#include "oracle_record.h"
#include "oracle_syns.h"
#include "synwarden/kmod_secrets.h"
#include "synwarden/secrets.h"

namespace sw = synwarden;
namespace vt = synwarden::vmtest;

namespace {

constexpr const char* kTap = "swo0";

// One run of SYNs under one set of sysctls and one device MTU.
struct Phase {
  const char* name;
  unsigned mtu;
  int tcp_timestamps, tcp_sack, tcp_window_scaling, tcp_ecn;
  unsigned syns_per_family;
  bool ecn_edge;  // vary the IP ECN field and TCP reserved bits of ECN-setup SYNs
};

unsigned run_phase(const Phase& ph, const vt::TapDevice& tap, vt::RecordWriter& out,
                   std::mt19937_64& rng) {
  vt::run_ip({"link", "set", "dev", tap.name(), "mtu", std::to_string(ph.mtu)});
  vt::write_sysctl("net/ipv4/tcp_syncookies", "2");
  vt::write_sysctl("net/ipv4/tcp_timestamps", std::to_string(ph.tcp_timestamps));
  vt::write_sysctl("net/ipv4/tcp_sack", std::to_string(ph.tcp_sack));
  vt::write_sysctl("net/ipv4/tcp_window_scaling", std::to_string(ph.tcp_window_scaling));
  vt::write_sysctl("net/ipv4/tcp_ecn", std::to_string(ph.tcp_ecn));

  // What the firewall would be told: the module's file and the sysctls, the advertised MSS of
  // the route the host answers over (MTU - 40 / MTU - 60).
  const sw::KmodSecrets k = sw::read_kmod_secrets();
  const sw::HostSecrets secrets = sw::to_host_secrets(
      k, sw::read_tcp_sysctls(), static_cast<uint16_t>(ph.mtu - 40),
      static_cast<uint16_t>(ph.mtu - 60), sw::read_rcv_wscale(), sw::KmodStandIns::random());
  out.phase(ph.name, k.mono_ns, sw::serialize_secrets(secrets));

  unsigned missing = 0;
  for (int fam = 0; fam < 2; ++fam) {
    for (unsigned i = 0; i < ph.syns_per_family; ++i) {
      const std::vector<uint8_t> syn =
          vt::make_oracle_syn(tap.mac(), fam == 1, i, ph.ecn_edge, rng);
      const std::optional<vt::ExchangeRecord> r = vt::exchange_syn(tap, syn);
      if (!r) {
        ++missing;
        out.missing(ph.name, syn);
        continue;
      }
      out.exchange(ph.name, r->t_send_ns, r->t_recv_ns, r->syn, r->synack);
    }
  }
  return missing;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path;
  unsigned per_combo = 24;
  uint64_t seed = std::random_device{}();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--out") {
      out_path = argv[i + 1];
    } else if (opt == "--per-combo") {
      per_combo = static_cast<unsigned>(std::stoul(argv[i + 1]));
    } else if (opt == "--seed") {
      seed = std::stoull(argv[i + 1]);
    } else {
      std::cerr << "sw_vm_oracle: unknown option " << opt << "\n";
      return 2;
    }
  }
  if (out_path.empty()) {
    std::cerr << "usage: sw_vm_oracle --out FILE [--per-combo N] [--seed N]\n";
    return 2;
  }
  try {
    std::ofstream file(out_path);
    if (!file) throw std::runtime_error("cannot write " + out_path);
    vt::RecordWriter out(file, seed);
    std::mt19937_64 rng(seed);
    vt::TapDevice tap(kTap, 1500);
    vt::configure_oracle_tap(tap);
    vt::OracleListeners listeners;
    // Default sysctls; then SYN-ACK-shaping sysctls off; then timestamps off (no option
    // encoding at all); then the ECN corner of tcp_ecn_create_request().
    const std::array<Phase, 4> phases{{
        {"default", 1500, 1, 1, 1, 2, 32 * per_combo, false},
        {"sack_ws_ecn_off_ts_no_offset", 9000, 2, 0, 0, 0, 4 * 32, false},
        {"timestamps_off", 1280, 0, 1, 1, 1, 2 * 32, false},
        {"ecn_ip_field", 1500, 1, 1, 1, 2, 2 * 32, true},
    }};
    unsigned missing = 0;
    for (const Phase& ph : phases) missing += run_phase(ph, tap, out, rng);
    out.done();
    std::cout << "sw_vm_oracle: " << out.exchanges() << " SYN/SYN-ACK exchanges recorded, "
              << missing << " SYNs unanswered, seed " << seed << "\n";
    return missing == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "sw_vm_oracle: FAILED: " << e.what() << "\n";
    return 1;
  }
}
