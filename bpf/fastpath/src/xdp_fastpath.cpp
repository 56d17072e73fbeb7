#include "synwarden/dataplane/xdp_fastpath.h"

#include "map_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "fastpath.skel.h"

namespace synwarden::dataplane {

using detail::err_of;
using detail::host_key_of;

namespace {

// ---- libbpf log capture: load failures carry the verifier's explanation ----

std::mutex g_log_mutex;     // libbpf_set_print() is process-wide
std::string* g_log = nullptr;

int capture_print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG || g_log == nullptr) return 0;
  // One message can be the whole verifier log (hundreds of KB): size it, then format it.
  va_list sizing;
  va_copy(sizing, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, sizing);
  va_end(sizing);
  if (n <= 0) return n;
  std::string text(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), fmt, args);
  text.pop_back();
  g_log->append(text);
  // Only the end matters (the verifier's reason); cap the memory a huge log can take.
  constexpr std::size_t kKeep = 256 * 1024;
  if (g_log->size() > 2 * kKeep) g_log->erase(0, g_log->size() - kKeep);
  return n;
}

class LogCapture {
 public:
  LogCapture() : lock_(g_log_mutex) {
    g_log = &text_;
    previous_ = libbpf_set_print(capture_print);
  }
  ~LogCapture() {
    libbpf_set_print(previous_);
    g_log = nullptr;
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The last `lines` lines: the verifier states its reason at the end of its log.
  std::string tail(std::size_t lines = 30) const {
    std::size_t pos = text_.size();
    for (std::size_t i = 0; i <= lines && pos > 0; ++i) {
      pos = text_.rfind('\n', pos - 1);
      if (pos == std::string::npos) return text_;
    }
    return text_.substr(pos + 1);
  }

 private:
  std::lock_guard<std::mutex> lock_;
  std::string text_;
  libbpf_print_fn_t previous_ = nullptr;
};

std::string ifname_of(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return "ifindex " + std::to_string(ifindex);
  }
  return std::string(name) + " (ifindex " + std::to_string(ifindex) + ")";
}

Result<bpf_map_info> map_info(int fd, const std::string& what) {
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (int ret = bpf_obj_get_info_by_fd(fd, &info, &len); ret < 0) {
    return os_error(err_of(ret), "reading BPF object info of " + what);
  }
  return info;
}

Result<bpf_prog_info> prog_info(int fd, const std::string& what) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (int ret = bpf_obj_get_info_by_fd(fd, &info, &len); ret < 0) {
    return os_error(err_of(ret), "reading BPF program info of " + what);
  }
  return info;
}

Result<UniqueFd> dup_fd(int fd, const char* what) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return os_error(errno, std::string("duplicating the fd of ") + what);
  return UniqueFd(copy);
}

// Decides, before load, whether a pinned map can be adopted. Same type, key, value and flags:
// adopt (a differing max_entries is taken from the pinned map, so a config change never loses
// flows silently; it is reported). Otherwise the layout changed (an upgrade): a disposable map
// (counters, settings the daemon rewrites) is recreated; a map holding state (flows, hosts) is
// refused unless the caller asked for a reset.
Result<void> prepare_pin(bpf_map* map, bool disposable, const std::string& path,
                         const LoadOptions& opts, std::vector<std::string>& adopted,
                         std::vector<std::string>& warnings) {
  const char* name = bpf_map__name(map);
  UniqueFd pinned(bpf_obj_get(path.c_str()));
  if (!pinned.valid()) {
    if (errno != ENOENT) return os_error(errno, "opening pinned map " + path);
  } else {
    auto info = map_info(pinned.get(), path);
    if (!info) return info.error();
    const bool same_layout = info->type == bpf_map__type(map) &&
                             info->key_size == bpf_map__key_size(map) &&
                             info->value_size == bpf_map__value_size(map) &&
                             info->map_flags == bpf_map__map_flags(map);
    if (!same_layout) {
      if (!disposable && !opts.reset_incompatible_pins) {
        return logic_error("pinned map " + path + " has another layout than this build's " +
                           name + " (an upgrade changed it); remove it (rm " + path +
                           ") or load with reset_incompatible_pins to recreate it, which loses its "
                           "contents");
      }
      if (::unlink(path.c_str()) != 0) return os_error(errno, "unpinning incompatible map " + path);
      warnings.push_back("recreated " + path + ": its layout changed; its contents are lost");
    } else {
      if (info->max_entries != bpf_map__max_entries(map)) {
        warnings.push_back("kept " + path + " with " + std::to_string(info->max_entries) +
                           " entries instead of the configured " +
                           std::to_string(bpf_map__max_entries(map)) +
                           "; unpin it to apply the new size");
        if (int ret = bpf_map__set_max_entries(map, info->max_entries); ret < 0) {
          return os_error(err_of(ret), std::string("sizing map ") + name);
        }
      }
      adopted.emplace_back(name);
    }
  }
  if (int ret = bpf_map__set_pin_path(map, path.c_str()); ret < 0) {
    return os_error(err_of(ret), "setting pin path " + path);
  }
  return {};
}

}  // namespace

Result<XdpFastpath> XdpFastpath::load(const LoadOptions& opts) {
  XdpFastpath fp;
  fp.pin_dir_ = opts.pin_dir;
  LogCapture log;

  fp.skel_ = fastpath_bpf__open();
  if (fp.skel_ == nullptr) return os_error(errno, "opening the embedded fastpath BPF object");

  fp.skel_->rodata->sw_knob_xsk_fail_open = opts.xsk_fail_open ? 1 : 0;
  fp.skel_->rodata->sw_knob_learn_in_pass_mode = opts.learn_in_pass_mode ? 1 : 0;
  const std::array<std::pair<bpf_map*, std::uint32_t>, 13> sizes = {{
      {fp.skel_->maps.sw_hosts, opts.host_table_size},
      {fp.skel_->maps.sw_host_cookies, opts.host_table_size},
      // One counter slot per host, as the daemon's HostCounters (limits.host_table_size).
      {fp.skel_->maps.sw_host_stats, opts.host_table_size},
      {fp.skel_->maps.sw_flows, opts.flow_table_size},
      {fp.skel_->maps.sw_outbound, opts.outbound_table_size},
      {fp.skel_->maps.sw_outbound_unverified, opts.outbound_unverified_table_size},
      {fp.skel_->maps.sw_outbound_keys, opts.host_table_size},
      {fp.skel_->maps.sw_xsks, opts.max_queues},
      {fp.skel_->maps.sw_host_syns, opts.host_table_size},
      {fp.skel_->maps.sw_pass_syns, opts.pass_syn_table_size},
      {fp.skel_->maps.sw_list_v4, opts.list_prefixes},
      {fp.skel_->maps.sw_list_v6, opts.list_prefixes},
      {fp.skel_->maps.sw_syn_budget, opts.syn_budget_table_size},
  }};
  for (const auto& [map, size] : sizes) {
    if (size == 0) return logic_error(std::string("size of map ") + bpf_map__name(map) + " is 0");
    if (int ret = bpf_map__set_max_entries(map, size); ret < 0) {
      return os_error(err_of(ret), std::string("sizing map ") + bpf_map__name(map));
    }
  }
  // The flow hint's size follows the flow table's configured size. It is never pinned: each
  // program has its own, off until the daemon's first rebuild after attach (docs/flow-hint.md).
  const std::uint32_t hint_words = flow_hint_words_for(opts.flow_table_size);
  if (int ret = bpf_map__set_max_entries(fp.skel_->maps.sw_flow_hint, 1 + 2 * hint_words);
      ret < 0) {
    return os_error(err_of(ret), "sizing map sw_flow_hint");
  }
  fp.skel_->rodata->sw_knob_flow_hint_words = hint_words;
  {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return os_error(-cpus, "counting possible CPUs");
    const CandidateBucket b = candidate_bucket(opts.candidates_per_s, static_cast<unsigned>(cpus));
    fp.skel_->rodata->sw_knob_candidate_cost_ns = b.cost_ns;
    fp.skel_->rodata->sw_knob_candidate_burst_ns = b.burst_ns;
  }

  if (!opts.pin_dir.empty()) {
    if (auto ok = ensure_bpffs_dir(opts.pin_dir); !ok) return ok.error();
    fp.pin_lock_.reset(::open(opts.pin_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fp.pin_lock_.valid()) return os_error(errno, "opening pin directory " + opts.pin_dir);
    if (::flock(fp.pin_lock_.get(), LOCK_EX | LOCK_NB) != 0) {
      return os_error(errno, "locking pin directory " + opts.pin_dir,
                      errno == EWOULDBLOCK ? "another synwarden process owns it; stop it first"
                                           : std::string{});
    }
    // The XSKMAP is not pinned: its entries are sockets of the process that bound them.
    // sw_host_stats neither: its slots are the counter slots of the daemon that loaded the
    // program (a restarted daemon may number its hosts differently), so it starts at zero.
    const std::pair<bpf_map*, bool> pinned[] = {
        {fp.skel_->maps.sw_hosts, false},
        {fp.skel_->maps.sw_flows, false},
        {fp.skel_->maps.sw_outbound, false},
        {fp.skel_->maps.sw_outbound_unverified, false},
        // Rewritten by the daemon from its agents' secrets; pinned so a program left running
        // across a restart keeps verifying stamps.
        {fp.skel_->maps.sw_outbound_keys, true},
        {fp.skel_->maps.sw_stats, true},
        {fp.skel_->maps.sw_settings, true},
        // The cookie datapath's host data: pinned (bpffs, root-only directory) so a program
        // left running across a daemon restart keeps answering SYNs; the daemon rewrites it.
        {fp.skel_->maps.sw_host_cookies, true},
        {fp.skel_->maps.sw_cookie_ports, true},
        // Source lists: pinned so a program left running keeps blocking across a restart;
        // the daemon syncs them from its configuration document.
        {fp.skel_->maps.sw_list_v4, true},
        {fp.skel_->maps.sw_list_v6, true},
        {fp.skel_->maps.sw_budget_cfg, true},
    };
    for (const auto& [map, disposable] : pinned) {
      const std::string path = opts.pin_dir + "/" + bpf_map__name(map);
      if (auto ok = prepare_pin(map, disposable, path, opts, fp.adopted_, fp.warnings_); !ok) {
        return ok.error();
      }
    }
  }

  if (int ret = fastpath_bpf__load(fp.skel_); ret < 0) {
    const int err = err_of(ret);
    std::string hint = err == EPERM ? "run as root (needs CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON)"
                                    : "the libbpf/verifier log follows";
    return Error{err, "loading XDP program " + std::string(kProgramName) + ": " +
                          std::strerror(err) + " (errno " + std::to_string(err) + "); " + hint +
                          "\n" + log.tail()};
  }

  const int prog_fd = bpf_program__fd(fp.skel_->progs.sw_fastpath);
  auto info = prog_info(prog_fd, kProgramName);
  if (!info) return info.error();
  fp.prog_id_ = info->id;

  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return os_error(-cpus, "counting possible CPUs");
  auto hosts = dup_fd(bpf_map__fd(fp.skel_->maps.sw_hosts), "sw_hosts");
  auto flows = dup_fd(bpf_map__fd(fp.skel_->maps.sw_flows), "sw_flows");
  auto outbound = dup_fd(bpf_map__fd(fp.skel_->maps.sw_outbound), "sw_outbound");
  auto unverified =
      dup_fd(bpf_map__fd(fp.skel_->maps.sw_outbound_unverified), "sw_outbound_unverified");
  auto okeys = dup_fd(bpf_map__fd(fp.skel_->maps.sw_outbound_keys), "sw_outbound_keys");
  auto xsks = dup_fd(bpf_map__fd(fp.skel_->maps.sw_xsks), "sw_xsks");
  auto stats = dup_fd(bpf_map__fd(fp.skel_->maps.sw_stats), "sw_stats");
  auto settings = dup_fd(bpf_map__fd(fp.skel_->maps.sw_settings), "sw_settings");
  auto cookies = dup_fd(bpf_map__fd(fp.skel_->maps.sw_host_cookies), "sw_host_cookies");
  auto ports = dup_fd(bpf_map__fd(fp.skel_->maps.sw_cookie_ports), "sw_cookie_ports");
  auto host_stats = dup_fd(bpf_map__fd(fp.skel_->maps.sw_host_stats), "sw_host_stats");
  // sw_host_syns and sw_pass_syns are not pinned: the SYN counts are the running daemon's
  // controller's, and a pass-mode SYN vouches for seconds only.
  auto host_syns = dup_fd(bpf_map__fd(fp.skel_->maps.sw_host_syns), "sw_host_syns");
  auto list4 = dup_fd(bpf_map__fd(fp.skel_->maps.sw_list_v4), "sw_list_v4");
  auto list6 = dup_fd(bpf_map__fd(fp.skel_->maps.sw_list_v6), "sw_list_v6");
  auto hits = dup_fd(bpf_map__fd(fp.skel_->maps.sw_list_hits), "sw_list_hits");
  auto bcfg = dup_fd(bpf_map__fd(fp.skel_->maps.sw_budget_cfg), "sw_budget_cfg");
  auto bcfg2 = dup_fd(bpf_map__fd(fp.skel_->maps.sw_budget_cfg), "sw_budget_cfg");
  auto budget = dup_fd(bpf_map__fd(fp.skel_->maps.sw_syn_budget), "sw_syn_budget");
  auto cand = dup_fd(bpf_map__fd(fp.skel_->maps.sw_candidates), "sw_candidates");
  auto cand_cpu = dup_fd(bpf_map__fd(fp.skel_->maps.sw_confirm_cpu), "sw_confirm_cpu");
  for (auto* r : {&hosts, &flows, &outbound, &unverified, &okeys, &xsks, &stats, &settings,
                  &cookies, &ports, &host_stats, &host_syns, &list4, &list6, &hits, &bcfg, &bcfg2,
                  &budget, &cand, &cand_cpu}) {
    if (!*r) return r->error();
  }
  auto hint = FlowHint::map(bpf_map__fd(fp.skel_->maps.sw_flow_hint), hint_words);
  if (!hint) return hint.error();
  const auto ncpus = static_cast<unsigned>(cpus);
  auto candidates = CandidateRing::open(std::move(*cand), std::move(*cand_cpu), ncpus);
  if (!candidates) return candidates.error();
  fp.tables_.reset(new FastpathTables{HostTable(std::move(*hosts)), FlowTable(std::move(*flows)),
                                      FlowTable(std::move(*outbound)),
                                      FlowTable(std::move(*unverified)),
                                      OutboundKeyTable(std::move(*okeys)), XskTable(std::move(*xsks)),
                                      StatsTable(std::move(*stats), ncpus),
                                      SettingsTable(std::move(*settings), ncpus),
                                      HostCookieTable(std::move(*cookies), std::move(*ports)),
                                      HostStatsTable(std::move(*host_stats), ncpus),
                                      HostSynTable(std::move(*host_syns), ncpus),
                                      std::move(*hint),
                                      SourceListTable(std::move(*list4), std::move(*list6),
                                                      std::move(*hits), std::move(*bcfg2), ncpus),
                                      SynBudgetTable(std::move(*bcfg), std::move(*budget), ncpus),
                                      std::move(*candidates)});
  fp.tables_->flows.set_hint(&fp.tables_->flow_hint);
  return fp;
}

XdpFastpath::XdpFastpath(XdpFastpath&& other) noexcept { *this = std::move(other); }

XdpFastpath& XdpFastpath::operator=(XdpFastpath&& other) noexcept {
  if (this == &other) return *this;
  destroy();
  skel_ = std::exchange(other.skel_, nullptr);
  tables_ = std::move(other.tables_);
  pin_lock_ = std::move(other.pin_lock_);
  pin_dir_ = std::move(other.pin_dir_);
  adopted_ = std::move(other.adopted_);
  warnings_ = std::move(other.warnings_);
  prog_id_ = std::exchange(other.prog_id_, 0);
  ifindex_ = std::exchange(other.ifindex_, 0);
  attach_flags_ = std::exchange(other.attach_flags_, 0);
  detach_on_destroy_ = other.detach_on_destroy_;
  return *this;
}

XdpFastpath::~XdpFastpath() { destroy(); }

void XdpFastpath::destroy() noexcept {
  if (skel_ != nullptr && detach_on_destroy_ && ifindex_ != 0) (void)detach();
  tables_.reset();
  if (skel_ != nullptr) fastpath_bpf__destroy(skel_);
  skel_ = nullptr;
  pin_lock_.reset();
  ifindex_ = 0;
}

int XdpFastpath::program_fd() const noexcept {
  return skel_ ? bpf_program__fd(skel_->progs.sw_fastpath) : -1;
}

Result<AttachMode> XdpFastpath::attach(int ifindex, const AttachOptions& opts) {
  const std::string ifname = ifname_of(ifindex);
  if (ifindex_ != 0) {
    return logic_error("attaching " + std::string(kProgramName) + " to " + ifname +
                       ": already attached to " + ifname_of(ifindex_) + "; detach first");
  }
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  if (int ret = bpf_xdp_query(ifindex, 0, &query); ret < 0) {
    return os_error(err_of(ret), "querying XDP programs on " + ifname,
                    err_of(ret) == ENODEV ? "no such interface" : std::string{});
  }

  if (query.attach_mode == XDP_ATTACHED_MULTI || query.attach_mode == XDP_ATTACHED_HW) {
    return logic_error(ifname + " runs several or offloaded XDP programs (prog id " +
                       std::to_string(query.prog_id) +
                       "); remove them (ip link set dev <if> xdp off; xdp-loader unload --all)");
  }

  const int prog_fd = program_fd();
  if (query.attach_mode == XDP_ATTACHED_DRV || query.attach_mode == XDP_ATTACHED_SKB) {
    // Something is attached: replace it atomically (XDP_FLAGS_REPLACE against its fd), in the
    // mode it runs in: switching modes needs a detach, i.e. a gap in forwarding.
    UniqueFd old(bpf_prog_get_fd_by_id(query.prog_id));
    if (!old.valid()) return os_error(errno, "opening XDP program id " + std::to_string(query.prog_id) + " on " + ifname);
    auto info = prog_info(old.get(), "the XDP program on " + ifname);
    if (!info) return info.error();
    const bool ours = std::strncmp(info->name, kProgramName, sizeof(info->name)) == 0;
    if (!ours && !opts.replace_foreign) {
      return logic_error(ifname + " already runs XDP program '" + std::string(info->name) +
                         "' (id " + std::to_string(query.prog_id) +
                         "); detach it (ip link set dev <if> xdp off) or allow replacing it");
    }
    const bool drv = query.attach_mode == XDP_ATTACHED_DRV;
    if ((drv && opts.mode == AttachMode::generic) || (!drv && opts.mode == AttachMode::native)) {
      return logic_error(ifname + " runs XDP in " + (drv ? "native" : "generic") +
                         " mode; switching to the requested mode needs a detach first");
    }
    const std::uint32_t mode_flag = drv ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    LIBBPF_OPTS(bpf_xdp_attach_opts, attach_opts, .old_prog_fd = old.get());
    if (int ret = bpf_xdp_attach(ifindex, prog_fd, mode_flag | XDP_FLAGS_REPLACE, &attach_opts);
        ret < 0) {
      return os_error(err_of(ret), "replacing XDP program id " + std::to_string(query.prog_id) +
                                       " on " + ifname);
    }
    ifindex_ = ifindex;
    attach_flags_ = mode_flag;
    detach_on_destroy_ = opts.detach_on_destroy;
    return drv ? AttachMode::native : AttachMode::generic;
  }

  // Nothing attached. UPDATE_IF_NOEXIST: never clobber a program attached meanwhile.
  int native_err = 0;
  if (opts.mode != AttachMode::generic) {
    int ret = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
                             nullptr);
    if (ret == 0) {
      ifindex_ = ifindex;
      attach_flags_ = XDP_FLAGS_DRV_MODE;
      detach_on_destroy_ = opts.detach_on_destroy;
      return AttachMode::native;
    }
    native_err = err_of(ret);
    if (opts.mode == AttachMode::native) {
      return os_error(native_err, "attaching XDP program in native mode to " + ifname,
                      "the driver may lack XDP support; allow generic mode");
    }
  }
  int ret = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
                           nullptr);
  if (ret < 0) {
    std::string what = "attaching XDP program in generic mode to " + ifname;
    if (native_err != 0) what += " (native mode failed first: " + std::string(std::strerror(native_err)) + ")";
    return os_error(err_of(ret), what);
  }
  ifindex_ = ifindex;
  attach_flags_ = XDP_FLAGS_SKB_MODE;
  detach_on_destroy_ = opts.detach_on_destroy;
  return AttachMode::generic;
}

Result<void> XdpFastpath::detach() {
  if (ifindex_ == 0) return {};
  const int ifindex = std::exchange(ifindex_, 0);
  // REPLACE against our own fd: detach only if the attached program is still ours.
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = program_fd());
  int ret = bpf_xdp_detach(ifindex, attach_flags_ | XDP_FLAGS_REPLACE, &opts);
  const int err = err_of(ret);
  if (err == 0 || err == ENODEV || err == EEXIST) return {};  // gone, or replaced by another
  return os_error(err, "detaching XDP program from " + ifname_of(ifindex));
}

Result<void> XdpFastpath::unpin() {
  if (pin_dir_.empty()) return {};
  for (const char* name : {"sw_hosts", "sw_flows", "sw_outbound", "sw_outbound_unverified",
                           "sw_outbound_keys", "sw_stats", "sw_settings", "sw_host_cookies",
                           "sw_cookie_ports", "sw_list_v4", "sw_list_v6", "sw_budget_cfg"}) {
    const std::string path = pin_dir_ + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return os_error(errno, "unpinning " + path);
  }
  if (::rmdir(pin_dir_.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
    return os_error(errno, "removing pin directory " + pin_dir_);
  }
  // The default layout <bpffs>/synwarden/<interface>: the shared parent the load created goes
  // too once empty (pins of another interface's daemon or of the agent keep it: ENOTEMPTY).
  const std::string shared = default_pin_dir("");
  if (pin_dir_.size() > shared.size() && pin_dir_.compare(0, shared.size(), shared) == 0 &&
      pin_dir_.find('/', shared.size()) == std::string::npos) {
    const std::string parent = shared.substr(0, shared.size() - 1);
    if (::rmdir(parent.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
      return os_error(errno, "removing pin directory " + parent);
    }
  }
  return {};
}

}  // namespace synwarden::dataplane
