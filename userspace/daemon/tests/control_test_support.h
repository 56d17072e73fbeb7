// Test doubles shared by the control-plane tests: a dataplane that records what it is told (and
// can be told to fail), a temporary directory with a config file and secrets files.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_dataplane.h"
#include "snapshot.h"
#include "synwarden/secrets.h"

namespace synwarden::daemon::testing {

// Every call, in order, as text: "upsert 192.0.2.10 protect=1", "erase 192.0.2.11",
// "settings 0", and "publish v3 192.0.2.10,192.0.2.11" from the snapshot publisher.
class RecordingDataplane : public DataplanePort {
 public:
  void upsert_host(const ProtectedHostConfig& h) override {
    if (h.address.to_string() == fail_upsert_of) throw std::runtime_error("injected map failure");
    log.push_back("upsert " + h.address.to_string() + " protect=" +
                  (h.mode == HostMode::kProtect ? "1" : "0") +
                  (h.mode == HostMode::kProtect || h.mode == HostMode::kPass
                       ? std::string()
                       : std::string(" mode=") + host_mode_name(h.mode)));
    map_hosts.push_back(h.address);
  }
  void erase_host(const IpAddress& a) override {
    log.push_back("erase " + a.to_string());
    std::erase(map_hosts, a);
  }
  std::vector<IpAddress> list_hosts() override { return map_hosts; }
  void write_settings(const DaemonConfig& c) override {
    log.push_back("settings " + std::to_string(c.limits.forwarded_synack_pps));
  }
  void write_host_cookies(const Snapshot& s) override {
    log.push_back("host_cookies v" + std::to_string(s.version()));
  }
  // Source lists: recorded apart from `log` (whose sequence the host tests compare).
  void update_list(ListKindCfg kind, const ListDiff& diff) override {
    if (fail_list_update) throw std::runtime_error("injected list map failure");
    auto& list = kind == ListKindCfg::kAllow ? lists.allow : lists.deny;
    for (const auto& p : diff.added) list.push_back(p);
    for (const auto& p : diff.removed) std::erase(list, p);
    std::sort(list.begin(), list.end());
    ++list_updates;
  }
  void sync_lists(const DaemonConfig& c) override {
    lists = c.lists;
    budget = c.synack_budget;
    ++list_syncs;
  }
  void write_synack_budget(const SynAckBudget& b) override { budget = b; }
  SourceLists lists;
  SynAckBudget budget;
  int list_updates = 0;
  int list_syncs = 0;
  bool fail_list_update = false;
  void write_outbound_keys(const Snapshot& s) override {
    outbound_keys_of = s.version();
    outbound_key_hosts = 0;
    for (const auto& h : s.hosts()) outbound_key_hosts += h.keys && h.keys->secrets.outbound_key;
  }
  // Auto mode: SYN counters the test sets, protect states the control plane switches.
  uint64_t read_syn_count(const IpAddress& a) override {
    if (fail_syn_read) throw std::runtime_error("injected sw_host_syns failure");
    return syn_counts[a.to_string()];
  }
  bool fail_syn_read = false;
  void set_auto_protect(const IpAddress& a, bool protect) override {
    log.push_back("auto " + a.to_string() + " " + (protect ? "protect" : "pass"));
    auto_protect[a.to_string()] = protect;
  }
  bool auto_protected(const IpAddress& a) override { return auto_protect[a.to_string()]; }
  std::map<std::string, uint64_t> syn_counts;
  std::map<std::string, bool> auto_protect;

  uint64_t outbound_keys_of = 0;    // snapshot version of the last write_outbound_keys
  size_t outbound_key_hosts = 0;    // hosts of it that had an outbound key

  std::vector<std::string> log;
  std::vector<IpAddress> map_hosts;
  std::string fail_upsert_of;  // address whose upsert throws
};

inline HostSecrets secrets_for_test(uint64_t k) {
  HostSecrets s;
  s.syncookie = {SipKey{k, k + 1}, SipKey{k + 2, k + 3}};
  s.syncookie6 = {SipKey{k + 4, k + 5}, SipKey{k + 6, k + 7}};
  s.ts_key = SipKey{k + 8, k + 9};
  s.clock = HostClockSample{5'000'000'000ull, 250, 123'456'789};
  return s;
}

class TempDir {
 public:
  TempDir() {
    char dir[] = "/tmp/synwarden-control-test-XXXXXX";
    path_ = mkdtemp(dir);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

  void write(const std::string& name, const std::string& text, mode_t mode = 0640) const {
    const auto p = file(name);
    std::ofstream(p, std::ios::trunc) << text;
    ::chmod(p.c_str(), mode);
  }
  std::string read(const std::string& name) const {
    std::ifstream in(file(name));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  mode_t mode(const std::string& name) const {
    struct stat st {};
    ::stat(file(name).c_str(), &st);
    return st.st_mode & 07777;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace synwarden::daemon::testing
