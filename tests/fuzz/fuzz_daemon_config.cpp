// Fuzz target: the daemon's config file parser (userspace/daemon/src/config/config.*, control_config_file.*)
// on arbitrary file contents. The input is written to a scratch file and read with
// read_config_file(), the same call the daemon makes at start and on every reload. Properties:
//  1. Only ConfigError escapes, and its message is not empty: an operator's typo or a truncated
//     file must give a message naming the problem, never std::terminate or a foreign exception
//     that the reload path would report as an internal error.
//  2. An accepted config is stable: parsing it again gives the same config, and replacing every
//     host by its config-file form (protected_host_to_json(), which the API writes back on
//     every change) gives the same config again, whose hosts serialise to the same JSON. So an
//     API change cannot silently alter a host the operator did not touch.
//  3. Every accepted value is inside its documented range (the parser's own checks, restated).
//  4. An accepted file repeats no key in any object and holds no NUL byte in a key or string
//     (json_reference.h, an independent check), and no accepted name, address or path holds a
//     NUL; the interface name follows the kernel's rules (no '/', ':', whitespace).
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "config.h"
#include "control_config_file.h"
#include "fuzz_support.h"
#include "json_reference.h"

namespace synwarden::fuzz {
namespace {

using daemon::ConfigError;
using daemon::DaemonConfig;
using daemon::LoadedConfig;

// One scratch file per process, removed at exit; the parser reads a real file like the daemon.
const std::filesystem::path& scratch_file() {
  static const std::filesystem::path path = [] {
    char dir[] = "/tmp/synwarden-fuzz-config-XXXXXX";
    if (::mkdtemp(dir) == nullptr) {
      std::perror("fuzz_daemon_config: mkdtemp in /tmp");
      std::abort();
    }
    static const std::string keep = dir;
    std::atexit([] { std::filesystem::remove_all(keep); });
    return std::filesystem::path(dir) / "synwarden.json";
  }();
  return path;
}

void write_scratch(const uint8_t* data, size_t size) {
  const int fd = ::open(scratch_file().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "cannot create %s", scratch_file().c_str());
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    FUZZ_CHECK(n > 0, "cannot write %s", scratch_file().c_str());
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

bool same_config(const DaemonConfig& a, const DaemonConfig& b) {
  return a.interface == b.interface && a.queues == b.queues && a.worker_cpus == b.worker_cpus &&
         a.bpffs_pin_dir == b.bpffs_pin_dir &&
         a.keep_dataplane_on_exit == b.keep_dataplane_on_exit &&
         a.fail_open_without_workers == b.fail_open_without_workers &&
         a.xsk_mode == b.xsk_mode && a.secrets_reload_interval_ms == b.secrets_reload_interval_ms &&
         a.limits == b.limits && a.api == b.api && a.auto_mode == b.auto_mode &&
         a.protected_hosts == b.protected_hosts && a.lists == b.lists &&
         a.synack_budget == b.synack_budget;
}

bool power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

void check_ranges(const DaemonConfig& c) {
  FUZZ_CHECK(!c.interface.empty() && c.interface.size() < 16, "interface name length %zu",
             c.interface.size());
  FUZZ_CHECK(c.worker_cpus.empty() || c.worker_cpus.size() == c.queues.size(),
             "%zu worker CPUs for %zu queues", c.worker_cpus.size(), c.queues.size());
  // The auto mode's hysteresis needs a gap between its thresholds (host_mode.h).
  FUZZ_CHECK(c.auto_mode.syn_pps_off < c.auto_mode.syn_pps_on && c.auto_mode.poll_ms >= 10 &&
                 c.auto_mode.off_s >= 1,
             "auto: syn_pps_off %llu, syn_pps_on %llu, poll_ms %u",
             static_cast<unsigned long long>(c.auto_mode.syn_pps_off),
             static_cast<unsigned long long>(c.auto_mode.syn_pps_on), c.auto_mode.poll_ms);
  const auto& l = c.limits;
  FUZZ_CHECK(power_of_two(l.frames_per_queue) && power_of_two(l.ring_size) &&
                 l.frames_per_queue >= l.ring_size,
             "frames_per_queue %u ring_size %u", l.frames_per_queue, l.ring_size);
  FUZZ_CHECK(l.frame_size == 2048 || l.frame_size == 4096, "frame_size %u", l.frame_size);
  FUZZ_CHECK(l.batch_size >= 1 && l.batch_size <= 256 && l.batch_size <= l.ring_size,
             "batch_size %u", l.batch_size);
  FUZZ_CHECK(c.api.address.is_loopback(), "API address %s is not loopback",
             c.api.address.to_string().c_str());
  FUZZ_CHECK(c.api.port != 0, "API port 0");
  FUZZ_CHECK(!c.protected_hosts.empty() && c.protected_hosts.size() <= l.host_table_size,
             "%zu hosts for a table of %u", c.protected_hosts.size(), l.host_table_size);
  const auto no_nul = [](const std::string& s) { return s.find('\0') == std::string::npos; };
  FUZZ_CHECK(no_nul(c.interface) && no_nul(c.bpffs_pin_dir.string()), "NUL in a name or path");
  for (const char ch : c.interface) {
    FUZZ_CHECK(ch != '/' && ch != ':' && static_cast<unsigned char>(ch) > 0x20 && ch != 0x7f,
               "interface name \"%s\" breaks the kernel's rules", c.interface.c_str());
  }
  // Source lists: sorted and unique, lengths within the family, host bits zero, a host of the
  // prefix's family and never the all-zero address, within limits.list_prefixes.
  for (const auto* list : {&c.lists.allow, &c.lists.deny}) {
    for (size_t i = 0; i < list->size(); ++i) {
      const auto& p = (*list)[i];
      FUZZ_CHECK(i == 0 || (*list)[i - 1] < p, "list not sorted and unique at %zu", i);
      const unsigned bits = p.v6 ? 128 : 32;
      FUZZ_CHECK(p.length <= bits, "prefix %s longer than its family", p.prefix_text().c_str());
      for (unsigned b = p.length; b < bits; ++b) {
        FUZZ_CHECK(!(p.prefix[b / 8] & (0x80 >> (b % 8))), "host bits set in %s",
                   p.prefix_text().c_str());
      }
      bool zero_host = true;
      for (const auto byte : p.host) zero_host = zero_host && byte == 0;
      FUZZ_CHECK(p.has_host != zero_host, "%s: host flag and address disagree",
                 p.prefix_text().c_str());
    }
  }
  const auto counts = daemon::count_trie_entries(c.lists);
  FUZZ_CHECK(counts.v4 <= l.list_prefixes && counts.v6 <= l.list_prefixes,
             "%llu/%llu list prefixes for tries of %u", static_cast<unsigned long long>(counts.v4),
             static_cast<unsigned long long>(counts.v6), l.list_prefixes);
  FUZZ_CHECK(c.synack_budget.prefix_v4 >= 1 && c.synack_budget.prefix_v4 <= 32 &&
                 c.synack_budget.prefix_v6 >= 1 && c.synack_budget.prefix_v6 <= 128,
             "budget prefixes /%u /%u", c.synack_budget.prefix_v4, c.synack_budget.prefix_v6);
  for (size_t i = 0; i < c.protected_hosts.size(); ++i) {
    const auto& h = c.protected_hosts[i];
    FUZZ_CHECK(no_nul(h.secrets_file.string()) &&
                   (!h.agent || (no_nul(h.agent->address) && no_nul(h.agent->key_file.string()))),
               "host %zu: NUL in a path or agent address", i);
    FUZZ_CHECK(h.agent.has_value() != !h.secrets_file.empty(),
               "host %zu: exactly one of agent and secrets_file", i);
    FUZZ_CHECK(h.agent || h.secrets_file.is_absolute(), "host %zu: relative secrets_file", i);
    FUZZ_CHECK((h.mac[0] & 1) == 0, "host %zu: multicast MAC accepted", i);
    FUZZ_CHECK(!h.address.is_loopback(), "host %zu: loopback address accepted", i);
    for (size_t k = 0; k < h.ports.size(); ++k) {
      FUZZ_CHECK(h.ports[k] != 0 && (k == 0 || h.ports[k - 1] < h.ports[k]),
                 "host %zu: ports not sorted, unique and non-zero", i);
    }
    for (size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(!(c.protected_hosts[j].address == h.address), "hosts %zu and %zu share %s", j,
                 i, h.address.to_string().c_str());
    }
  }
}

// Property 2: the API's write-back form of every host parses to the same config.
void check_round_trip(const LoadedConfig& loaded) {
  const DaemonConfig again = daemon::parse_config_document(loaded.document);
  FUZZ_CHECK(same_config(loaded.config, again), "parsing the same document twice differs");

  nlohmann::ordered_json canonical = loaded.document;
  nlohmann::ordered_json hosts = nlohmann::ordered_json::array();
  for (const auto& h : loaded.config.protected_hosts) {
    const nlohmann::json form = daemon::protected_host_to_json(h);
    daemon::ProtectedHostConfig back;
    try {
      back = daemon::parse_protected_host(form, "host");
    } catch (const ConfigError& e) {
      FUZZ_CHECK(false, "the config-file form of an accepted host is refused: %s\n  %s", e.what(),
                 form.dump().c_str());
    }
    FUZZ_CHECK(back == h, "host %s changes when written back: %s",
               h.address.to_string().c_str(), form.dump().c_str());
    FUZZ_CHECK(daemon::protected_host_to_json(back) == form, "host %s serialises unstably",
               h.address.to_string().c_str());
    hosts.push_back(nlohmann::ordered_json(form));
  }
  canonical["protected_hosts"] = hosts;
  // The lists as the API writes them back (canonical groups).
  canonical["lists"] = nlohmann::ordered_json(daemon::source_lists_to_json(loaded.config.lists));
  DaemonConfig rewritten;
  try {
    rewritten = daemon::parse_config_document(canonical);
  } catch (const ConfigError& e) {
    FUZZ_CHECK(false, "the document with written-back hosts is refused: %s", e.what());
  }
  FUZZ_CHECK(same_config(loaded.config, rewritten), "writing hosts back changes the config");
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden::fuzz;
  if (size > 64 * 1024) return -1;  // configs are small; huge inputs only slow the search
  write_scratch(data, size);
  LoadedConfig loaded;
  try {
    loaded = synwarden::daemon::read_config_file(scratch_file());
  } catch (const ConfigError& e) {
    FUZZ_CHECK(e.what()[0] != '\0', "ConfigError without a message");
    return 0;
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "read_config_file() let a non-ConfigError escape: %s", e.what());
  } catch (...) {
    FUZZ_CHECK(false, "read_config_file() threw a non-exception");
  }
  FUZZ_CHECK(!json_repeats_a_key_or_holds_nul(loaded.text),
             "a file that repeats a key or holds a NUL byte was accepted");
  check_ranges(loaded.config);
  check_round_trip(loaded);
  return 0;
}
