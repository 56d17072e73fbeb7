// oracle_compare (build machine side of the oracle test): replays every SYN that sw_vm_oracle
// sent to the Debian kernel in the VM through synwarden's engine, with the secrets the kernel
// module published, and demands the engine's SYN-ACK frame equal the kernel's byte for byte
// (oracle_replay.h says what is compared and the one freedom allowed: the instant).
//
// Usage: oracle_compare RECORD_FILE [--min-exchanges N] [--phase NAME | --except-phase NAME]
//   --phase / --except-phase: judge only that phase / every other phase, so a known corner can
//   be its own ctest with its own verdict.
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "oracle_record.h"
#include "oracle_replay.h"
#include "synwarden/secrets.h"

namespace sw = synwarden;
namespace vt = synwarden::vmtest;

namespace {

struct PhaseStats {
  unsigned exchanges = 0;
  unsigned matched = 0;
  unsigned matched_late_candidate = 0;  // needed other than the bracket's first reading
  std::set<std::string> synack_shapes;  // distinct option sets the kernel produced
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: oracle_compare RECORD_FILE [--min-exchanges N] [--phase NAME | "
                 "--except-phase NAME]\n";
    return 2;
  }
  size_t min_exchanges = 1000;
  std::string only_phase, except_phase;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--min-exchanges") {
      min_exchanges = std::stoul(argv[i + 1]);
    } else if (opt == "--phase") {
      only_phase = argv[i + 1];
    } else if (opt == "--except-phase") {
      except_phase = argv[i + 1];
    } else {
      std::cerr << "oracle_compare: unknown option " << opt << "\n";
      return 2;
    }
  }
  const auto judged = [&](const std::string& phase) {
    return (only_phase.empty() || phase == only_phase) && phase != except_phase;
  };
  try {
    std::ifstream in(argv[1]);
    if (!in) throw std::runtime_error(std::string("cannot open ") + argv[1]);
    const vt::RecordFile file = vt::read_records(in);

    std::vector<sw::HostSecrets> secrets;
    for (const auto& p : file.phases)
      secrets.push_back(sw::parse_secrets(p.secrets_json, "phase " + p.name));

    std::map<size_t, PhaseStats> stats;
    unsigned mismatches = 0;
    size_t judged_exchanges = 0;
    for (const auto& r : file.exchanges) {
      if (!judged(file.phases[r.phase].name)) continue;
      ++judged_exchanges;
      PhaseStats& st = stats[r.phase];
      ++st.exchanges;
      const vt::ReplayOutcome o = vt::replay_exchange(secrets[r.phase], r);
      if (!o.shape.empty()) st.synack_shapes.insert(o.shape);
      if (o.matched) {
        ++st.matched;
        if (o.needed_later_candidate) ++st.matched_late_candidate;
        continue;
      }
      ++mismatches;
      if (mismatches <= 10) {
        std::cout << "MISMATCH line " << r.line << " phase " << file.phases[r.phase].name << "\n"
                  << o.report << "\n";
      }
    }

    if (!only_phase.empty() && judged_exchanges == 0)
      std::cout << "oracle: FAILED: the record file has no phase '" << only_phase << "'\n";
    const bool ok = mismatches == 0 && file.missing.empty() && file.complete &&
                    judged_exchanges >= min_exchanges && judged_exchanges > 0;
    for (const auto& [phase, st] : stats) {
      std::cout << "phase " << file.phases[phase].name << ": " << st.matched << "/"
                << st.exchanges << " SYN-ACKs identical to the kernel's ("
                << st.matched_late_candidate << " needed a later clock reading in the bracket); "
                << st.synack_shapes.size() << " SYN-ACK option shapes:";
      for (const auto& shape : st.synack_shapes) std::cout << ' ' << shape;
      std::cout << "\n";
    }
    std::cout << "oracle: " << judged_exchanges << " exchanges judged (of "
              << file.exchanges.size() << "), " << mismatches
              << " mismatches, " << file.missing.size() << " unanswered SYNs, seed " << file.seed
              << (file.complete ? "" : ", record file INCOMPLETE") << "\n";
    if (judged_exchanges < min_exchanges)
      std::cout << "oracle: FAILED: fewer than " << min_exchanges << " exchanges recorded\n";
    std::cout << (ok ? "oracle: PASS" : "oracle: FAIL") << "\n";
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "oracle_compare: FAILED: " << e.what() << "\n";
    return 1;
  }
}
