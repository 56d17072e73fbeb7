// sw_vm_secrets_json (guest): turns /proc/synwarden_secrets and the host's TCP sysctls into the
// secrets JSON the firewall consumes (synwarden/secrets.h), on stdout.
// Usage: sw_vm_secrets_json [--file PATH] [--mss N] [--mss6 N]
//   --mss/--mss6: the host's advertised MSS (its route's MTU - 40 / - 60); default 1460/1440.
#include <iostream>
#include <stdexcept>
#include <string>

#include "synwarden/kmod_secrets.h"
#include "synwarden/secrets.h"

namespace sw = synwarden;

int main(int argc, char** argv) {
  std::string path = sw::kKmodSecretsPath;
  unsigned long mss = 1460, mss6 = 1440;
  try {
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string opt = argv[i];
      if (opt == "--file") {
        path = argv[i + 1];
      } else if (opt == "--mss") {
        mss = std::stoul(argv[i + 1]);
      } else if (opt == "--mss6") {
        mss6 = std::stoul(argv[i + 1]);
      } else {
        throw std::invalid_argument("unknown option " + opt);
      }
    }
    if (mss < 88 || mss > 65495 || mss6 < 88 || mss6 > 65475)
      throw std::invalid_argument("--mss/--mss6 out of range");
    const sw::KmodSecrets k = sw::read_kmod_secrets(path);
    const sw::HostSecrets s =
        sw::to_host_secrets(k, sw::read_tcp_sysctls(), static_cast<uint16_t>(mss),
                            static_cast<uint16_t>(mss6), sw::read_rcv_wscale(),
                            sw::KmodStandIns::random());
    // Round-trip through the engine's own parser: what we print is what the firewall accepts.
    const std::string json = sw::serialize_secrets(s);
    sw::parse_secrets(json, "sw_vm_secrets_json output");
    std::cout << json << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sw_vm_secrets_json: FAILED: " << e.what() << "\n";
    return 1;
  }
}
