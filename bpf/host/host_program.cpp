#include "host_program.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "host_bpf_util.h"
#include "host_cookie.skel.h"
#include "synwarden/unique_fd.h"

namespace synwarden {
namespace {

constexpr const char* kCounterPinName = "sw_host_counters";

using host_bpf::errno_text;
using host_bpf::LibbpfLogCapture;
using host_bpf::log_tail;

// Start-up helpers throw std::runtime_error; this class's callers expect HostProgramError.
template <class F>
void as_host_error(F&& f) {
  try {
    f();
  } catch (const HostProgramError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw HostProgramError(e.what());
  }
}

void to_raw(const SipKey& k, sw_sipkey& out) noexcept {
  out.k0 = k.k0;
  out.k1 = k.k1;
}
SipKey from_raw(const sw_sipkey& k) noexcept { return SipKey{k.k0, k.k1}; }

void to_raw(const HostKeySet& s, sw_agent_keyset& out) noexcept {
  to_raw(s.cookie_v4[0], out.cookie_v4[0]);
  to_raw(s.cookie_v4[1], out.cookie_v4[1]);
  to_raw(s.cookie_v6[0], out.cookie_v6[0]);
  to_raw(s.cookie_v6[1], out.cookie_v6[1]);
  to_raw(s.ts_key, out.ts_key);
  out.generation = s.generation;
  out.created_ns = s.created_ns;
  out.valid_until_ns = s.valid_until_ns;
}

HostKeySet from_raw(const sw_agent_keyset& s) noexcept {
  HostKeySet out;
  out.cookie_v4 = {from_raw(s.cookie_v4[0]), from_raw(s.cookie_v4[1])};
  out.cookie_v6 = {from_raw(s.cookie_v6[0]), from_raw(s.cookie_v6[1])};
  out.ts_key = from_raw(s.ts_key);
  out.generation = s.generation;
  out.created_ns = s.created_ns;
  out.valid_until_ns = s.valid_until_ns;
  return out;
}

bpf_tc_hook ingress_hook(int ifindex) { return host_bpf::tc_hook(ifindex, BPF_TC_INGRESS); }

bpf_tc_opts filter_opts(int prog_fd) {
  return host_bpf::tc_filter(HostProgram::kTcHandle, HostProgram::kTcPriority, prog_fd);
}

#define SW_HOST_COUNTER_LABEL(name, label, help) label,
constexpr const char* kCounterNames[] = {SW_HOST_COUNTER_LIST(SW_HOST_COUNTER_LABEL)};
#undef SW_HOST_COUNTER_LABEL
static_assert(std::size(kCounterNames) == SW_HC_COUNT);

HostCounters sum_counters(int map_fd) {
  HostCounters out{};
  as_host_error([&] { host_bpf::sum_percpu_counters(map_fd, SW_HC_COUNT, out.data()); });
  return out;
}

}  // namespace

const char* host_counter_name(size_t index) noexcept {
  return index < SW_HC_COUNT ? kCounterNames[index] : "unknown";
}

HostProgram::HostProgram(const HostProgramOptions& options) : options_(options) {
  if (options_.ports.empty()) {
    throw HostProgramError("no listening ports configured: the host program would validate nothing");
  }
  if (options_.ports.size() > SW_HOST_MAX_PORTS) {
    throw HostProgramError("too many ports (" + std::to_string(options_.ports.size()) +
                           "); the host program supports " + std::to_string(SW_HOST_MAX_PORTS));
  }
  std::string log;
  {
    LibbpfLogCapture capture(log);
    skel_ = host_cookie_bpf__open();
    if (skel_ == nullptr) {
      throw HostProgramError("cannot open the host BPF program: " + errno_text(errno) + "\n" +
                             log_tail(log));
    }
    std::string state_pin;
    if (!options_.pin_dir.empty()) {
      as_host_error([&] { host_bpf::prepare_pin_dir(options_.pin_dir); });
      state_pin = options_.pin_dir + "/" + SW_AGENT_STATE_PIN_NAME;
      reused_pinned_state_ = ::access(state_pin.c_str(), F_OK) == 0;
      if (const int err = bpf_map__set_pin_path(skel_->maps.sw_agent_state, state_pin.c_str())) {
        host_cookie_bpf__destroy(skel_);
        throw HostProgramError("cannot set pin path " + state_pin + ": " + errno_text(err));
      }
    }
    if (const int err = host_cookie_bpf__load(skel_)) {
      host_cookie_bpf__destroy(skel_);
      skel_ = nullptr;
      throw HostProgramError(
          "the kernel refused the host BPF program (" + errno_text(err) +
          "). It needs Linux >= 6.9 with BTF and the bpf_sk_assign_tcp_reqsk kfunc "
          "(CONFIG_SYN_COOKIES); on older kernels use mode \"kmod\". libbpf said:\n" +
          log_tail(log));
    }
  }
  try {
    if (!options_.pin_dir.empty()) {
      pin_map_file(SW_AGENT_STATE_PIN_NAME);
      const std::string counters_pin = options_.pin_dir + "/" + kCounterPinName;
      ::unlink(counters_pin.c_str());   // a previous agent's counters: ours start from zero
      if (const int err = bpf_map__pin(skel_->maps.sw_host_counters, counters_pin.c_str())) {
        throw HostProgramError("cannot pin counters at " + counters_pin + ": " + errno_text(err));
      }
      pin_map_file(kCounterPinName);
    }
    const uint8_t one = 1;
    for (uint16_t port : options_.ports) {
      const uint16_t key = htons(port);
      if (bpf_map__update_elem(skel_->maps.sw_host_ports, &key, sizeof key, &one, sizeof one,
                               BPF_ANY) != 0) {
        throw HostProgramError("cannot add port " + std::to_string(port) +
                               " to the host program: " + errno_text(errno));
      }
    }
  } catch (...) {
    host_cookie_bpf__destroy(skel_);
    skel_ = nullptr;
    throw;
  }
}

HostProgram::~HostProgram() {
  detach();
  if (skel_ != nullptr) host_cookie_bpf__destroy(skel_);
}

void HostProgram::pin_map_file(const char* name) {
  as_host_error([&] { host_bpf::restrict_pin(options_.pin_dir + "/" + name); });
}

int HostProgram::program_fd() const noexcept {
  return bpf_program__fd(skel_->progs.sw_host_ingress);
}

std::optional<HostKeyState> HostProgram::read_state() const {
  const uint32_t key = 0;
  sw_agent_state raw{};
  if (bpf_map__lookup_elem(skel_->maps.sw_agent_state, &key, sizeof key, &raw, sizeof raw, 0) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw HostProgramError("cannot read the pinned key state: " + errno_text(errno));
  }
  HostKeyState out;
  out.current = from_raw(raw.current);
  out.previous = from_raw(raw.previous);
  out.rcv_wscale = raw.rcv_wscale;
  out.tcp_timestamps = raw.tcp_timestamps;
  explicit_bzero(&raw, sizeof raw);
  return out;
}

void HostProgram::write_state(const HostKeyState& state) {
  const uint32_t key = 0;
  sw_agent_state raw{};
  to_raw(state.current, raw.current);
  to_raw(state.previous, raw.previous);
  raw.rcv_wscale = state.rcv_wscale;
  raw.tcp_timestamps = state.tcp_timestamps;
  const int rc =
      bpf_map__update_elem(skel_->maps.sw_agent_state, &key, sizeof key, &raw, sizeof raw, BPF_ANY);
  const int err = errno;
  explicit_bzero(&raw, sizeof raw);
  if (rc != 0) throw HostProgramError("cannot write the key state: " + errno_text(err));
}

void HostProgram::attach() {
  // bpf_tc_hook_create() on an existing clsact qdisc is expected to fail (EEXIST), and libbpf
  // prints the kernel's message for it: keep libbpf's output for real errors only.
  std::string log;
  LibbpfLogCapture capture(log);
  for (const std::string& name : options_.interfaces) {
    const int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
    if (ifindex == 0) {
      throw HostProgramError("cannot attach to interface " + name + ": no such interface");
    }
    bpf_tc_hook hook = ingress_hook(ifindex);
    const int created = bpf_tc_hook_create(&hook);
    if (created != 0 && created != -EEXIST) {
      throw HostProgramError("cannot add the clsact qdisc to " + name + ": " + errno_text(created));
    }
    bpf_tc_opts opts = filter_opts(program_fd());
    opts.flags = BPF_TC_F_REPLACE;
    if (const int err = bpf_tc_attach(&hook, &opts)) {
      throw HostProgramError("cannot attach the host program to tc ingress of " + name + ": " +
                             errno_text(err) + "\n" + log_tail(log));
    }
    attached_ifindexes_.push_back(ifindex);
  }
}

void HostProgram::detach() noexcept {
  if (attached_ifindexes_.empty()) return;  // never attached, or kept for a restart
  for (int ifindex : attached_ifindexes_) {
    const bpf_tc_hook hook = ingress_hook(ifindex);
    const bpf_tc_opts opts = filter_opts(0);
    // The clsact qdisc stays: other software may have filters on it too.
    bpf_tc_detach(&hook, &opts);
  }
  attached_ifindexes_.clear();
  // Detached for good: the key state and counters are not left pinned (the next agent starts
  // with keys of its own, as after a reboot).
  if (!options_.pin_dir.empty()) {
    host_bpf::remove_pins(options_.pin_dir, {SW_AGENT_STATE_PIN_NAME, kCounterPinName});
  }
}

HostCounters HostProgram::counters() const {
  return sum_counters(bpf_map__fd(skel_->maps.sw_host_counters));
}

std::vector<sw_host_decision> HostProgram::last_decisions() const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) throw HostProgramError("cannot count possible CPUs: " + errno_text(ncpu));
  std::vector<sw_host_decision> out(static_cast<size_t>(ncpu));
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sw_host_last), &key, out.data()) != 0) {
    throw HostProgramError("cannot read the last decisions: " + errno_text(errno));
  }
  return out;
}

HostCounters read_pinned_counters(const std::string& pin_dir) {
  const std::string path = pin_dir + "/" + kCounterPinName;
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    throw HostProgramError("no host program counters pinned at " + path + " (" +
                           errno_text(errno) + "): is synwarden-agent running in bpf mode?");
  }
  const UniqueFd owned(fd);
  return sum_counters(owned.get());
}

}  // namespace synwarden
