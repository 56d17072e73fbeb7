// Start-up helpers shared by the host's BPF owners (HostProgram, StampProgram): libbpf output
// capture for error messages, the root-only bpffs pin directory, tc hook/filter descriptions.
// Nothing here runs per packet.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <mutex>
#include <initializer_list>
#include <string>

namespace synwarden::host_bpf {

std::string errno_text(int err);

// While alive, libbpf's warnings and errors (verifier log, missing kfunc, netlink messages) are
// collected into `sink` instead of being printed; one capture at a time process-wide.
class LibbpfLogCapture {
 public:
  explicit LibbpfLogCapture(std::string& sink);
  ~LibbpfLogCapture();
  LibbpfLogCapture(const LibbpfLogCapture&) = delete;
  LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

 private:
  std::unique_lock<std::mutex> lock_;
  libbpf_print_fn_t previous_ = nullptr;
};

// The last lines of libbpf's output: the verifier's verdict sits at the end of its log.
std::string log_tail(const std::string& log);

// Mounts bpffs on /sys/fs/bpf if needed and creates `dir` (0700, root only). Throws
// std::runtime_error naming the problem.
void prepare_pin_dir(const std::string& dir);

// chmod 0600 of a pinned object. Throws std::runtime_error.
void restrict_pin(const std::string& path);

// After a detach for good: unlinks the pins `names` in `dir`, then removes `dir` and its parent
// when nothing else is left in them (a package purge checks that nothing stays behind).
void remove_pins(const std::string& dir, std::initializer_list<const char*> names);

bpf_tc_hook tc_hook(int ifindex, bpf_tc_attach_point where);
bpf_tc_opts tc_filter(uint32_t handle, uint32_t priority, int prog_fd);

// Sums a per-CPU u64 array map of `count` slots.
void sum_percpu_counters(int map_fd, uint32_t count, uint64_t* out);

}  // namespace synwarden::host_bpf
