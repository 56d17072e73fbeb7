// synwarden-agent: serves a protected host's SYN-cookie secrets and clocks to the synwarden
// firewall over the authenticated secret channel, and in BPF mode runs the tc program that lets
// the host's kernel accept the firewall's cookies.
//
//   synwarden-agent run --config /etc/synwarden/agent.json
//   synwarden-agent genkey --out /etc/synwarden/agent.key
//   synwarden-agent probe [--config FILE]
//   synwarden-agent stats [--config FILE]
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "agent.h"
#include "agent_config.h"
#include "host_program.h"
#include "stamp_program.h"
#include "mode_probe.h"
#include "synwarden/channel_key.h"

namespace {

using namespace synwarden;
using namespace synwarden::agent;

constexpr const char* kDefaultConfig = "/etc/synwarden/agent.json";

int cmd_probe(const std::string& config_path, bool config_given) {
  std::string kmod_file = Config{}.kmod_file;
  Mode requested = Mode::kAuto;
  if (config_given) {
    const Config c = load_config(config_path);
    kmod_file = c.kmod_file;
    requested = c.mode;
  }
  const ProbeResult p = probe_host(kVmlinuxBtf, kmod_file);
  std::printf("kernel %s\n", p.kernel_release.c_str());
  std::printf("bpf:  %s\n", p.kfunc_present ? "available (bpf_sk_assign_tcp_reqsk in kernel BTF)"
                                            : ("unavailable: " + p.kfunc_detail).c_str());
  std::printf("kmod: %s %s\n", kmod_file.c_str(), p.kmod_present ? "present" : "absent");
  const Mode m = resolve_mode(requested, p, kmod_file);   // throws with the advice
  std::printf("mode %s -> %s\n", mode_name(requested), mode_name(m));
  return 0;
}

// Other synwarden-agent processes, by /proc/PID/comm.
std::vector<std::string> running_agents() {
  std::vector<std::string> pids;
  const std::string self = std::to_string(::getpid());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == self) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "synwarden-agent") pids.push_back(pid);
  }
  return pids;
}

// Prints the counters pinned in `dir`: the cookie program's (bpf mode) and the outbound stamp
// programs' (prefixed stamp_). False if neither is pinned there.
bool print_pinned_counters(const std::string& dir, std::string& why) {
  bool any = false;
  try {
    const HostCounters c = read_pinned_counters(dir);
    for (size_t i = 0; i < c.size(); ++i) {
      std::printf("%s %llu\n", host_counter_name(i), static_cast<unsigned long long>(c[i]));
    }
    any = true;
  } catch (const HostProgramError& e) {
    why = e.what();
  }
  try {
    const StampCounters c = read_pinned_stamp_counters(dir);
    for (size_t i = 0; i < c.size(); ++i) {
      std::printf("stamp_%s %llu\n", stamp_counter_name(i), static_cast<unsigned long long>(c[i]));
    }
    any = true;
  } catch (const StampProgramError& e) {
    why += std::string(any || why.empty() ? "" : "; ") + e.what();
  }
  return any;
}

int cmd_stats(const std::string& config_path, bool config_given) {
  const std::string pin_dir = config_given ? load_config(config_path).pin_dir : Config{}.pin_dir;
  std::string why;
  if (print_pinned_counters(pin_dir, why)) return 0;
  // An agent started with `ip netns exec` pins into that command's own mount namespace (it
  // remounts /sys), invisible from here: look through the running agents' roots.
  for (const std::string& pid : running_agents()) {
    const std::string dir = "/proc/" + pid + "/root" + pin_dir;
    std::string ignored;
    if (print_pinned_counters(dir, ignored)) {
      std::fprintf(stderr, "synwarden-agent: read the pins of synwarden-agent pid %s through "
                   "its own mount namespace (%s)\n", pid.c_str(), dir.c_str());
      return 0;
    }
  }
  throw HostProgramError(why + " (no running synwarden-agent has pins there in its own mount "
                               "namespace either; check `pin_dir` in its config)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"synwarden-agent: serves this host's SYN-cookie secrets to the synwarden firewall"};
  app.require_subcommand(1);

  std::string config_path = kDefaultConfig;
  auto* run = app.add_subcommand("run", "serve secrets (and run the tc program in bpf mode)");
  run->add_option("-c,--config", config_path, "configuration file")->capture_default_str();

  std::string key_out;
  auto* genkey = app.add_subcommand("genkey", "write a new 32-byte channel key (mode 0600)");
  genkey->add_option("-o,--out", key_out, "key file to create (never overwritten)")->required();

  std::string probe_config = kDefaultConfig;
  auto* probe = app.add_subcommand("probe", "show which mode this host supports and why");
  auto* probe_opt = probe->add_option("-c,--config", probe_config, "configuration file");

  std::string stats_config = kDefaultConfig;
  auto* stats = app.add_subcommand("stats", "print the tc program's counters (bpf mode)");
  auto* stats_opt = stats->add_option("-c,--config", stats_config, "configuration file");

  CLI11_PARSE(app, argc, argv);

  try {
    if (run->parsed()) return synwarden::agent::run(load_config(config_path), config_path);
    if (genkey->parsed()) {
      ChannelKey::write_new_file(key_out);
      std::printf("wrote a new channel key to %s (mode 0600); give the firewall the same file\n",
                  key_out.c_str());
      return 0;
    }
    if (probe->parsed()) return cmd_probe(probe_config, probe_opt->count() > 0);
    if (stats->parsed()) return cmd_stats(stats_config, stats_opt->count() > 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synwarden-agent: %s\n", e.what());
    return 1;
  }
  return 2;
}
