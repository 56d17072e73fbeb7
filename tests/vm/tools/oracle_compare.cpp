// oracle_compare (build machine side of the oracle test): replays every SYN that sw_vm_oracle
// sent to the Debian kernel in the VM through synwarden's engine, with the secrets the kernel
// module published, and demands the engine's SYN-ACK frame equal the kernel's byte for byte
// (oracle_replay.h says what is compared and the one freedom allowed: the instant).
//
// Usage: oracle_compare RECORD_FILE --phase NAME=MIN... [--judged-elsewhere NAME...]
//   --phase NAME=MIN: judge phase NAME, which must be in the record file with at least MIN
//     exchanges of its own (a minimum per phase: a phase that stopped early cannot hide behind
//     a large one).
//   --judged-elsewhere NAME: a phase another ctest judges (a known corner with its own verdict).
//   Every phase in the file must be named by one of the two, so none goes unjudged.
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
  const char* usage =
      "usage: oracle_compare RECORD_FILE --phase NAME=MIN... [--judged-elsewhere NAME...]\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  std::map<std::string, size_t> minimum;  // judged phase -> its minimum exchange count
  std::set<std::string> elsewhere;
  for (int i = 2; i < argc; i += 2) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "oracle_compare: " << opt << " needs a value\n" << usage;
      return 2;
    }
    const std::string value = argv[i + 1];
    if (opt == "--phase") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == value.size() ||
          value.find_first_not_of("0123456789", eq + 1) != std::string::npos) {
        std::cerr << "oracle_compare: --phase wants NAME=MIN (MIN a number), got '" << value
                  << "'\n";
        return 2;
      }
      minimum[value.substr(0, eq)] = std::stoul(value.substr(eq + 1));
    } else if (opt == "--judged-elsewhere") {
      elsewhere.insert(value);
    } else {
      std::cerr << "oracle_compare: unknown option " << opt << "\n" << usage;
      return 2;
    }
  }
  if (minimum.empty()) {
    std::cerr << "oracle_compare: no --phase NAME=MIN given: nothing would be judged\n" << usage;
    return 2;
  }
  const auto judged = [&](const std::string& phase) { return minimum.count(phase) != 0; };
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

    // Per phase: present, judged by someone, and with at least its own minimum of exchanges.
    std::vector<std::string> phase_failures;
    std::set<std::string> in_file;
    for (size_t i = 0; i < file.phases.size(); ++i) {
      const std::string& name = file.phases[i].name;
      in_file.insert(name);
      if (judged(name)) {
        const unsigned got = stats.count(i) ? stats.at(i).exchanges : 0;
        if (got < minimum.at(name))
          phase_failures.push_back("phase " + name + " has " + std::to_string(got) +
                                   " exchanges, fewer than its minimum " +
                                   std::to_string(minimum.at(name)));
      } else if (!elsewhere.count(name)) {
        phase_failures.push_back("phase " + name + " is in the record file but judged by no test"
                                 " (add --phase " + name + "=MIN or --judged-elsewhere " + name +
                                 ")");
      }
    }
    for (const auto& [name, min] : minimum)
      if (!in_file.count(name))
        phase_failures.push_back("phase " + name + " (minimum " + std::to_string(min) +
                                 ") is not in the record file");
    const bool ok = mismatches == 0 && file.missing.empty() && file.complete &&
                    phase_failures.empty() && judged_exchanges > 0;
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
    for (const std::string& f : phase_failures) std::cout << "oracle: FAILED: " << f << "\n";
    std::cout << (ok ? "oracle: PASS" : "oracle: FAIL") << "\n";
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "oracle_compare: FAILED: " << e.what() << "\n";
    return 1;
  }
}
