#include "stamp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <thread>

#include "host_bpf_util.h"
#include "host_stamp.skel.h"
#include "synwarden/unique_fd.h"

namespace synwarden {
namespace {

using host_bpf::errno_text;

#define SW_STAMP_COUNTER_LABEL(name, label, help) label,
constexpr const char* kCounterNames[] = {SW_STAMP_COUNTER_LIST(SW_STAMP_COUNTER_LABEL)};
#undef SW_STAMP_COUNTER_LABEL
static_assert(std::size(kCounterNames) == SW_SC_COUNT);

StampCounters sum(int fd) {
  StampCounters out{};
  try {
    host_bpf::sum_percpu_counters(fd, SW_SC_COUNT, out.data());
  } catch (const std::runtime_error& e) {
    throw StampProgramError(std::string("stamp program counters: ") + e.what());
  }
  return out;
}

// Restores the hint SYN-ACKs of already stamped SYNs need: at most this long after the egress
// program is gone, the ingress one still gives their TSecr back.
constexpr auto kIngressGrace = std::chrono::milliseconds(1500);

}  // namespace

const char* stamp_counter_name(size_t index) noexcept {
  return index < SW_SC_COUNT ? kCounterNames[index] : "unknown";
}

StampProgram::StampProgram(const StampProgramOptions& options) : options_(options) {
  if (options_.syn_table_size == 0) throw StampProgramError("stamp SYN table size is 0");
  std::string log;
  host_bpf::LibbpfLogCapture capture(log);
  skel_ = host_stamp_bpf__open();
  if (skel_ == nullptr) {
    throw StampProgramError("cannot open the outbound stamp BPF programs: " + errno_text(errno));
  }
  try {
    if (const int err = bpf_map__set_max_entries(skel_->maps.sw_stamp_syns, options_.syn_table_size)) {
      throw StampProgramError("cannot size the stamp SYN table: " + errno_text(err));
    }
    std::string key_pin, syns_pin;
    if (!options_.pin_dir.empty()) {
      host_bpf::prepare_pin_dir(options_.pin_dir);
      key_pin = options_.pin_dir + "/" + SW_STAMP_KEY_PIN_NAME;
      syns_pin = options_.pin_dir + "/" + SW_STAMP_SYNS_PIN_NAME;
      for (auto [map, path] : {std::pair{skel_->maps.sw_stamp_key, &key_pin},
                               std::pair{skel_->maps.sw_stamp_syns, &syns_pin}}) {
        if (const int err = bpf_map__set_pin_path(map, path->c_str())) {
          throw StampProgramError("cannot set pin path " + *path + ": " + errno_text(err));
        }
      }
    }
    if (const int err = host_stamp_bpf__load(skel_)) {
      throw StampProgramError("the kernel refused the outbound stamp programs (" +
                              errno_text(err) + "); libbpf said:\n" + host_bpf::log_tail(log));
    }
    if (!options_.pin_dir.empty()) {
      host_bpf::restrict_pin(key_pin);
      host_bpf::restrict_pin(syns_pin);
      const std::string counters_pin = options_.pin_dir + "/" + SW_STAMP_COUNTERS_PIN_NAME;
      ::unlink(counters_pin.c_str());  // a previous agent's counters: ours start from zero
      if (const int err = bpf_map__pin(skel_->maps.sw_stamp_counters, counters_pin.c_str())) {
        throw StampProgramError("cannot pin counters at " + counters_pin + ": " + errno_text(err));
      }
      host_bpf::restrict_pin(counters_pin);
    }
    const uint32_t zero = 0;
    sw_stamp_key raw{};
    if (bpf_map__lookup_elem(skel_->maps.sw_stamp_key, &zero, sizeof zero, &raw, sizeof raw, 0) != 0) {
      throw StampProgramError("cannot read the stamp key map: " + errno_text(errno));
    }
    adopted_key_ = (raw.k0 | raw.k1) != 0;
    if (!adopted_key_) {
      while ((raw.k0 | raw.k1) == 0) randombytes_buf(&raw, sizeof raw);
      if (bpf_map__update_elem(skel_->maps.sw_stamp_key, &zero, sizeof zero, &raw, sizeof raw,
                               BPF_ANY) != 0) {
        const int err = errno;
        sodium_memzero(&raw, sizeof raw);
        throw StampProgramError("cannot write the stamp key: " + errno_text(err));
      }
    }
    key_ = SipKey{raw.k0, raw.k1};
    sodium_memzero(&raw, sizeof raw);
  } catch (const std::runtime_error& e) {
    host_stamp_bpf__destroy(skel_);
    skel_ = nullptr;
    if (dynamic_cast<const StampProgramError*>(&e) != nullptr) throw;
    throw StampProgramError(e.what());
  }
}

StampProgram::~StampProgram() {
  detach();
  sodium_memzero(&key_, sizeof key_);
  if (skel_ != nullptr) host_stamp_bpf__destroy(skel_);
}

int StampProgram::egress_fd() const noexcept { return bpf_program__fd(skel_->progs.sw_stamp_egress); }
int StampProgram::ingress_fd() const noexcept {
  return bpf_program__fd(skel_->progs.sw_stamp_ingress);
}
int StampProgram::syn_table_fd() const noexcept { return bpf_map__fd(skel_->maps.sw_stamp_syns); }

void StampProgram::attach() {
  std::string log;
  host_bpf::LibbpfLogCapture capture(log);
  for (const std::string& name : options_.interfaces) {
    const int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
    if (ifindex == 0) throw StampProgramError("cannot attach to interface " + name + ": no such interface");
    // Ingress first: from the moment a SYN leaves stamped, its SYN-ACK must be restored.
    for (auto [where, fd] : {std::pair{BPF_TC_INGRESS, ingress_fd()}, std::pair{BPF_TC_EGRESS, egress_fd()}}) {
      bpf_tc_hook hook = host_bpf::tc_hook(ifindex, where);
      const int created = bpf_tc_hook_create(&hook);
      if (created != 0 && created != -EEXIST) {
        throw StampProgramError("cannot add the clsact qdisc to " + name + ": " + errno_text(created));
      }
      bpf_tc_opts opts = host_bpf::tc_filter(kTcHandle, kTcPriority, fd);
      opts.flags = BPF_TC_F_REPLACE;
      if (const int err = bpf_tc_attach(&hook, &opts)) {
        throw StampProgramError("cannot attach the outbound stamp program to tc " +
                                std::string(where == BPF_TC_INGRESS ? "ingress" : "egress") +
                                " of " + name + ": " + errno_text(err) + "\n" +
                                host_bpf::log_tail(log));
      }
    }
    attached_ifindexes_.push_back(ifindex);
  }
}

void StampProgram::detach() noexcept {
  if (attached_ifindexes_.empty()) return;
  for (auto where : {BPF_TC_EGRESS, BPF_TC_INGRESS}) {
    for (int ifindex : attached_ifindexes_) {
      const bpf_tc_hook hook = host_bpf::tc_hook(ifindex, where);
      const bpf_tc_opts opts = host_bpf::tc_filter(kTcHandle, kTcPriority, 0);
      bpf_tc_detach(&hook, &opts);  // the clsact qdisc stays: others may use it
    }
    if (where == BPF_TC_EGRESS) std::this_thread::sleep_for(kIngressGrace);
  }
  attached_ifindexes_.clear();
  if (options_.pin_dir.empty()) return;
  // Detached for good (not kept for a restart): nothing of ours stays pinned.
  host_bpf::remove_pins(options_.pin_dir,
                        {SW_STAMP_KEY_PIN_NAME, SW_STAMP_SYNS_PIN_NAME, SW_STAMP_COUNTERS_PIN_NAME});
}

StampCounters StampProgram::counters() const {
  return sum(bpf_map__fd(skel_->maps.sw_stamp_counters));
}

StampCounters read_pinned_stamp_counters(const std::string& pin_dir) {
  const std::string path = pin_dir + "/" + SW_STAMP_COUNTERS_PIN_NAME;
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    throw StampProgramError("no outbound stamp counters pinned at " + path + " (" +
                            errno_text(errno) + "): is synwarden-agent running with outbound_stamp?");
  }
  const UniqueFd owned(fd);
  return sum(owned.get());
}

}  // namespace synwarden
