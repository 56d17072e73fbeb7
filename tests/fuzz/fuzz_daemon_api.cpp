// Fuzz target: the daemon's REST API request handling, end to end below HTTP: ApiRouter ->
// ControlPlane and DaemonReports (config validation, reload planning, secrets, snapshot
// publication) -> a recording stand-in for the XDP maps. Each input is a sequence of requests
// (format below) played against a freshly started control plane whose config file names two
// hosts with real secrets files. Properties, after every request:
//  1. The answer is 2xx or 4xx (a 5xx means a request crashed through to "internal error": the
//     stand-in dataplane never fails, so nothing may roll back), with a JSON body; errors are
//     {"error": "<non-empty>"}, a 405 names the allowed methods; GET /metrics is Prometheus text.
//     The one 5xx allowed is GET /health's 503 verdict with its checks: this harness loads no
//     XDP program, so the box is never healthy.
//  2. A 4xx changed nothing: hosts, their settings, the XDP map, the snapshot version and the
//     published snapshots are exactly as before.
//  3. The XDP hosts map, the running config and the workers' latest snapshot list the same
//     addresses with the same mode (the control plane's ordering guarantee); the workers'
//     snapshot protects exactly the protect and auto hosts (host_mode.h).
//  4. A 2xx host operation did what it says: an added host is listed, a removed one is not, a
//     protect or mode request set exactly the requested mode.
//  5. Ambiguous input is refused (4xx): a body (POST /hosts, POST /hosts/{ip}/protect|mode) that
//     repeats a key or holds a NUL byte in a key or string (json_reference.h, an independent
//     check), a path holding a NUL byte, a request without a Host header.
//  6. Source lists (/lists/{allow|deny}): the stand-in's lists equal the running config's after
//     every request (a bulk change reaches the maps whole or not at all), a 4xx leaves them as
//     they were, a 2xx POST lists every prefix of its body and a 2xx DELETE none of them.
//
// Input: requests separated by a line "%%". A request is "METHOD PATH", then optional header
// lines "Content-Type: ..." / "Host: ..." (defaults: application/json, 127.0.0.1:9477), an
// empty line, and the body, in which "@DIR@" stands for the scratch directory holding the
// secrets files a.json, b.json (valid) and bad.json. Inputs whose bodies would reach beyond the scratch directory (an
// "agent" key makes the daemon poll a UDP address; a path under /dev, /proc or /sys could make
// it read forever) are skipped: the harness never sends traffic or reads devices.
// The daemon logs to stderr; scripts/fuzz.sh runs this target with -close_fd_mask=2 (libFuzzer
// and sanitizer reports still appear). SYNWARDEN_FUZZ_VERBOSE=1 prints each request's status.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_router.h"
#include "control_plane.h"
#include "daemon_reports.h"
#include "fuzz_support.h"
#include "json_reference.h"
#include "synwarden/secrets.h"

namespace synwarden::fuzz {
namespace {

using daemon::ApiRequest;
using daemon::ApiResponse;
using synwarden::IpAddress;
using json = nlohmann::json;

const MacAddress kFirewallMac{0x02, 0x53, 0x57, 0, 0, 0x03};
constexpr size_t kMaxRequests = 16;

// Records what the control plane tells the XDP program; never fails.
class MapStandIn : public daemon::DataplanePort {
 public:
  void upsert_host(const daemon::ProtectedHostConfig& h) override {
    ++writes;
    std::erase_if(hosts, [&](const auto& e) { return e.first == h.address; });
    hosts.emplace_back(h.address, h.mode);
  }
  void erase_host(const IpAddress& a) override {
    ++writes;
    std::erase_if(hosts, [&](const auto& e) { return e.first == a; });
  }
  std::vector<IpAddress> list_hosts() override {
    std::vector<IpAddress> out;
    for (const auto& e : hosts) out.push_back(e.first);
    return out;
  }
  void write_settings(const daemon::DaemonConfig&) override { ++writes; }
  void write_host_cookies(const daemon::Snapshot&) override { ++writes; }
  void write_outbound_keys(const daemon::Snapshot&) override { ++writes; }
  void update_list(daemon::ListKindCfg kind, const daemon::ListDiff& diff) override {
    ++writes;
    auto& list = lists.of(kind);
    for (const auto& p : diff.removed) std::erase(list, p);
    list.insert(list.end(), diff.added.begin(), diff.added.end());
    std::sort(list.begin(), list.end());
  }
  void sync_lists(const daemon::DaemonConfig& c) override {
    ++writes;
    lists = c.lists;
  }
  void write_synack_budget(const daemon::SynAckBudget&) override { ++writes; }

  std::vector<std::pair<IpAddress, daemon::HostMode>> hosts;
  daemon::SourceLists lists;
  uint64_t writes = 0;
};

HostSecrets scratch_secrets(uint64_t k) {
  HostSecrets s;
  s.syncookie = {SipKey{k, k + 1}, SipKey{k + 2, k + 3}};
  s.syncookie6 = {SipKey{k + 4, k + 5}, SipKey{k + 6, k + 7}};
  s.ts_key = SipKey{k + 8, k + 9};
  s.clock = HostClockSample{5'000'000'000ULL, 250, 123'456'789};
  return s;
}

// The scratch directory (per process, removed at exit): the config file and secrets files
// a.json, b.json (valid) and bad.json (not secrets), which added hosts may name.
struct Scratch {
  std::filesystem::path dir;
  std::filesystem::path config;
  daemon::LoadedConfig loaded;
};

const Scratch& scratch() {
  static const Scratch s = [] {
    char templ[] = "/tmp/synwarden-fuzz-api-XXXXXX";
    if (::mkdtemp(templ) == nullptr) {
      std::perror("fuzz_daemon_api: mkdtemp in /tmp");
      std::abort();
    }
    static const std::string keep = templ;
    std::atexit([] { std::filesystem::remove_all(keep); });
    Scratch out;
    out.dir = templ;
    std::ofstream(out.dir / "a.json") << serialize_secrets(scratch_secrets(100));
    std::ofstream(out.dir / "b.json") << serialize_secrets(scratch_secrets(200));
    std::ofstream(out.dir / "bad.json") << "{\"not\": \"secrets\"}";
    // The daemon only trusts secrets files private to its user (synwarden/private_file.h).
    for (const char* name : {"a.json", "b.json", "bad.json"}) {
      std::filesystem::permissions(out.dir / name, std::filesystem::perms::owner_read |
                                                       std::filesystem::perms::owner_write);
    }
    const json config = {
        {"interface", "eth1"},
        {"limits", {{"host_table_size", 6}, {"forwarded_synack_pps", 1000}}},
        // Runtime-only API changes: the file stays as written, so reload is deterministic.
        {"api", {{"persist_changes", false}}},
        {"protected_hosts",
         {{{"address", "192.0.2.10"},
           {"mac", "02:00:5e:00:53:10"},
           {"secrets_file", (out.dir / "a.json").string()},
           {"ports", {80, 443}}},
          {{"address", "2001:db8::10"},
           {"mac", "02:00:5e:00:53:11"},
           {"secrets_file", (out.dir / "b.json").string()},
           {"protection", false},
           {"policy", {{"fail", "closed"}}}}}}};
    out.config = out.dir / "synwarden.json";
    std::ofstream(out.config) << config.dump(2);
    out.loaded = daemon::read_config_file(out.config);
    return out;
  }();
  return s;
}

bool verbose() {
  static const bool v = std::getenv("SYNWARDEN_FUZZ_VERBOSE") != nullptr;
  return v;
}

std::vector<ApiRequest> parse_requests(std::string_view text) {
  std::vector<ApiRequest> out;
  while (out.size() < kMaxRequests) {
    const size_t sep = text.find("\n%%\n");
    std::string_view record = text.substr(0, sep);
    ApiRequest r;
    r.content_type = "application/json";
    r.host = "127.0.0.1:9477";
    size_t eol = record.find('\n');
    const std::string_view first = record.substr(0, eol);
    const size_t space = first.find(' ');
    r.method = std::string(first.substr(0, space));
    if (space != std::string_view::npos) r.path = std::string(first.substr(space + 1));
    record = eol == std::string_view::npos ? std::string_view{} : record.substr(eol + 1);
    while (!record.empty()) {
      eol = record.find('\n');
      const std::string_view line = record.substr(0, eol);
      record = eol == std::string_view::npos ? std::string_view{} : record.substr(eol + 1);
      if (line.empty()) break;
      for (const auto& [name, field] : {std::pair{std::string_view("Content-Type:"), &r.content_type},
                                        std::pair{std::string_view("Host:"), &r.host}}) {
        if (line.starts_with(name)) {
          std::string_view value = line.substr(name.size());
          while (value.starts_with(' ')) value.remove_prefix(1);
          *field = std::string(value);
        }
      }
    }
    r.body = std::string(record);
    // "@DIR@" names the scratch directory, so seeds can add hosts with real secrets files.
    for (size_t at = r.body.find("@DIR@"); at != std::string::npos; at = r.body.find("@DIR@", at)) {
      r.body.replace(at, 5, scratch().dir.string());
      at += scratch().dir.string().size();
    }
    out.push_back(std::move(r));
    if (sep == std::string_view::npos) break;
    text.remove_prefix(sep + 4);
  }
  return out;
}

// True if a body could make the daemon leave the scratch directory (see the file comment).
bool reaches_outside(const json& value) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      if (key.find("agent") != std::string::npos || reaches_outside(item)) return true;
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (reaches_outside(item)) return true;
    }
  } else if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    for (const char* bad : {"/dev", "/proc", "/sys", "/run", "agent"}) {
      if (s.find(bad) != std::string::npos) return true;
    }
  }
  return false;
}

bool unsafe(const std::vector<ApiRequest>& requests) {
  for (const auto& r : requests) {
    if (r.body.find("agent") != std::string::npos) return true;
    json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_discarded() && reaches_outside(body)) return true;
  }
  return false;
}

// Everything a refused request must leave alone.
struct State {
  std::string hosts;
  std::string lists;
  uint64_t snapshot_version;
  uint64_t map_writes;
  uint64_t published;
  friend bool operator==(const State&, const State&) = default;
};

class Harness {
 public:
  Harness()
      : counters_(1, scratch().loaded.config.limits.host_table_size),
        control_(scratch().config, scratch().loaded, map_, counters_, kFirewallMac,
                 [this](std::unique_ptr<const daemon::Snapshot> s) {
                   ++published_;
                   latest_ = std::move(s);
                 }) {
    latest_ = control_.start();
    reports_ = std::make_unique<daemon::DaemonReports>(control_, counters_, daemon::RuntimeInfo{});
    router_ = std::make_unique<daemon::ApiRouter>(control_, *reports_);
  }

  ApiResponse handle(const ApiRequest& r) { return router_->handle(r); }

  State state() const {
    return State{control_.hosts_json().dump(),
                 daemon::source_lists_to_json(control_.config().lists).dump(),
                 control_.snapshot_version(), map_.writes, published_};
  }

  void check_consistent(const char* after) const {
    FUZZ_CHECK(map_.lists == control_.config().lists,
               "after %s: the XDP lists differ from the running config's", after);
    const auto& hosts = control_.config().protected_hosts;
    FUZZ_CHECK(map_.hosts.size() == hosts.size() && latest_->hosts().size() == hosts.size(),
               "after %s: XDP map has %zu hosts, config %zu, snapshot %zu", after,
               map_.hosts.size(), hosts.size(), latest_->hosts().size());
    for (const auto& h : hosts) {
      const auto in_map = std::find_if(map_.hosts.begin(), map_.hosts.end(),
                                       [&](const auto& e) { return e.first == h.address; });
      FUZZ_CHECK(in_map != map_.hosts.end() && in_map->second == h.mode,
                 "after %s: XDP map entry of %s missing or its mode differs", after,
                 h.address.to_string().c_str());
      const auto& snap = latest_->hosts();
      const auto in_snap = std::find_if(snap.begin(), snap.end(),
                                        [&](const auto& e) { return e.address == h.address; });
      const bool workers_protect =
          h.mode == daemon::HostMode::kProtect || h.mode == daemon::HostMode::kAuto;
      FUZZ_CHECK(in_snap != snap.end() && in_snap->protection == workers_protect,
                 "after %s: snapshot entry of %s missing or protection differs", after,
                 h.address.to_string().c_str());
    }
  }

  const std::vector<daemon::ListPrefix>& lists(daemon::ListKindCfg kind) const {
    return control_.config().lists.of(kind);
  }

  const daemon::ProtectedHostConfig* find(const IpAddress& a) const {
    for (const auto& h : control_.config().protected_hosts) {
      if (h.address == a) return &h;
    }
    return nullptr;
  }

 private:
  MapStandIn map_;
  daemon::HostCounters counters_;
  daemon::ControlPlane control_;
  std::unique_ptr<const daemon::Snapshot> latest_;
  uint64_t published_ = 0;
  std::unique_ptr<daemon::DaemonReports> reports_;
  std::unique_ptr<daemon::ApiRouter> router_;
};

void check_response(const ApiRequest& q, const ApiResponse& r) {
  const char* m = q.method.c_str();
  const char* p = q.path.c_str();
  const json verdict = r.status == 503 ? json::parse(r.body, nullptr, false) : json();
  const bool health_verdict = verdict.is_object() && verdict.contains("checks") &&
                              verdict.value("healthy", true) == false;
  FUZZ_CHECK((r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500) ||
                 health_verdict,
             "%s %s answered %d: %s", m, p, r.status, r.body.c_str());
  if (r.status == 200 && q.method == "GET" && r.content_type.starts_with("text/plain")) {
    FUZZ_CHECK(!r.body.empty() && r.body.back() == '\n', "metrics text not newline-terminated");
    return;
  }
  FUZZ_CHECK(r.content_type == "application/json", "%s %s: content type %s", m, p,
             r.content_type.c_str());
  const json body = json::parse(r.body, nullptr, false);
  FUZZ_CHECK(!body.is_discarded(), "%s %s: body is not JSON: %s", m, p, r.body.c_str());
  if (r.status >= 400 && !health_verdict) {
    const auto it = body.is_object() ? body.find("error") : body.end();
    FUZZ_CHECK(body.is_object() && body.size() == 1 && it != body.end() && it->is_string() &&
                   !it->get_ref<const std::string&>().empty(),
               "%s %s: error body is not {\"error\": \"...\"}: %s", m, p, r.body.c_str());
    FUZZ_CHECK(r.status != 405 || !r.allow.empty(), "%s %s: 405 without Allow", m, p);
  }
}

// The address of "/hosts/<ip>[/...]" if the path names one.
std::optional<IpAddress> path_host(const std::string& path) {
  std::string_view rest = path;
  while (rest.starts_with('/')) rest.remove_prefix(1);
  if (!rest.starts_with("hosts/")) return std::nullopt;
  rest.remove_prefix(6);
  while (rest.starts_with('/')) rest.remove_prefix(1);
  return IpAddress::parse(std::string(rest.substr(0, rest.find('/'))));
}

// Property 5.
void check_ambiguous_refused(const ApiRequest& q, const ApiResponse& r) {
  const bool refused = r.status >= 400 && r.status < 500;
  const char* m = q.method.c_str();
  FUZZ_CHECK(!q.host.empty() || r.status == 400, "%s without Host answered %d", m, r.status);
  FUZZ_CHECK(q.path.find('\0') == std::string::npos || refused,
             "%s with a NUL byte in the path answered %d", m, r.status);
  const bool reads_body = (q.method == "POST" && (path_host(q.path) || q.path == "/hosts" ||
                                                  q.path == "/hosts/")) ||
                          q.path == "/lists/allow" || q.path == "/lists/deny";
  FUZZ_CHECK(!reads_body || !json_repeats_a_key_or_holds_nul(q.body) || refused,
             "%s %s with a repeated key or NUL in the body answered %d", m, q.path.c_str(),
             r.status);
}

// Property 6: a 2xx list change did what it says.
void check_list_effect(const Harness& h, const ApiRequest& q) {
  const bool allow = q.path == "/lists/allow";
  if (!allow && q.path != "/lists/deny") return;
  std::vector<daemon::ListPrefix> body;
  daemon::parse_list_group(json::parse(q.body), "list", body);  // accepted: parses again
  const auto& list = h.lists(allow ? daemon::ListKindCfg::kAllow : daemon::ListKindCfg::kDeny);
  for (const auto& p : body) {
    const bool listed = std::binary_search(list.begin(), list.end(), p);
    FUZZ_CHECK(listed == (q.method == "POST"), "%s %s answered 2xx but %s is %s", q.method.c_str(),
               q.path.c_str(), p.prefix_text().c_str(), listed ? "listed" : "not listed");
  }
}

void check_effect(const Harness& h, const ApiRequest& q, const ApiResponse& r) {
  if (r.status < 200 || r.status >= 300 || q.method == "GET") return;
  if (q.path.starts_with("/lists/")) return check_list_effect(h, q);
  if (r.status == 201) {
    const json spec = json::parse(q.body);
    const auto address = IpAddress::parse(spec.at("address").get<std::string>());
    FUZZ_CHECK(address && h.find(*address) != nullptr, "POST /hosts 201 but the host is absent");
    return;
  }
  const auto address = path_host(q.path);
  if (!address) return;
  if (q.method == "DELETE") {
    FUZZ_CHECK(h.find(*address) == nullptr, "DELETE %s succeeded but the host is still there",
               q.path.c_str());
  } else if (q.path.ends_with("protect") || q.path.ends_with("protect/")) {
    const bool on = json::parse(q.body).at("protection").get<bool>();
    const auto* host = h.find(*address);
    const auto want = on ? daemon::HostMode::kProtect : daemon::HostMode::kPass;
    FUZZ_CHECK(host != nullptr && host->mode == want, "POST %s {protection: %d} not applied",
               q.path.c_str(), on);
  } else if (q.path.ends_with("/mode") || q.path.ends_with("/mode/")) {
    const auto want = daemon::parse_host_mode(json::parse(q.body).at("mode").get<std::string>());
    const auto* host = h.find(*address);
    FUZZ_CHECK(want && host != nullptr && host->mode == *want, "POST %s {mode} not applied",
               q.path.c_str());
  }
}

}  // namespace
}  // namespace synwarden::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace synwarden::fuzz;
  if (size > 16 * 1024) return -1;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Checked on the raw text too: "@DIR@" expands to a path of random letters.
  if (text.find("agent") != std::string_view::npos) return -1;
  const auto requests = parse_requests(text);
  if (unsafe(requests)) return -1;
  std::optional<Harness> harness;
  harness.emplace();
  harness->check_consistent("start");
  for (const auto& q : requests) {
    const State before = harness->state();
    const ApiResponse r = harness->handle(q);
    if (verbose()) {
      std::fprintf(stderr, "fuzz_daemon_api: %s %s -> %d %s\n", q.method.c_str(), q.path.c_str(),
                   r.status, r.body.substr(0, 200).c_str());
    }
    check_response(q, r);
    check_ambiguous_refused(q, r);
    if (r.status >= 400) {
      FUZZ_CHECK(harness->state() == before, "%s %s was refused with %d but changed state",
                 q.method.c_str(), q.path.c_str(), r.status);
    }
    check_effect(*harness, q, r);
    harness->check_consistent(q.method.c_str());
  }
  return 0;
}
